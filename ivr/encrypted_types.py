"""Column types that keep report text encrypted at rest: the database holds only ciphertext.

Transcripts, operators' notes and the message for the reporter are what a copy of the database
would betray, so they are sealed like the recordings (AES-256-GCM with the data key, the key id
at the head of every value). Sealing happens in the column type, so every reader and writer
(ORM or Core, console, API, follow-up call, workers) handles plain `str` and `list`, and no
code path can forget to encrypt.

The key travels with the engine (`make_engine(url, data_keys=...)`): an engine built without keys
refuses to read or write these columns rather than store plain text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ivr.crypto import Cipher, text_context

# One cipher per engine (each engine has a dialect of its own): two apps in one process, say
# before and after a key rotation, each keep their own keys.
_CIPHERS: WeakKeyDictionary[Dialect, Cipher] = WeakKeyDictionary()


def use_data_keys(engine: Engine, data_keys: Mapping[str, bytes]) -> None:
    """Let `engine` seal and open report text with these keys (the current one first)."""
    _CIPHERS[engine.dialect] = Cipher(data_keys)


def _cipher(dialect: Dialect) -> Cipher:
    cipher = _CIPHERS.get(dialect)
    if cipher is None:
        raise RuntimeError(
            "this engine holds no data key, so it can neither read nor write report text: "
            "build it with make_engine(url, data_keys=settings.data_keys)"
        )
    return cipher


class EncryptedText(TypeDecorator[str]):
    """A `str` column stored as a Cipher blob bound to its table and column."""

    impl = LargeBinary
    cache_ok = True
    is_encrypted = True  # what the registry test looks for

    def __init__(self, table: str, column: str) -> None:
        super().__init__()
        self.table, self.column = table, column
        self.context = text_context(table, column)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        """Plain text in, ciphertext to the database."""
        if value is None:
            return None
        return _cipher(dialect).encrypt(self.encode(value), context=self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        """Ciphertext from the database, plain text out."""
        if value is None:
            return None
        return self.decode(_cipher(dialect).decrypt(bytes(value), context=self.context))

    def encode(self, value: Any) -> bytes:
        """The plaintext bytes of a value."""
        return str(value).encode()

    def decode(self, plain: bytes) -> Any:
        """The value of plaintext bytes."""
        return plain.decode()


class EncryptedJSON(EncryptedText):
    """A JSON value (transcript segments) stored as one Cipher blob."""

    cache_ok = True

    def encode(self, value: Any) -> bytes:
        """Compact JSON; ensure_ascii off keeps Cyrillic short (it is encrypted anyway)."""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    def decode(self, plain: bytes) -> Any:
        """The JSON value."""
        return json.loads(plain)
