"""Sentinel-managed Redis on loopback: a primary, a replica and three Sentinels, real processes.

Debian's redis-server and redis-sentinel (tests/run.sh installs them); each on a free port,
with its own directory and config, so a test can SIGKILL the primary and watch the failover.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.support.services import free_port, redis_server_binary

SERVICE = "mymaster"


def sentinel_binary() -> str:
    """Debian's redis-sentinel; a clear error when it is missing."""
    found = shutil.which("redis-sentinel")
    if not found:
        raise RuntimeError("redis-sentinel is not installed (apt-get install redis-sentinel)")
    return found


def _wait(check: object, what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError):
            if check():  # type: ignore[operator]
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not happen in {timeout_s:.0f} s")


class SentinelRedis:
    """Two redis-servers (primary, replica) and three Sentinels watching them."""

    def __init__(
        self,
        directory: Path,
        *,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
        sentinels: int = 3,
        service: str = SERVICE,
    ) -> None:
        self.directory = directory
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.service = service
        self.server_ports = [free_port(), free_port()]
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.servers: dict[int, subprocess.Popen[bytes]] = {}
        self.sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The redis+sentinel:// URL the line is configured with."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{self.service}/0"

    def _start_server(self, port: int, replica_of: int | None) -> None:
        data = self.directory / f"redis-{port}"
        data.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
        ]
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.servers[port] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=port, socket_connect_timeout=0.2)
        _wait(client.ping, f"redis-server on {port} answering")

    def _start_sentinel(self, port: int) -> None:
        data = self.directory / f"sentinel-{port}"
        data.mkdir(parents=True, exist_ok=True)
        config = data / "sentinel.conf"  # Sentinel rewrites its config: one file each
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {data}\n"
            f"sentinel monitor {self.service} 127.0.0.1 {self.server_ports[0]} 2\n"
            f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.service} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {self.service} 1\n"
        )
        self.sentinels.append(
            subprocess.Popen([sentinel_binary(), str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )

    def start(self) -> SentinelRedis:
        """Primary, then its replica (in sync), then the Sentinels (agreed on both)."""
        primary, replica = self.server_ports
        self._start_server(primary, None)
        self._start_server(replica, primary)
        _wait(
            lambda: redis.Redis(port=replica).info("replication").get("master_link_status") == "up",
            "the replica syncing",
        )
        for port in self.sentinel_ports:
            self._start_sentinel(port)
        others = len(self.sentinel_ports) - 1
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, socket_connect_timeout=0.2, decode_responses=True)
            _wait(
                lambda c=client: int(c.sentinel_master(self.service)["num-other-sentinels"]) >= others
                and int(c.sentinel_master(self.service)["num-slaves"]) >= 1,
                "the Sentinels finding each other and the replica",
                timeout_s=30,
            )
        return self

    def master_port(self) -> int | None:
        """The port the Sentinels name as master now (None if none answers)."""
        for port in self.sentinel_ports:
            with contextlib.suppress(redis.RedisError):
                client = redis.Redis(port=port, socket_connect_timeout=0.2, socket_timeout=0.5)
                address = client.sentinel_get_master_addr_by_name(self.service)
                if address:
                    return int(address[1])
        return None

    def kill_master(self) -> int:
        """SIGKILL the current master; its port."""
        port = self.master_port()
        if port is None or port not in self.servers:
            raise RuntimeError("no master to kill")
        process = self.servers.pop(port)
        process.kill()
        process.wait(10)
        return port

    def wait_for_failover(self, old_port: int, timeout_s: float = 60.0) -> int:
        """Block until every Sentinel names a new master, up and accepting writes; its port.

        Every one, as a client sees them: redis-py asks the Sentinels in turn and takes the first
        that reports the master up, so one Sentinel still reporting the old master down (they
        learn of the promotion a second or two apart) can fail a client's command.
        """
        found: list[int] = []

        def promoted() -> bool:
            port = self.master_port()
            if port is None or port == old_port or not self._all_sentinels_name(port):
                return False
            if redis.Redis(port=port, socket_timeout=0.5).info("replication")["role"] != "master":
                return False
            found.append(port)
            return True

        _wait(promoted, "a failover", timeout_s=timeout_s)
        return found[-1]

    def _all_sentinels_name(self, port: int) -> bool:
        for sentinel_port in self.sentinel_ports:
            client = redis.Redis(port=sentinel_port, socket_connect_timeout=0.2, socket_timeout=0.5)
            try:
                state = client.sentinel_master(self.service)
            except redis.RedisError:
                return False
            if int(state["port"]) != port or not state["is_master"] or state["is_sdown"] or state["is_odown"]:
                return False
        return True

    def stop(self) -> None:
        """Stop every process."""
        for process in [*self.sentinels, *self.servers.values()]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.sentinels, *self.servers.values()]:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.sentinels.clear()
        self.servers.clear()

    def __enter__(self) -> SentinelRedis:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
