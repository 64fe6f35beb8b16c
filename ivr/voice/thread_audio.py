"""Audio messages for the reporter, served to Twilio's <Play> during that follow-up call only.

The URL carries a sealed token (encrypted and authenticated with the app's secret): the message
id, the CallSid of the follow-up call it was minted for, and an expiry a few minutes ahead. Nothing
in it is readable or guessable, a token from one call plays nothing once that call has ended, and
the decrypted audio is read from the store, served and dropped (never cached).
"""

from __future__ import annotations

import time

from ivr.crypto import DecryptionError, Sealer

TOKEN_TTL_S = 600  # Twilio fetches <Play> media as it reaches it; a replay mints new tokens


class TokenInvalid(LookupError):
    """Not a token of ours, altered, or expired."""


class ThreadAudioTokens:
    """Mints and checks the tokens in thread-audio URLs."""

    def __init__(self, secret: bytes, *, ttl_s: int = TOKEN_TTL_S) -> None:
        self._sealer = Sealer(secret, "ivr thread audio v1")
        self.ttl_s = ttl_s

    def mint(self, message_id: int, call_sid: str, *, now: float | None = None) -> str:
        """A token for playing this message in this call, for the next few minutes."""
        expires = int((now if now is not None else time.time()) + self.ttl_s)
        return self._sealer.seal([message_id, call_sid, expires])

    def read(self, token: str, *, now: float | None = None) -> tuple[int, str]:
        """The message id and CallSid in a token; TokenInvalid if altered, foreign or expired."""
        try:
            value = self._sealer.unseal(token)
        except DecryptionError:
            raise TokenInvalid("unreadable") from None
        if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], int)
                and isinstance(value[1], str) and isinstance(value[2], int)):
            raise TokenInvalid("wrong shape")
        message_id, call_sid, expires = value
        if expires < (now if now is not None else time.time()):
            raise TokenInvalid("expired")
        return message_id, call_sid
