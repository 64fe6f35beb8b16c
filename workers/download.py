"""Talking to Twilio's REST API from the workers: fetch, delete and list recordings, delete calls.

Every URL is built from the configured API base and account SID plus a SID checked against
Twilio's format; no URL is ever taken from a webhook payload, so a forged callback cannot make a
worker fetch from (or send our credentials to) another host. Requests use HTTP basic auth with
AccountSid and auth token, and retry with capped exponential backoff and full jitter.
Error messages name the SID and the HTTP status only: never the token, never caller data.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import requests

from ivr import sids

if TYPE_CHECKING:
    from ivr.settings import Settings

API_VERSION = "2010-04-01"
# One definition of each SID for web and workers (ivr.sids): exact, ASCII, no trailing newline.
RECORDING_SID, CALL_SID, ACCOUNT_SID = sids.RECORDING_SID, sids.CALL_SID, sids.ACCOUNT_SID
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RECORDING_BYTES = 1 << 30  # 1 GiB: far past Twilio's 4-hour recording limit in 8 kHz WAV


class DownloadError(Exception):
    """Twilio's API failed for good (after retries, or with an error no retry fixes)."""


class RecordingNotReady(DownloadError):
    """Twilio still answers 404 for the recording's media: it may not be processed yet."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: bounded attempts and total time, capped exponential backoff, full jitter."""

    attempts: int = 8
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    total_s: float = 300.0
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """The pause before try number `attempt + 1` (`attempt` counts from 1)."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_delay_s)
        # Full jitter: many workers retrying one outage spread out instead of striking together.
        return random.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))

    @classmethod
    def for_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy the line is configured with (`download_backoff_s`, `_budget_s`, `_timeout_s`)."""
        return cls(
            base_delay_s=settings.download_backoff_s,
            total_s=settings.download_budget_s,
            read_timeout_s=settings.download_timeout_s,
        )


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class RecordingInfo:
    """One recording as Twilio lists it (for reconciliation)."""

    sid: str
    call_sid: str
    duration_s: int | None
    date_created: datetime


def fetch_recording(
    settings: Settings,
    recording_sid: str,
    *,
    session: requests.Session | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    max_bytes: int = MAX_RECORDING_BYTES,
) -> bytes:
    """The recording's WAV bytes; RecordingNotReady if it stays 404, DownloadError otherwise."""
    sid = _checked(recording_sid, RECORDING_SID, "RecordingSid")
    url = f"{_account_url(settings)}/Recordings/{sid}.wav"

    def read(response: requests.Response) -> bytes:
        body = bytearray()
        for chunk in response.iter_content(chunk_size=1 << 16):
            body += chunk
            if len(body) > max_bytes:
                raise DownloadError(f"recording {sid}: larger than {max_bytes} bytes")
        if not body:
            raise _Retryable("empty body")
        return bytes(body)

    audio: bytes = _request(
        settings,
        "GET",
        url,
        what=f"recording {sid}",
        session=session,
        retry=retry,
        is_ready_404=True,
        read=read,
        stream=True,
    )
    return audio


