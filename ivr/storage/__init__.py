"""Where recordings live once they leave Twilio: encrypted at rest, behind one small Protocol.

Every backend keeps the same promises:

- ``put`` encrypts with AES-256-GCM (``ivr.crypto.Cipher``); the blob names its key id, so keys
  rotate and older blobs stay readable while their key is listed in the settings. The object's
  key is the AEAD context, so a blob copied under another key does not decrypt.
- A write is atomic: a reader, or a worker killed mid-write, never sees half an object under
  its final key.
- ``put`` is idempotent: the same content under an existing key is a no-op (RQ delivers at least
  once); different content raises ``RecordingConflict`` rather than overwrite evidence.
- Keys are opaque (``intake-42/original.wav``) and never carry caller data: no numbers, no names.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ivr.crypto import Cipher

if TYPE_CHECKING:
    from ivr.settings import Settings

# Path-like but tame: no "..", no leading dot (temp files start with one), no absolute paths.
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")
MAX_KEY_LENGTH = 200


class RecordingMissing(LookupError):
    """No recording is stored under this key."""


class RecordingConflict(Exception):
    """A different recording is already stored under this key."""


@dataclass(frozen=True)
class StoredObject:
    """What a store holds under one key: plaintext size and SHA-256, and the encrypting key id."""

    key: str
    size: int
    sha256_plain: str
    key_id: str


class RecordingStore(Protocol):
    """Encrypted, atomic, idempotent storage of recordings under opaque keys."""

    def put(self, key: str, audio: bytes) -> StoredObject:
        """Store `audio` under `key`; the same content again is a no-op, other content conflicts."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The decrypted recording; RecordingMissing if absent, DecryptionError if tampered with."""
        ...

    def exists(self, key: str) -> bool:
        """Whether something is stored under `key`."""
        ...

    def delete(self, key: str) -> None:
        """Remove the recording; deleting a missing key is a no-op."""
        ...

    def keys(self) -> Iterator[str]:
        """Every stored key, in no promised order."""
        ...

    def rekey(self, key: str) -> bool:
        """Re-encrypt the blob under `key` with the current key, atomically; False if it already was."""
        ...


def check_key(key: str) -> str:
    """`key` itself if it is a tame relative key; ValueError otherwise."""
    if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise ValueError("recording key must be relative segments of letters, digits, '.', '_' or '-'")
    return key


def blob_context(key: str) -> bytes:
    """The AEAD context of a blob: binds it to its key, so blobs cannot be swapped between keys."""
    return b"recording:" + key.encode()


def seal(cipher: Cipher, key: str, audio: bytes) -> tuple[bytes, StoredObject]:
    """The blob to write for `audio` under `key`, and its description."""
    blob = cipher.encrypt(audio, context=blob_context(key))
    return blob, describe(key, audio, cipher.current_key_id)


def describe(key: str, audio: bytes, key_id: str) -> StoredObject:
    """A StoredObject for plaintext `audio`."""
    return StoredObject(key, len(audio), hashlib.sha256(audio).hexdigest(), key_id)


def same_content(cipher: Cipher, key: str, existing_blob: bytes, audio: bytes) -> StoredObject:
    """The existing object if it decrypts to `audio`; RecordingConflict otherwise."""
    plain = cipher.decrypt(existing_blob, context=blob_context(key))
    if not hmac.compare_digest(hashlib.sha256(plain).digest(), hashlib.sha256(audio).digest()):
        raise RecordingConflict(f"another recording is already stored under {key}")
    return describe(key, plain, Cipher.key_id_of(existing_blob))


def reseal(cipher: Cipher, key: str, blob: bytes) -> bytes | None:
    """`blob` re-encrypted with the current key, or None if it already is (rotation is resumable)."""
    if Cipher.key_id_of(blob) == cipher.current_key_id:
        return None
    context = blob_context(key)
    return cipher.encrypt(cipher.decrypt(blob, context=context), context=context)


def make_recording_store(settings: Settings) -> RecordingStore:
    """The store the settings name: local files under recordings_dir, or an S3 bucket."""
    cipher = Cipher(settings.data_keys)
    if settings.recording_store == "s3":
        from ivr.storage.s3 import S3RecordingStore, make_s3_client

        if not settings.s3_bucket:
            raise ValueError("IVR_S3_BUCKET is required when IVR_RECORDING_STORE=s3")
        return S3RecordingStore(make_s3_client(settings.s3_endpoint_url), settings.s3_bucket, cipher)
    from ivr.storage.local import LocalRecordingStore

    return LocalRecordingStore(settings.recordings_dir, cipher,
                               time_resolution_s=settings.anonymous_time_resolution_minutes * 60)
