"""Encryption at rest (contacts, recordings) and sealing of call state for webhook URLs.

AES-256-GCM from `cryptography`. Every ciphertext at rest starts with the id of the key that
made it, so keys can rotate: new data uses the current key, old data stays readable.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class NonceSource:
    """Random GCM nonces from the kernel, fetched a few kilobytes at a time.

    One getrandom() per webhook cost more than all the rest of sealing the call state: about
    15 µs on the virtual machines we measured (bench/README.md), against 1 µs for AES-GCM
    itself. Nonces are public (every token carries its own), so holding the next ones in
    memory gives nothing away; what matters is that no two ever repeat under one key. A forked
    child must therefore never hand out its parent's buffered bytes: it starts empty.
    """

    _lock: threading.Lock
    _buffer: bytes
    _used: int

    def __init__(self, batch_bytes: int = 4096) -> None:
        self._batch_bytes = batch_bytes
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def take(self, size: int) -> bytes:
        """`size` fresh random bytes, never handed out before in this process or any other."""
        with self._lock:
            if self._used + size > len(self._buffer):
                self._buffer, self._used = os.urandom(max(self._batch_bytes, size)), 0
            start, self._used = self._used, self._used + size
            return self._buffer[start : self._used]

    def _forget(self) -> None:
        # A new lock too: another thread may have held the old one when the process forked.
        self._lock = threading.Lock()
        self._buffer, self._used = b"", 0


_NONCES = NonceSource()


class DecryptionError(Exception):
    """Ciphertext that was tampered with, or made with a key we no longer hold."""


class Cipher:
    """Encrypts with the current key and decrypts with any known key."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self.current_key_id = next(iter(keys))
        self._aead = {key_id: AESGCM(key) for key_id, key in keys.items()}

    def encrypt(self, plaintext: bytes, *, context: bytes = b"") -> bytes:
        """`key id length | key id | nonce | ciphertext+tag`; `context` must match on decrypt."""
        key_id = self.current_key_id.encode()
        nonce = _NONCES.take(NONCE_BYTES)
        sealed = self._aead[self.current_key_id].encrypt(nonce, plaintext, context)
        return bytes([len(key_id)]) + key_id + nonce + sealed

    def decrypt(self, blob: bytes, *, context: bytes = b"") -> bytes:
        """The plaintext; DecryptionError if the blob was altered or its key is unknown."""
        key_id, nonce, sealed = self.split(blob)
        aead = self._aead.get(key_id)
        if aead is None:
            raise DecryptionError(f"unknown key id {key_id!r}")
        try:
            return aead.decrypt(nonce, sealed, context)
        except InvalidTag:
            raise DecryptionError("ciphertext does not authenticate") from None

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        """The id of the key that encrypted `blob`."""
        return Cipher.split(blob)[0]

    @staticmethod
    def split(blob: bytes) -> tuple[str, bytes, bytes]:
        """Key id, nonce and sealed bytes of a blob."""
        if len(blob) < 2:
            raise DecryptionError("too short")
        size = blob[0]
        key_id = blob[1 : 1 + size].decode()
        nonce = blob[1 + size : 1 + size + NONCE_BYTES]
        return key_id, nonce, blob[1 + size + NONCE_BYTES :]


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so one secret never keys two different uses."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(secret)


class Sealer:
    """Seals small JSON values into URL-safe tokens (encrypted and authenticated)."""

    # Built once: json.dumps with options builds a new encoder on every call.
    _encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._aead = AESGCM(derive_key(secret, purpose))

    def seal(self, value: object, *, context: bytes = b"") -> str:
        """A URL-safe token; nothing inside is readable without the secret."""
        nonce = _NONCES.take(NONCE_BYTES)
        data = self._encode(value).encode()
        token = nonce + self._aead.encrypt(nonce, data, context)
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode()

    def unseal(self, token: str, *, context: bytes = b"") -> object:
        """The value sealed in `token`; DecryptionError if it was altered or sealed elsewhere."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return json.loads(self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context))
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("call state token does not authenticate") from exc


# ---------------------------------------------------------------- what the data key encrypts in the database


@dataclass(frozen=True)
class EncryptedColumn:
    """A column whose every value is a `Cipher` blob (key id first), so `ivr keys rotate` can re-encrypt it.

    The blob's associated data is `context_prefix`, followed by the row's `context_column` when one
    is named (a contact is bound to its call, so it cannot be pasted onto another row).
    """

    table: str
    column: str
    context_prefix: bytes
    context_column: str | None = None
    key_column: str = "id"  # the primary key, to update one row at a time

    def context(self, row: Mapping[str, object]) -> bytes:
        """The associated data for this column's value in `row` (which holds `context_column`)."""
        if self.context_column is None:
            return self.context_prefix
        return self.context_prefix + str(row[self.context_column]).encode()


def text_context(table: str, column: str) -> bytes:
    """Associated data of report text: a ciphertext only opens in the column it was written for."""
    return f"text:{table}.{column}".encode()


def _text(table: str, column: str, key_column: str = "id") -> EncryptedColumn:
    return EncryptedColumn(table, column, text_context(table, column), key_column=key_column)


# Every encrypted column in the database: the one list key rotation walks. Report text is sealed
# by its column type (ivr.encrypted_types); a test checks this list against the models.
ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn("calls", "contact_ciphertext", b"contact:", context_column="call_sid"),
    _text("transcripts", "text"),
    _text("transcripts", "segments"),  # JSON, encrypted whole
    _text("case_notes", "text"),
    _text("case_details", "reporter_message", key_column="case_id"),
    _text("transcript_versions", "text"),
    _text("saved_filters", "name"),
    _text("saved_filters", "query"),
    _text("thread_messages", "text"),
)
