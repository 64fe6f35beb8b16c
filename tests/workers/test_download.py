"""Fetching, deleting and listing recordings against a real HTTP stand-in for Twilio's API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from ivr.settings import Settings
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.services import free_port
from workers.download import (
    DownloadError,
    RecordingNotReady,
    RetryPolicy,
    delete_call,
    delete_recording,
    fetch_recording,
    list_recordings,
)

SID = "RE" + "a1" * 16
CALL_SID = "CA" + "b2" * 16
AUDIO = b"RIFF\x00\x00\x00\x00WAVE" + bytes(range(256)) * 40
FAST = RetryPolicy(attempts=5, base_delay_s=0.01, max_delay_s=0.05, total_s=10, read_timeout_s=2)


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(stall_s=3) as api:
        yield api


def settings_for(fake: FakeTwilioApi, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "twilio_api_base": fake.base_url,
        "twilio_account_sid": fake.account_sid,
        "twilio_auth_token": fake.auth_token,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def media_path(fake: FakeTwilioApi, sid: str = SID) -> str:
    return f"/2010-04-01/Accounts/{fake.account_sid}/Recordings/{sid}.wav"


def test_fetch_builds_the_url_from_settings_and_authenticates(fake: FakeTwilioApi) -> None:
    fake.add_recording(SID, AUDIO, call_sid=CALL_SID, duration_s=3)
    assert fetch_recording(settings_for(fake), SID, retry=FAST) == AUDIO
    [request] = fake.requests
    assert (request.method, request.path, request.auth_ok) == ("GET", media_path(fake), True)


def test_fetch_uses_the_given_session(fake: FakeTwilioApi) -> None:
    fake.add_recording(SID, AUDIO, call_sid=CALL_SID, duration_s=3)
    with requests.Session() as session:
        assert fetch_recording(settings_for(fake), SID, session=session, retry=FAST) == AUDIO
        assert fetch_recording(settings_for(fake), SID, session=session, retry=FAST) == AUDIO


@pytest.mark.parametrize("status", [404, 429, 500, 503])
def test_fetch_retries_until_the_media_is_served(fake: FakeTwilioApi, status: int) -> None:
    fake.add_recording(SID, AUDIO, call_sid=CALL_SID, duration_s=3)
    fake.fail_next(SID, 3, status)
    assert fetch_recording(settings_for(fake), SID, retry=FAST) == AUDIO
    assert [r.status for r in fake.requests] == [status, status, status, 200]


def test_fetch_retries_after_a_read_timeout(fake: FakeTwilioApi) -> None:
    fake.add_recording(SID, AUDIO, call_sid=CALL_SID, duration_s=3)
    fake.fail_next(SID, 1, "timeout", stall_s=2)
    policy = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.05, total_s=10, read_timeout_s=0.3)
    started = time.monotonic()
    assert fetch_recording(settings_for(fake), SID, retry=policy) == AUDIO
    assert time.monotonic() - started < 2
    assert len(fake.requests) == 2


def test_fetch_of_a_recording_never_ready_raises_not_ready(fake: FakeTwilioApi) -> None:
    with pytest.raises(RecordingNotReady) as caught:
        fetch_recording(settings_for(fake), SID, retry=FAST)
    assert len(fake.requests) == FAST.attempts
    assert SID in str(caught.value)


def test_fetch_gives_up_on_persistent_server_errors(fake: FakeTwilioApi) -> None:
    fake.add_recording(SID, AUDIO, call_sid=CALL_SID, duration_s=3)
    fake.fail_next(SID, 50, 500)
    with pytest.raises(DownloadError) as caught:
        fetch_recording(settings_for(fake), SID, retry=FAST)
    assert not isinstance(caught.value, RecordingNotReady)
    assert "HTTP 500" in str(caught.value)
    assert len(fake.requests) == FAST.attempts


def test_fetch_stops_within_the_total_time(fake: FakeTwilioApi) -> None:
    policy = RetryPolicy(attempts=1000, base_delay_s=0.05, max_delay_s=0.1, total_s=0.6)
    started = time.monotonic()
    with pytest.raises(RecordingNotReady):
        fetch_recording(settings_for(fake), SID, retry=policy)
    assert time.monotonic() - started < 1.5


def test_wrong_credentials_fail_at_once_without_leaking_the_token(fake: FakeTwilioApi) -> None:
    fake.add_recording(SID, AUDIO, call_sid=CALL_SID, duration_s=3)
    wrong = "wrong-token-0123456789abcdefghij"
    with pytest.raises(DownloadError) as caught:
        fetch_recording(settings_for(fake, twilio_auth_token=wrong), SID, retry=FAST)
    assert "401" in str(caught.value)
    assert len(fake.requests) == 1
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)


def test_unreachable_api_raises_download_error_without_secrets() -> None:
    token = "secret-token-0123456789abcdefghij"
    settings = Settings(
        twilio_api_base=f"http://127.0.0.1:{free_port()}",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=token,
    )
    with pytest.raises(DownloadError) as caught:
        fetch_recording(settings, SID, retry=FAST)
    assert "ConnectionError" in str(caught.value)
    assert token not in str(caught.value)


@pytest.mark.parametrize(
    "sid",
    [
        "https://evil.example/x.wav",
        "RE" + "a" * 31,
        "RE" + "A1" * 16,
        "RE" + "a1" * 15 + "/../x",
        "CA" + "a1" * 16,
        "",
    ],
)
def test_fetch_refuses_anything_but_a_recording_sid(fake: FakeTwilioApi, sid: str) -> None:
    with pytest.raises(ValueError) as caught:
        fetch_recording(settings_for(fake), sid, retry=FAST)
    assert sid not in str(caught.value) or not sid
    assert fake.requests == []


def test_media_url_ignores_anything_but_the_configured_base(fake: FakeTwilioApi) -> None:
    fake.add_recording(SID, AUDIO, call_sid=CALL_SID, duration_s=3)
    settings = settings_for(fake, twilio_api_base=fake.base_url + "/")
    assert fetch_recording(settings, SID, retry=FAST) == AUDIO
    assert fake.requests[0].path == media_path(fake)


def test_delete_recording_removes_it_and_a_second_delete_is_fine(fake: FakeTwilioApi) -> None:
    fake.add_recording(SID, AUDIO, call_sid=CALL_SID, duration_s=3)
    assert delete_recording(settings_for(fake), SID, retry=FAST) is True
    assert not fake.has_recording(SID)
    assert delete_recording(settings_for(fake), SID, retry=FAST) is False
    paths = {r.path for r in fake.requests_matching("DELETE")}
    assert paths == {f"/2010-04-01/Accounts/{fake.account_sid}/Recordings/{SID}.json"}


def test_delete_call_removes_its_log_and_a_second_delete_is_fine(fake: FakeTwilioApi) -> None:
    fake.add_call(CALL_SID, "+77011234567", "+71424")
    assert delete_call(settings_for(fake), CALL_SID, retry=FAST) is True
    assert fake.call(CALL_SID) is None
    assert delete_call(settings_for(fake), CALL_SID, retry=FAST) is False


def test_delete_retries_when_the_api_is_down_then_gives_up() -> None:
    settings = Settings(
        twilio_api_base=f"http://127.0.0.1:{free_port()}",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="t",
    )
    with pytest.raises(DownloadError, match="gave up after 5 attempts"):
        delete_recording(settings, SID, retry=FAST)


def test_delete_call_refuses_a_recording_sid(fake: FakeTwilioApi) -> None:
    with pytest.raises(ValueError):
        delete_call(settings_for(fake), SID, retry=FAST)


def test_list_recordings_follows_pages_and_honours_since(fake: FakeTwilioApi) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    recent = {}
    for n in range(7):
        sid = f"RE{n:032x}"
        created = now - timedelta(hours=n)
        fake.add_recording(sid, AUDIO, call_sid=f"CA{n:032x}", duration_s=10 + n, date_created=created)
        recent[sid] = (f"CA{n:032x}", 10 + n, created)
    fake.add_recording("RE" + "f" * 32, AUDIO, call_sid=CALL_SID, duration_s=1, date_created=now - timedelta(days=3))
    found = list(
        list_recordings(settings_for(fake), since=now - timedelta(hours=6, minutes=30), retry=FAST, page_size=3)
    )
    assert {info.sid: (info.call_sid, info.duration_s, info.date_created) for info in found} == recent
    pages = fake.requests_matching("GET", "/Recordings.json")
    assert len(pages) == 3
    assert all(r.auth_ok for r in pages)


def test_list_recordings_needs_an_aware_since(fake: FakeTwilioApi) -> None:
    with pytest.raises(ValueError):
        list(list_recordings(settings_for(fake), since=datetime(2024, 1, 1), retry=FAST))


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [policy.delay_s(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jittered, not a fixed schedule
    assert policy.delay_s(1, retry_after_s=5) == 5
    assert policy.delay_s(1, retry_after_s=600) == 8.0
