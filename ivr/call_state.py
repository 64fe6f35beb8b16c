"""Call state carried between webhooks, sealed (encrypted and authenticated) in the URL.

No Redis and no database are needed to answer the next request, and any web process can
answer it: the state survives a process dying between two requests. Sealing binds the token
to its CallSid, so a token lifted from one call cannot steer another.
"""

from __future__ import annotations

from dataclasses import fields

from ivr.crypto import DecryptionError, Sealer
from ivr.flow.engine import CallState

_FIELDS = [f.name for f in fields(CallState)]
# Fields added since v1 (region_heard, reads_reference, reference_read, ...) may be missing: the
# first fifteen are v1's and always present.
_REQUIRED = 15


class CallStateCodec:
    """Turns call state into URL tokens and back."""

    def __init__(self, secret: bytes) -> None:
        self._sealer = Sealer(secret, "ivr call state v1")

    def seal(self, state: CallState, call_sid: str) -> str:
        """A URL-safe token for this call's state; unreadable without the app's secret."""
        # getattr, not astuple: astuple deep-copies, and this runs several times per webhook.
        return self._sealer.seal([getattr(state, name) for name in _FIELDS], context=call_sid.encode())

    def unseal(self, token: str, call_sid: str) -> CallState:
        """The state in a token; DecryptionError if altered, foreign, or from another call."""
        values = self._sealer.unseal(token, context=call_sid.encode())
        # A token sealed before fields were added is shorter: the new fields (last) take defaults.
        if not isinstance(values, list) or not _REQUIRED <= len(values) <= len(_FIELDS):
            raise DecryptionError("call state token has the wrong shape")
        return CallState(*values)  # sealed in field order (seal)
