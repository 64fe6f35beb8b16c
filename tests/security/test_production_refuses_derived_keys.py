"""Issue 10.10: production refuses derived keys; the data key never comes from the Twilio token."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.settings import PLACEHOLDER_ACCOUNT_SID, Settings, SettingsError, load_settings
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN

GOOD_KEY = base64.b64encode(os.urandom(32)).decode()
GOOD_SECRET = "s" * 40

# Every problem production refuses, and the variable its line names.
BAD_PRODUCTION = {
    "IVR_ENV": "production",
    "IVR_SECRET_KEY": "short",
    "IVR_VERIFY_SIGNATURES": "false",
    "TWILIO_AUTH_TOKEN": "",
    "TWILIO_ACCOUNT_SID": PLACEHOLDER_ACCOUNT_SID,
}
EXPECTED_NAMES = ["IVR_SECRET_KEY", "IVR_DATA_KEY", "IVR_VERIFY_SIGNATURES", "TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID"]


def _clean_env(**values: str) -> dict[str, str]:
    """The test process's environment without any line settings, plus `values`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IVR_", "TWILIO_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    env["IVR_ENV_FILE"] = ""
    env.update(values)
    return env


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("IVR_", "TWILIO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("IVR_ENV_FILE", "")


def _problem_names(error: SettingsError) -> list[str]:
    return [line.split(":")[0].strip() for line in str(error).splitlines()[1:]]


@pytest.mark.usefixtures("clean_environment")
def test_production_names_every_problem_on_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BAD_PRODUCTION.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert _problem_names(error.value) == EXPECTED_NAMES
    assert "Traceback" not in str(error.value)


@pytest.mark.usefixtures("clean_environment")
def test_an_https_public_url_means_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_PUBLIC_BASE_URL", "https://ivr.example.kz")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert _problem_names(error.value) == ["IVR_SECRET_KEY", "IVR_DATA_KEY"]
    monkeypatch.setenv("IVR_SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("IVR_DATA_KEY", GOOD_KEY)
    assert load_settings().is_production


@pytest.mark.usefixtures("clean_environment")
def test_development_still_starts_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    settings = load_settings()
    assert not settings.is_production and settings.data_keys


def test_the_data_key_is_never_derived_from_the_auth_token() -> None:
    one = Settings(twilio_auth_token="token-one", public_base_url="http://127.0.0.1:5000")
    two = Settings(twilio_auth_token="token-two", public_base_url="http://127.0.0.1:5000")
    # Rotating the Twilio token must neither change nor reveal the key that reads old recordings.
    assert one.data_keys == two.data_keys
    assert one.session_secret == two.session_secret


def test_rotating_the_twilio_token_keeps_recordings_readable() -> None:
    from ivr.crypto import Cipher

    before = Settings(twilio_auth_token="old-token", data_key=GOOD_KEY)
    after = Settings(twilio_auth_token="new-token", data_key=GOOD_KEY)
    blob = Cipher(before.data_keys).encrypt(b"audio", context=b"recording:x")
    assert Cipher(after.data_keys).decrypt(blob, context=b"recording:x") == b"audio"


@pytest.mark.parametrize("command", [["worker"], ["sweep"]], ids=["worker", "sweep"])
def test_worker_and_sweeper_stop_with_one_line_per_problem(tmp_path: Path, command: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "ivr.cli", *command], cwd=tmp_path,
                            env=_clean_env(**BAD_PRODUCTION), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for name in EXPECTED_NAMES:
        assert sum(line.strip().startswith(name + ":") for line in result.stderr.splitlines()) == 1, result.stderr


def test_gunicorn_stops_with_one_line_per_problem(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1", "ivr.app:create_app()"],
        cwd=tmp_path, env=_clean_env(**BAD_PRODUCTION), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    for name in EXPECTED_NAMES:
        assert sum(line.strip().startswith(name + ":") for line in result.stderr.splitlines()) == 1, result.stderr


def test_keys_new_prints_fresh_env_lines() -> None:
    runs = [subprocess.run([sys.executable, "-m", "ivr.cli", "keys", "new"], env=_clean_env(),
                           capture_output=True, text=True, timeout=60) for _ in range(2)]
    assert all(run.returncode == 0 for run in runs), runs[0].stderr
    values = [dict(line.split("=", 1) for line in run.stdout.splitlines() if "=" in line and not line.startswith("#"))
              for run in runs]
    for found in values:
        assert len(found["IVR_SECRET_KEY"].encode()) >= 32
        assert len(base64.b64decode(found["IVR_DATA_KEY"], validate=True)) == 32
        assert found["IVR_DATA_KEY_ID"]
    assert values[0]["IVR_SECRET_KEY"] != values[1]["IVR_SECRET_KEY"]
    assert values[0]["IVR_DATA_KEY"] != values[1]["IVR_DATA_KEY"]
    # What it prints is accepted by production as it is.
    settings = Settings(env="production", twilio_auth_token=AUTH_TOKEN, twilio_account_sid=ACCOUNT_SID,
                        secret_key=values[0]["IVR_SECRET_KEY"], data_key=values[0]["IVR_DATA_KEY"],
                        data_key_id=values[0]["IVR_DATA_KEY_ID"])
    assert settings.production_problems() == []
