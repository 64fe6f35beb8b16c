"""REDIS_URL's Sentinel form and IVR_REDIS_SENTINELS: parsed, validated, and connected for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.sentinel import SentinelConnectionPool

from ivr.queueing import make_redis, parse_sentinel_url
from ivr.settings import SettingsError, load_settings
from tests.support.sentinel import SentinelRedis


def test_the_sentinel_url_names_sentinels_service_database_and_password() -> None:
    target = parse_sentinel_url("redis+sentinel://:s%40cret@h1:26379,h2:26380/mymaster/3")
    assert target.sentinels == (("h1", 26379), ("h2", 26380))
    assert (target.service, target.db, target.password, target.username) == ("mymaster", 3, "s@cret", None)
    assert parse_sentinel_url("redis+sentinel://h1:26379/other").db == 0


@pytest.mark.parametrize(
    "url",
    ["redis+sentinel://h1:26379", "redis+sentinel://h1/mymaster", "redis+sentinel:///mymaster",
     "redis+sentinel://h1:26379/mymaster/zero"],
)
def test_a_malformed_sentinel_url_stops_the_start_naming_the_variable(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_ENV_FILE", "")
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(SettingsError, match=r"REDIS_URL: .*(redis\+sentinel://host:port|is not host:port)"):
        load_settings()


def test_sentinels_and_service_variables_become_the_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_ENV_FILE", "")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("IVR_REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26379")
    monkeypatch.setenv("IVR_REDIS_SERVICE", "hotline")
    assert load_settings().redis_url == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/hotline/0"


@pytest.mark.slow
def test_one_client_follows_the_master_the_sentinels_name_across_a_failover(tmp_path: Path) -> None:
    with SentinelRedis(tmp_path) as cluster:
        for patient in (False, True):  # the web's quick client and the workers' patient one
            client = make_redis(cluster.url, patient=patient)
            assert isinstance(client.connection_pool, SentinelConnectionPool)
            client.set(f"before-{patient}", "1")
        client = make_redis(cluster.url, patient=True)
        old = cluster.kill_master()
        new = cluster.wait_for_failover(old)
        client.set("after", "1")  # the same client object, now on the new master
        assert client.connection_pool.get_master_address()[1] == new
        assert client.get("before-True") == b"1"  # replicated before the kill
