"""References catch a mistyped or swapped digit; PINs are slow hashes only."""

from __future__ import annotations

from ivr.case_reference import damm_digit, hash_pin, is_valid_reference, new_pin, new_reference, verify_pin


def test_reference_has_eight_digits_and_a_valid_check_digit() -> None:
    for _ in range(200):
        reference = new_reference()
        assert len(reference) == 8 and reference.isdigit() and reference[0] != "0"
        assert is_valid_reference(reference)


def test_every_single_wrong_digit_and_adjacent_swap_is_caught() -> None:
    for _ in range(50):
        reference = new_reference()
        for i in range(8):
            for digit in "0123456789":
                if digit != reference[i]:
                    assert not is_valid_reference(reference[:i] + digit + reference[i + 1 :])
        for i in range(7):
            swapped = reference[:i] + reference[i + 1] + reference[i] + reference[i + 2 :]
            if swapped != reference:
                assert not is_valid_reference(swapped)


def test_damm_known_value() -> None:
    assert damm_digit("572") == "4"  # the algorithm's published example


def test_pins_are_random_and_only_hashes_are_kept() -> None:
    pins = {new_pin() for _ in range(200)}
    assert len(pins) > 150 and all(len(p) == 4 and p.isdigit() for p in pins)
    stored = hash_pin("4815")
    assert "4815" not in stored and stored.startswith("$argon2id$")
    assert verify_pin(stored, "4815") and not verify_pin(stored, "4816")
    assert not verify_pin(None, "4815") and not verify_pin("garbage", "4815")