def delete_recording(
    settings: Settings,
    recording_sid: str,
    *,
    session: requests.Session | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> bool:
    """Delete the recording at Twilio; True if it was there, False if it was gone already."""
    sid = _checked(recording_sid, RECORDING_SID, "RecordingSid")
    return _delete(settings, f"{_account_url(settings)}/Recordings/{sid}.json", f"recording {sid}", session, retry)


def delete_call(
    settings: Settings,
    call_sid: str,
    *,
    session: requests.Session | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> bool:
    """Delete the call's log (its From/To) at Twilio; True if it was there, False if gone already."""
    sid = _checked(call_sid, CALL_SID, "CallSid")
    return _delete(settings, f"{_account_url(settings)}/Calls/{sid}.json", f"call {sid}", session, retry)


def list_recordings(
    settings: Settings,
    *,
    since: datetime,
    session: requests.Session | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    page_size: int = 100,
) -> Iterator[RecordingInfo]:
    """Recordings Twilio holds that were created at or after `since`, page by page."""
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    since = since.astimezone(UTC)
    base = settings.twilio_api_base.rstrip("/")
    list_path = f"/{API_VERSION}/Accounts/{_account_sid(settings)}/Recordings.json"
    url: str | None = base + list_path
    params: dict[str, Any] | None = {
        "DateCreated>": since.strftime("%Y-%m-%dT%H:%M:%SZ"),  # Twilio's DateCreated>= filter
        "PageSize": page_size,
    }
    while url is not None:
        page = _request(
            settings,
            "GET",
            url,
            what="recording list",
            session=session,
            retry=retry,
            params=params,
            read=lambda response: response.json(),
        )
        for item in page.get("recordings", []):
            info = _recording_info(item)
            if info is not None and info.date_created >= since:
                yield info
        next_uri = page.get("next_page_uri")
        # Paging stays on our configured host and on this account's list, whatever the reply says.
        if next_uri and isinstance(next_uri, str) and next_uri.startswith(list_path + "?"):
            url, params = base + next_uri, None
        else:
            url = None


def _recording_info(item: dict[str, Any]) -> RecordingInfo | None:
    try:
        raw = item.get("duration")
        duration_s = None if raw is None or raw == "" else int(raw)
        return RecordingInfo(
            sid=str(item["sid"]),
            call_sid=str(item.get("call_sid") or ""),
            duration_s=duration_s if duration_s is not None and duration_s >= 0 else None,
            date_created=parsedate_to_datetime(item["date_created"]).astimezone(UTC),
        )
    except (KeyError, TypeError, ValueError):
        return None  # one malformed entry must not hide the others from reconciliation


def _delete(settings: Settings, url: str, what: str, session: requests.Session | None, retry: RetryPolicy) -> bool:
    # 404 means gone: deleted by an earlier run of the same job, or never there.
    return bool(
        _request(
            settings,
            "DELETE",
            url,
            what=what,
            session=session,
            retry=retry,
            read=lambda response: response.status_code != 404,
            ok_statuses=(200, 204, 404),
        )
    )


class _Retryable(Exception):
    """A failure worth another try."""


def _request(
    settings: Settings,
    method: str,
    url: str,
    *,
    what: str,
    session: requests.Session | None,
    retry: RetryPolicy,
    read: Callable[[requests.Response], Any],
    is_ready_404: bool = False,
    ok_statuses: tuple[int, ...] = (200,),
    params: dict[str, Any] | None = None,
    stream: bool = False,
) -> Any:
    """One API call with the retry policy; `read` turns a good response into the result."""
    http = session or requests.Session()
    auth = (settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
    deadline = time.monotonic() + retry.total_s
    last = "no attempt"
    not_ready = False
    try:
        for attempt in range(1, max(retry.attempts, 1) + 1):
            retry_after: float | None = None
            remaining = max(deadline - time.monotonic(), 0.01)
            timeout = (min(retry.connect_timeout_s, remaining), min(retry.read_timeout_s, remaining))
            try:
                with http.request(
                    method,
                    url,
                    auth=auth,
                    params=params,
                    timeout=timeout,
                    stream=stream,
                    # Twilio answers a media GET with a redirect to short-lived storage; requests
                    # drops our Authorization header when a redirect leaves the host.
                    allow_redirects=method == "GET",
                ) as response:
                    status = response.status_code
                    not_ready = is_ready_404 and status == 404
                    if status in ok_statuses:
                        return read(response)
                    last = f"HTTP {status}"
                    if status not in RETRIED_STATUSES and not not_ready:
                        raise DownloadError(f"{what}: Twilio answered {last}")
                    retry_after = _retry_after_s(response.headers.get("Retry-After"))
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                _Retryable,
            ) as error:
                not_ready = False
                last = type(error).__name__
            except (requests.RequestException, ValueError) as error:
                raise DownloadError(f"{what}: {type(error).__name__}") from None
            delay = retry.delay_s(attempt, retry_after)
            if attempt >= retry.attempts or time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
    finally:
        if session is None:
            http.close()
    if not_ready:
        raise RecordingNotReady(f"{what}: still not available at Twilio after {attempt} attempts")
    raise DownloadError(f"{what}: gave up after {attempt} attempts ({last})")


def _retry_after_s(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # the HTTP-date form; our own backoff will do


def _checked(sid: str, pattern: re.Pattern[str], name: str) -> str:
    if not isinstance(sid, str) or not pattern.match(sid):
        raise ValueError(f"not a valid {name}")  # the value itself stays out of the message
    return sid


def _account_sid(settings: Settings) -> str:
    return _checked(settings.twilio_account_sid, ACCOUNT_SID, "TWILIO_ACCOUNT_SID")


def _account_url(settings: Settings) -> str:
    base = settings.twilio_api_base.rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ValueError("IVR_TWILIO_API_BASE must be an http(s) URL")
    return f"{base}/{API_VERSION}/Accounts/{_account_sid(settings)}"
