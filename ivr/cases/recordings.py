"""Recordings for people: which version of a case's recording a person may hear.

The store itself is `ivr.storage`, shared with the workers; `ivr.audio_stream` serves the
chosen version over HTTP for the console and the API.
"""

from __future__ import annotations

from ivr.accounts import Principal
from ivr.models import Case, StoredRecording

ORIGINAL, DISGUISED = "original", "disguised"


class Unavailable(LookupError):
    """The requested version of this recording cannot be served; `code` is an i18n key."""

    def __init__(self, code: str, status: int = 404) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def is_voice_protected(case: Case, stored: StoredRecording) -> bool:
    """Anonymous callers' voices are disguised for everyone by default."""
    return case.is_anonymous or stored.disguised_key is not None


def default_version(case: Case, stored: StoredRecording | None) -> str:
    """The version a person hears without asking for more."""
    return DISGUISED if stored is not None and is_voice_protected(case, stored) else ORIGINAL


def storage_key(
    principal: Principal, case: Case, stored: StoredRecording | None, version: str, *, has_unlocked: bool
) -> str:
    """The store key of the version this person may hear; Unavailable (403/404/410) otherwise.

    The original voice of an anonymous caller needs a supervisor who has explicitly unlocked it;
    a missing disguised copy is never replaced by the original.
    """
    if stored is None:
        raise Unavailable("case.audio_missing")
    if stored.purged_at is not None:
        raise Unavailable("case.audio_purged", 410)
    if version not in (ORIGINAL, DISGUISED):
        raise Unavailable("error.404")
    if not is_voice_protected(case, stored):
        return stored.storage_key  # a named caller: there is only the original
    if version == DISGUISED:
        if not stored.disguised_key:
            raise Unavailable("case.disguise_missing")
        return stored.disguised_key
    if not principal.is_supervisor or not has_unlocked:
        raise Unavailable("error.403", 403)
    return stored.storage_key
