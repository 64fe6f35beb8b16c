"""Case references callers can key in, and PINs stored only as keyed slow hashes.

A reference is 7 random digits plus a Damm check digit: the Damm algorithm catches every
single wrong digit and every swap of two neighbouring digits, the two mistakes people make
when they write down or key in a number heard on the phone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ivr.crypto import derive_key

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


PIN_DIGITS = 6
"""Digits in a new PIN: a million choices, so the lock-outs leave a guesser about one chance in 200,000."""


def new_pin(digits: int = PIN_DIGITS) -> str:
    """A random PIN from the OS's secure source."""
    return "".join(str(secrets.randbelow(10)) for _ in range(digits))


KEYED_PREFIX = "pin2"
"""Marks a keyed hash: `pin2:<key id>:<Argon2id of HMAC-SHA256(pin key, PIN)>`. A bare `$argon2id$...`
is a hash from before keying (version 1); it still verifies, and is replaced at the next right PIN."""


class PinHasher:
    """Keyed slow hashes of PINs, so that a copy of the database alone reveals no PIN.

    A 6-digit PIN has only a million values: an Argon2 hash alone falls to a few cores in hours.
    Each PIN is first keyed with HMAC-SHA256 under a key derived (HKDF) from the data key, which
    lives in the environment, never in the database; only then comes the slow hash. Every
    verification, of a known reference, an unknown one or a locked one, costs one HMAC and one
    Argon2 check, so timing tells nothing.
    """

    def __init__(self, data_keys: Mapping[str, bytes]) -> None:
        if not data_keys:
            raise ValueError("at least one data key is needed")
        self.current_key_id = next(iter(data_keys))
        self._pin_keys = {key_id: derive_key(key, "ivr pin hmac v2") for key_id, key in data_keys.items()}
        self._dummy = self.hash(new_pin(8))

    def hash(self, pin: str) -> str:
        """The keyed Argon2id hash of a PIN, with the id of the key it was keyed with."""
        keyed = self._keyed(self.current_key_id, pin)
        return f"{KEYED_PREFIX}:{self.current_key_id}:{_hasher().hash(keyed)}"

    def verify(self, pin_hash: str | None, pin: str) -> bool:
        """Whether the PIN matches; a missing, unreadable or unknown-key hash costs the same and is False."""
        key_id, slow_hash = self._parse(pin_hash)
        if slow_hash is None:
            self._slow_check(self._dummy.split(":", 2)[2], self._keyed(self.current_key_id, pin))
            return False
        if key_id is None:  # version 1: Argon2id of the bare PIN
            self._keyed(self.current_key_id, pin)  # the same work as a keyed check, so timing tells nothing
            return self._slow_check(slow_hash, pin.encode())
        return self._slow_check(slow_hash, self._keyed(key_id, pin))

    def needs_rehash(self, pin_hash: str | None) -> bool:
        """True for an unkeyed (version 1) hash or one keyed with an older key: hash again at the next right PIN."""
        key_id, slow_hash = self._parse(pin_hash)
        return slow_hash is not None and key_id != self.current_key_id

    def _parse(self, pin_hash: str | None) -> tuple[str | None, str | None]:
        if not pin_hash:
            return None, None
        if pin_hash.startswith("$argon2"):
            return None, pin_hash
        prefix, _, rest = pin_hash.partition(":")
        key_id, _, slow_hash = rest.partition(":")
        if prefix != KEYED_PREFIX or key_id not in self._pin_keys or not slow_hash:
            return None, None
        return key_id, slow_hash

    def _keyed(self, key_id: str, pin: str) -> bytes:
        return hmac.new(self._pin_keys[key_id], pin.encode(), hashlib.sha256).digest()

    def _slow_check(self, slow_hash: str, secret: bytes) -> bool:
        try:
            return _hasher().verify(slow_hash, secret)
        except (VerificationError, InvalidHashError):
            return False


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # Argon2id; a PIN has little entropy, so the key and the lock-outs (not the hash alone) stop guessing.
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
