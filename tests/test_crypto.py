"""Encryption at rest and sealed call state."""

from __future__ import annotations

import pytest

from ivr.crypto import Cipher, DecryptionError, Sealer


def test_cipher_round_trip_with_context_and_rotation() -> None:
    old = Cipher({"k1": b"a" * 32})
    blob = old.encrypt(b"+77012345678", context=b"contact:CA1")
    assert b"7012345678" not in blob and Cipher.key_id_of(blob) == "k1"
    rotated = Cipher({"k2": b"b" * 32, "k1": b"a" * 32})
    assert rotated.decrypt(blob, context=b"contact:CA1") == b"+77012345678"
    assert Cipher.key_id_of(rotated.encrypt(b"x")) == "k2"
    with pytest.raises(DecryptionError):
        rotated.decrypt(blob, context=b"contact:CA2")  # moved to another row
    with pytest.raises(DecryptionError):
        Cipher({"k2": b"b" * 32}).decrypt(blob, context=b"contact:CA1")  # key gone
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError):
        rotated.decrypt(tampered, context=b"contact:CA1")


def test_sealed_state_is_opaque_and_bound_to_its_call() -> None:
    sealer = Sealer(b"s" * 32, "test")
    token = sealer.seal(["v1", "region", "77012345678"], context=b"CA1")
    assert "7701" not in token and token.isascii()
    assert sealer.unseal(token, context=b"CA1") == ["v1", "region", "77012345678"]
    with pytest.raises(DecryptionError):
        sealer.unseal(token, context=b"CA2")
    with pytest.raises(DecryptionError):
        Sealer(b"t" * 32, "test").unseal(token, context=b"CA1")
    with pytest.raises(DecryptionError):
        sealer.unseal("garbage", context=b"CA1")
