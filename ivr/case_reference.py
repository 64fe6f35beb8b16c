"""Case references callers can key in, and PINs stored only as slow hashes.

A reference is 7 random digits plus a Damm check digit: the Damm algorithm catches every
single wrong digit and every swap of two neighbouring digits, the two mistakes people make
when they write down or key in a number heard on the phone.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

REFERENCE_BODY_DIGITS = 7

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_digit(digits: str) -> str:
    """The Damm check digit of a string of digits."""
    interim = 0
    for char in digits:
        interim = _DAMM[interim][int(char)]
    return str(interim)


def new_reference() -> str:
    """A fresh 8-digit reference; the first digit is never 0, so it cannot lose a leading zero."""
    body = str(secrets.randbelow(9) + 1) + "".join(
        str(secrets.randbelow(10)) for _ in range(REFERENCE_BODY_DIGITS - 1)
    )
    return body + damm_digit(body)


def is_valid_reference(value: str) -> bool:
    """True when `value` has the right length and its check digit holds."""
    return (
        len(value) == REFERENCE_BODY_DIGITS + 1
        and value.isdigit()
        and damm_digit(value) == "0"  # a Damm-checked number checks to 0
    )


def new_pin(digits: int = 4) -> str:
    """A random PIN from the OS's secure source."""
    return "".join(str(secrets.randbelow(10)) for _ in range(digits))


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # Argon2id; a PIN has little entropy, so lock-outs (not the hash alone) stop guessing.
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_pin(pin: str) -> str:
    """An Argon2id hash of the PIN; the PIN itself is never stored."""
    return _hasher().hash(pin)


def verify_pin(pin_hash: str | None, pin: str) -> bool:
    """Constant-time check of a PIN; a missing hash still costs a full hash, so timing tells nothing."""
    hasher = _hasher()
    try:
        return hasher.verify(pin_hash or _dummy_hash(), pin) and pin_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(new_pin(8))
