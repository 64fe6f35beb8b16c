"""References catch a mistyped or swapped digit; PINs are keyed slow hashes only."""

from __future__ import annotations

from ivr.cases.reference import PIN_DIGITS, PinHasher, damm_digit, is_valid_reference, new_pin, new_reference


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


def test_pins_are_random_and_only_keyed_hashes_are_kept() -> None:
    pins = {new_pin() for _ in range(200)}
    assert len(pins) > 150 and all(len(p) == PIN_DIGITS == 6 and p.isdigit() for p in pins)
    hasher = PinHasher({"k1": b"k" * 32})
    stored = hasher.hash("481516")
    assert "481516" not in stored and stored.startswith("pin2:k1:$argon2id$")
    assert hasher.verify(stored, "481516") and not hasher.verify(stored, "481517")
    assert not hasher.verify(None, "481516") and not hasher.verify("garbage", "481516")
