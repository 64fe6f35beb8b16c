"""Encryption at rest and sealed call state."""

from __future__ import annotations

import os
import threading

import pytest

from ivr.crypto import NONCE_BYTES, Cipher, DecryptionError, NonceSource, Sealer


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


def test_nonces_never_repeat_across_refills_and_threads() -> None:
    source = NonceSource(batch_bytes=60)  # five nonces a batch: many refills
    seen: list[bytes] = []

    def take_many() -> None:
        for _ in range(500):
            seen.append(source.take(NONCE_BYTES))

    threads = [threading.Thread(target=take_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 2000 and len(set(seen)) == 2000
    assert all(len(nonce) == NONCE_BYTES for nonce in seen)
    assert len(source.take(100)) == 100  # more than a batch at once


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_never_reuses_its_parents_nonces() -> None:
    # gunicorn forks its workers from one master: two workers sealing with the same nonce and key
    # would break AES-GCM, so a child must not hand out what the parent had buffered.
    source = NonceSource()
    source.take(NONCE_BYTES)  # the parent now holds a buffer of future nonces
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next nonces and leave at once
        try:
            os.write(write_end, b"".join(source.take(NONCE_BYTES) for _ in range(3)))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = b"".join(source.take(NONCE_BYTES) for _ in range(3))
    assert len(child) == len(parent) == 3 * NONCE_BYTES
    child_nonces = {child[i : i + NONCE_BYTES] for i in range(0, len(child), NONCE_BYTES)}
    parent_nonces = {parent[i : i + NONCE_BYTES] for i in range(0, len(parent), NONCE_BYTES)}
    assert not child_nonces & parent_nonces
