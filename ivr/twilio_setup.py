"""Points a Twilio number at the line: voice URL, fallback URL and status callback, all POST.

Uses the official `twilio` client with its REST base moved to `settings.twilio_api_base`, so
the same code talks to Twilio in production and to a local stand-in in tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from ivr.flow.catalog import E164
from ivr.settings import Settings

VOICE_PATH = "/voice/incoming"
FALLBACK_PATH = "/voice/fallback"
STATUS_PATH = "/voice/status"


class TwilioSetupError(Exception):
    """The number cannot be configured; the message says why and what to do."""


@dataclass(frozen=True)
class NumberSettings:
    """What a number's voice configuration says (or will say)."""

    sid: str
    phone_number: str
    voice_url: str
    voice_method: str
    voice_fallback_url: str
    voice_fallback_method: str
    status_callback: str
    status_callback_method: str

    def lines(self) -> list[str]:
        """A readable summary, one setting a line."""
        return [
            f"Voice URL:        {self.voice_method} {self.voice_url}",
            f"Fallback URL:     {self.voice_fallback_method} {self.voice_fallback_url}",
            f"Status callback:  {self.status_callback_method} {self.status_callback}",
        ]


def make_client(settings: Settings) -> Client:
    """The official client for our account, its REST calls sent to `settings.twilio_api_base`."""
    token = settings.twilio_auth_token.get_secret_value()
    if not settings.twilio_account_sid or not token:
        raise TwilioSetupError("set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (the account that owns the number)")
    client = Client(settings.twilio_account_sid, token)
    # Every 2010-04-01 resource (incoming_phone_numbers included) is built from this base.
    client.api.base_url = settings.twilio_api_base.rstrip("/")
    return client


def wanted_settings(public_base_url: str, fallback_base_url: str | None = None) -> dict[str, str]:
    """The voice settings a number of this line must have, as the REST API names them.

    The fallback may live on another host (`fallback_base_url`): Twilio asks it only when the primary
    fails, so it helps only if it does not fail with it.
    """
    base = public_base_url.rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise TwilioSetupError("set IVR_PUBLIC_BASE_URL (or --base-url) to the https address Twilio reaches us on")
    fallback = (fallback_base_url or base).rstrip("/")
    if not fallback.startswith(("https://", "http://")):
        raise TwilioSetupError("--fallback-base-url must be the https address of the fallback host")
    return {
        "voice_url": base + VOICE_PATH,
        "voice_method": "POST",
        "voice_fallback_url": fallback + FALLBACK_PATH,
        "voice_fallback_method": "POST",
        "status_callback": base + STATUS_PATH,
        "status_callback_method": "POST",
    }


def _settings_of(resource: object) -> NumberSettings:
    return NumberSettings(
        sid=str(getattr(resource, "sid", "")),
        phone_number=str(getattr(resource, "phone_number", "")),
        voice_url=str(getattr(resource, "voice_url", "") or ""),
        voice_method=str(getattr(resource, "voice_method", "") or ""),
        voice_fallback_url=str(getattr(resource, "voice_fallback_url", "") or ""),
        voice_fallback_method=str(getattr(resource, "voice_fallback_method", "") or ""),
        status_callback=str(getattr(resource, "status_callback", "") or ""),
        status_callback_method=str(getattr(resource, "status_callback_method", "") or ""),
    )


def find_number(client: Client, phone_number: str) -> NumberSettings:
    """The account's incoming number with this E.164 value."""
    if not E164.match(phone_number):
        raise TwilioSetupError(f"{phone_number!r} is not an E.164 number: write it as +77172141424")
    try:
        found = client.incoming_phone_numbers.list(phone_number=phone_number, limit=2)
    except TwilioRestException as exc:
        raise TwilioSetupError(f"Twilio refused the lookup: HTTP {exc.status}, {exc.msg}") from None
    except TwilioException as exc:
        raise TwilioSetupError(f"cannot reach Twilio: {exc}") from None
    if not found:
        raise TwilioSetupError(f"{phone_number} is not a number of account {client.account_sid}; buy or port it first")
    return _settings_of(found[0])


def configure_number(
    client: Client, phone_number: str, public_base_url: str, *, dry_run: bool = False,
    fallback_base_url: str | None = None,
) -> tuple[NumberSettings, NumberSettings]:
    """Set the number's voice, fallback and status URLs (all POST); returns (before, after)."""
    wanted = wanted_settings(public_base_url, fallback_base_url)
    before = find_number(client, phone_number)
    if dry_run:
        return before, NumberSettings(sid=before.sid, phone_number=before.phone_number, **wanted)
    try:
        updated = client.incoming_phone_numbers(before.sid).update(**wanted)
    except TwilioRestException as exc:
        raise TwilioSetupError(f"Twilio refused the update: HTTP {exc.status}, {exc.msg}") from None
    except TwilioException as exc:
        raise TwilioSetupError(f"cannot reach Twilio: {exc}") from None
    after = _settings_of(updated)
    if any(getattr(after, name) != value for name, value in wanted.items()):
        raise TwilioSetupError(f"Twilio did not keep the new settings for {phone_number}; try again")
    return before, after
