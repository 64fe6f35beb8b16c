"""Settings come from the environment, typed, with one clear line per bad variable."""

from __future__ import annotations

import pytest

from ivr.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def no_env_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_ENV_FILE", "")


def test_defaults_are_embedded_and_local(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "TWILIO_AUTH_TOKEN", "IVR_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/ivr.db"
    assert settings.redis_url.startswith("redis://")
    assert settings.verify_signatures is True
    assert str(settings.recordings_dir) == "var/recordings"


def test_conventional_and_prefixed_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/ivr")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tok")
    monkeypatch.setenv("IVR_PUBLIC_BASE_URL", "https://ivr.example.kz/")
    monkeypatch.setenv("IVR_WEBHOOK_BUDGET_MS", "300")
    # https means production, which starts only with real keys and credentials.
    monkeypatch.setenv("IVR_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("IVR_DATA_KEY", "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0=")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://u@db/ivr"
    assert settings.redis_url == "redis://cache:6379/2"
    assert settings.twilio_auth_token.get_secret_value() == "tok"
    assert settings.public_base_url == "https://ivr.example.kz"
    assert settings.webhook_budget_ms == 300


def test_every_bad_value_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    monkeypatch.setenv("IVR_WEBHOOK_BUDGET_MS", "fast")
    monkeypatch.setenv("IVR_DATA_KEY", "not base64!")
    monkeypatch.setenv("IVR_PUBLIC_BASE_URL", "ivr.example.kz")
    with pytest.raises(SettingsError) as error:
        load_settings()
    lines = str(error.value).splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == [
        "DATABASE_URL", "REDIS_URL", "IVR_PUBLIC_BASE_URL", "IVR_DATA_KEY", "IVR_WEBHOOK_BUDGET_MS"
    ] or sorted(line.split(":")[0].strip() for line in lines) == sorted(
        ["DATABASE_URL", "REDIS_URL", "IVR_PUBLIC_BASE_URL", "IVR_DATA_KEY", "IVR_WEBHOOK_BUDGET_MS"]
    )
    assert "must be a sqlite:/// or postgresql:// URL" in str(error.value)


def test_env_file_fills_what_the_environment_leaves(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "local.env"
    env_file.write_text("TWILIO_AUTH_TOKEN=from-file\nREDIS_URL=redis://127.0.0.1:6390/0\n")
    monkeypatch.setenv("IVR_ENV_FILE", str(env_file))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6391/0")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    settings = load_settings()
    assert settings.twilio_auth_token.get_secret_value() == "from-file"
    assert settings.redis_url.endswith(":6391/0")  # the real environment wins


def test_data_keys_rotate(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    new, old = base64.b64encode(b"n" * 32).decode(), base64.b64encode(b"o" * 32).decode()
    monkeypatch.setenv("IVR_DATA_KEY", new)
    monkeypatch.setenv("IVR_DATA_KEY_ID", "k2")
    monkeypatch.setenv("IVR_OLD_DATA_KEYS", f"k1:{old}")
    keys = load_settings().data_keys
    assert list(keys) == ["k2", "k1"] and keys["k1"] == b"o" * 32
