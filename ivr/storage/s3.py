"""Recordings as encrypted objects in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...).

boto3 is an optional extra: ``pip install 'hotline-1424-ivr[s3]'``. Credentials and region come
from boto3's usual sources (AWS_* variables, instance profile); we only pass the endpoint URL.
Tested against moto's real HTTP S3 server, not against AWS itself.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

from ivr.crypto import Cipher
from ivr.storage import (
    RecordingMissing,
    StoredObject,
    blob_context,
    check_key,
    reseal,
    same_content,
    seal,
)

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


class S3RecordingStore:
    """Encrypted objects in `bucket`, one per key, under an optional `prefix`.

    A PUT is atomic in S3 (an object is all there or not there), so no temp object is needed.
    In a versioned bucket ``delete`` leaves older versions behind: set a lifecycle rule that
    expires noncurrent versions, or use an unversioned bucket.
    """

    def __init__(self, client: Any, bucket: str, cipher: Cipher, *, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.cipher = cipher
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _get_or_none(self, key: str) -> bytes | None:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as error:
            if _is_missing(error):
                return None
            raise
        body: bytes = reply["Body"].read()
        return body

    def put(self, key: str, audio: bytes) -> StoredObject:
        """Store `audio` under `key`; the same content again is a no-op, other content conflicts."""
        existing = self._get_or_none(key)
        if existing is not None:
            return same_content(self.cipher, key, existing, audio)
        blob, stored = seal(self.cipher, key, audio)
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._name(key),
            Body=blob,
            ContentType="application/octet-stream",  # ciphertext; no audio type, no metadata
        )
        return stored

    def open(self, key: str) -> BinaryIO:
        """The decrypted recording; RecordingMissing if absent, DecryptionError if tampered with."""
        blob = self._get_or_none(key)
        if blob is None:
            raise RecordingMissing(key)
        return io.BytesIO(self.cipher.decrypt(blob, context=blob_context(key)))

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as error:
            if _is_missing(error):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        """Remove the object; S3 treats a missing key as deleted already."""
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def rekey(self, key: str) -> bool:
        """Re-encrypt the object with the current key (one PUT replaces it whole); False if it already was."""
        blob = self._get_or_none(key)
        if blob is None:
            raise RecordingMissing(key)
        fresh = reseal(self.cipher, key, blob)
        if fresh is None:
            return False
        self.client.put_object(
            Bucket=self.bucket, Key=self._name(key), Body=fresh, ContentType="application/octet-stream"
        )
        return True

    def keys(self) -> Iterator[str]:
        """Every stored key under the prefix, following S3's pagination."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix) :]


def _is_missing(error: Exception) -> bool:
    """Whether a botocore ClientError means "no such object" (without importing botocore here)."""
    response = getattr(error, "response", None)
    code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    return code in _MISSING_CODES


def make_s3_client(endpoint_url: str = "") -> Any:
    """A boto3 S3 client; an empty endpoint means AWS itself."""
    try:
        import boto3
    except ImportError as error:
        raise RuntimeError("IVR_RECORDING_STORE=s3 needs boto3: pip install 'hotline-1424-ivr[s3]'") from error
    return boto3.client("s3", endpoint_url=endpoint_url or None)
