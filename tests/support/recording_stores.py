"""Recording stores for tests, local and S3 (moto), with raw access to what they wrote.

The fixtures built on these (`moto_endpoint`, `bucket`, `backend`) are in tests/conftest.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from ivr.storage.local import LocalRecordingStore
from ivr.storage.s3 import S3RecordingStore


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client on `endpoint` with moto's test credentials."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def new_bucket(endpoint: str) -> str:
    """A fresh, empty bucket's name."""
    name = f"recordings-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


class Backend:
    """A store plus raw access to what it wrote, so tests can read and tamper with blobs."""

    def __init__(self, make: Any, read_raw: Any, write_raw: Any, all_raw: Any) -> None:
        self.make = make  # cipher -> store
        self.read_raw = read_raw  # key -> bytes
        self.write_raw = write_raw  # (key, bytes) -> None
        self.all_raw = all_raw  # () -> bytes of everything stored


def local_backend(root: Path) -> Backend:
    """Encrypted files under `root`."""
    return Backend(
        lambda cipher: LocalRecordingStore(root, cipher),
        lambda key: (root / key).read_bytes(),
        lambda key, blob: (root / key).write_bytes(blob),
        lambda: b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()),
    )


def s3_backend(endpoint: str, name: str) -> Backend:
    """Encrypted objects in bucket `name` at `endpoint`."""
    client = s3_client(endpoint)

    def all_raw() -> bytes:
        listed = client.list_objects_v2(Bucket=name).get("Contents", [])
        return b"".join(client.get_object(Bucket=name, Key=o["Key"])["Body"].read() for o in listed)

    return Backend(
        lambda cipher: S3RecordingStore(s3_client(endpoint), name, cipher),
        lambda key: client.get_object(Bucket=name, Key=key)["Body"].read(),
        lambda key, blob: client.put_object(Bucket=name, Key=key, Body=blob),
        all_raw,
    )
