"""The production layout on one machine: `python -m bench.rehearsal [--calls N] [--bench]`.

Starts, all on 127.0.0.1 and free ports, in a temp dir:

- Redis managed by Sentinel: a primary, a replica and three Sentinels (tests.support.sentinel);
- PostgreSQL: a schema of its own in the tests' database (IVR_TEST_POSTGRES_URL, 127.0.0.1:5432),
  migrated with `ivr db upgrade` (or a SQLite file with `--sqlite`);
- S3: moto's server (`moto_server`), recordings stored there (IVR_RECORDING_STORE=s3);
- Twilio's REST side: the stand-in from tests.support (recordings to download and delete);
- two web processes (gunicorn as the Procfile runs it) behind HAProxy (Debian's package), which
  health-checks them and re-sends a request a dead process never answered;
- two workers (`ivr worker`) and the sweeper (`ivr sweep --forever`).

Calls are placed by the Twilio stand-in (signed webhooks through HAProxy). Without `--bench` the
script runs calls while it kills one web process, one worker and the Redis primary in turn, and
checks that every call was answered 200 and every report became exactly one case; with `--bench`
it measures what the layout sustains (bench.capacity). tests/deploy/test_rehearsal.py runs it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ivr.db import make_engine, make_sessionmaker
from ivr.models import DONE, Call, Case, Intake
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.sentinel import SentinelRedis
from tests.support.services import free_port, postgres_schema
from tests.support.twilio_sim import HttpTransport, Press, Silence, Talk, TwilioSimulator

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "0" * 30 + "24"
AUTH_TOKEN = "rehearsal-auth-token-0123456789ab"
PUBLIC_BASE_URL = "https://ivr.example.test"
SECRET_KEY = "rehearsal-secret-key-0123456789abcdef"
DATA_KEY = base64.b64encode(b"r" * 32).decode()
BUCKET = "ivr-recordings"
# An English report: language, anonymous, region 02, the guidance heard out, a 3-second report,
# send, hang up.
REPORT_SCRIPT: tuple[Any, ...] = (Press("3"), Press("1"), Press("02"), Silence(), Talk(3), Press("3"), Silence())
_LEAKY_PREFIXES = ("IVR_", "TWILIO_", "DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "GUNICORN_CMD_ARGS")


class RehearsalError(Exception):
    """A part of the layout did not start, or the rehearsal's promise was broken."""


@dataclass
class Options:
    """How big the layout is."""

    webs: int = 2
    web_workers: int = 2  # gunicorn workers per web process
    workers: int = 2
    postgres: bool = True
    s3: bool = True
    sweep_interval_s: float = 2.0
    transcriber: str = "none"  # or "faster-whisper": then workers take only the intake queue


@dataclass
class Proc:
    """One process we started, in its own session so it can be killed whole."""

    name: str
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    port: int | None = None

    def start(self, env: dict[str, str]) -> Proc:
        """Start it, output to its log file."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        """Still running."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group (gunicorn's workers, RQ's scheduler and work horse too)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if not self.alive():
            return
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 20) -> str:
        """The end of its log, for error messages."""
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_listening(proc: Proc, timeout_s: float = 30) -> None:
    """Block until its port accepts connections."""
    assert proc.port is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RehearsalError(f"{proc.name} exited:\n{proc.tail()}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", proc.port)) == 0:
                return
        time.sleep(0.1)
    raise RehearsalError(f"{proc.name} not listening after {timeout_s:.0f} s:\n{proc.tail()}")


HAPROXY_CONFIG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"


def haproxy_config(port: int, web_ports: list[int]) -> str:
    """The shipped HAProxy configuration (deploy/haproxy/haproxy.cfg) for these ports."""
    servers = "\n".join(
        f"    server web{number} 127.0.0.1:{web_port} check" for number, web_port in enumerate(web_ports, 1)
    )
    return HAPROXY_CONFIG.read_text().replace("{bind}", f"127.0.0.1:{port}").replace("{servers}", servers)


@dataclass
class Layout:
    """Every process of the production layout, on loopback; a context manager."""

    work: Path
    options: Options = field(default_factory=Options)
    redis: SentinelRedis | None = None
    database_url: str = ""
    fake_api: FakeTwilioApi | None = None
    webs: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    others: list[Proc] = field(default_factory=list)
    haproxy: Proc | None = None
    env: dict[str, str] = field(default_factory=dict)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _sessions: sessionmaker[Session] | None = None
    _web_count: int = 0

    # ---------------------------------------------------------------- start and stop

    def __enter__(self) -> Layout:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Everything, in dependency order."""
        for binary in ("haproxy", "redis-sentinel", "redis-server"):
            if shutil.which(binary) is None:
                raise RehearsalError(f"{binary} is not installed (apt-get install haproxy redis-sentinel)")
        self.redis = self._stack.enter_context(SentinelRedis(self.work / "redis"))
        if self.options.postgres:
            self.database_url = self._stack.enter_context(postgres_schema())
        else:
            self.database_url = f"sqlite:///{self.work / 'ivr.db'}"
        self.fake_api = self._stack.enter_context(FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN, stall_s=2.0))
        self.env = self._environ()
        if self.options.s3:
            self._start_s3()
        migrate = subprocess.run(
            [sys.executable, "-m", "ivr.cli", "db", "upgrade"], cwd=ROOT, env=self.env, capture_output=True,
            text=True, check=False,
        )
        if migrate.returncode != 0:
            raise RehearsalError(f"ivr db upgrade failed:\n{migrate.stdout}{migrate.stderr}")
        for _ in range(self.options.webs):
            self.start_web()
        web_ports = [web.port for web in self.webs if web.port is not None]
        port = free_port()
        config = self.work / "haproxy.cfg"
        config.write_text(haproxy_config(port, web_ports))
        self.haproxy = Proc("haproxy", ["haproxy", "-db", "-f", str(config)], self.work / "haproxy.log", port=port)
        self.haproxy.start(self.env)
        wait_listening(self.haproxy)
        for _ in range(self.options.workers):
            self.start_worker()
        sweeper = Proc("sweeper", [sys.executable, "-m", "ivr.cli", "sweep", "--forever"], self.work / "sweeper.log")
        self.others.append(sweeper.start(self.env))
        self.wait_ready()

    def _environ(self) -> dict[str, str]:
        assert self.redis is not None and self.fake_api is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "IVR_ENV_FILE": "",
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis.url,
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "IVR_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
                "IVR_SECRET_KEY": SECRET_KEY,
                "IVR_DATA_KEY": DATA_KEY,
                "IVR_TWILIO_API_BASE": self.fake_api.base_url,
                "IVR_FLOW_PATH": str(ROOT / "config" / "flow.yaml"),
                "IVR_PROMPTS_DIR": str(ROOT / "config" / "prompts"),
                "IVR_RECORDINGS_DIR": str(self.work / "recordings"),
                "IVR_SPOOL_DIR": str(self.work / "spool"),
                "IVR_MODEL_CACHE_DIR": str(self.work / "models"),
                "IVR_TRANSCRIBER": self.options.transcriber,
                "IVR_TRANSCRIBE_THREADS": "1",  # one core per transcribing worker (bench.capacity)
                "IVR_SWEEP_INTERVAL_S": str(self.options.sweep_interval_s),
                "IVR_DOWNLOAD_BACKOFF_S": "0.2",
                "IVR_LOG_JSON": "true",
                "PYTHONFAULTHANDLER": "1",  # a hung process SIGABRTed leaves every thread's stack in its log
            }
        )
        return env

    def _start_s3(self) -> None:
        import boto3

        port = free_port()
        moto = Proc("moto", [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                    self.work / "moto.log", port=port)
        self.others.append(moto.start(self.env))
        wait_listening(moto)
        endpoint = f"http://127.0.0.1:{port}"
        credentials = {"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal",
                       "AWS_DEFAULT_REGION": "us-east-1"}
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal",
        ).create_bucket(Bucket=BUCKET)
        self.env.update(
            {"IVR_RECORDING_STORE": "s3", "IVR_S3_ENDPOINT_URL": endpoint, "IVR_S3_BUCKET": BUCKET, **credentials}
        )

    def start_web(self) -> Proc:
        """One more gunicorn, as the Procfile runs it, on a free port."""
        self._web_count += 1
        number, port = self._web_count, free_port()
        metrics = self.work / f"metrics-web{number}"
        metrics.mkdir(parents=True, exist_ok=True)
        args = [
            sys.executable, "-m", "gunicorn", "-c", "python:ivr.gunicorn_conf",
            "--bind", f"127.0.0.1:{port}", "--workers", str(self.options.web_workers),
            "--graceful-timeout", "5", "ivr.app:create_app()",
        ]
        web = Proc(f"web{number}", args, self.work / f"web{number}.log", port=port)
        web.start({**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)})
        wait_listening(web)
        self.webs.append(web)
        return web

    def start_worker(self, queue: str | None = None) -> Proc:
        """One more `ivr worker` (both queues; only intake when a transcriber is on, unless told)."""
        if queue is None and self.options.transcriber != "none":
            queue = "intake"  # transcriptions get their own worker: bench.capacity times them
        number = len(self.workers) + 1
        args = [sys.executable, "-m", "ivr.cli", "worker", *(["--queue", queue] if queue else [])]
        worker = Proc(f"worker{number}", args, self.work / f"worker{number}.log")
        self.workers.append(worker.start(self.env))
        return worker

    def wait_ready(self, timeout_s: float = 60) -> None:
        """Until /readyz through HAProxy says ok (database and Redis both answer)."""
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                reply = requests.get(f"{self.entry_url}/readyz", timeout=2)
                last = reply.text
                if reply.status_code == 200 and reply.json()["checks"]["redis"] == "ok":
                    return
            time.sleep(0.2)
        raise RehearsalError(f"/readyz never ok: {last}")

    def close(self) -> None:
        """Stop every process, then the services (Redis, PostgreSQL schema, fake Twilio)."""
        procs = [*self.webs, *self.workers, *self.others]
        if self.haproxy is not None:
            procs.insert(0, self.haproxy)
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.stop(timeout_s=10)
        if self._sessions is not None:
            engine = self._sessions.kw["bind"]
            engine.dispose()
        self._stack.close()

    # ---------------------------------------------------------------- using it

    @property
    def entry_url(self) -> str:
        """Where Twilio's requests go: HAProxy."""
        assert self.haproxy is not None and self.haproxy.port is not None
        return f"http://127.0.0.1:{self.haproxy.port}"

    def simulator(self) -> TwilioSimulator:
        """A Twilio stand-in placing calls through HAProxy (one per thread: it keeps a session)."""
        return TwilioSimulator(
            HttpTransport(self.entry_url),
            auth_token=AUTH_TOKEN,
            public_base_url=PUBLIC_BASE_URL,
            account_sid=ACCOUNT_SID,
            api_base_url=self.fake_api.base_url if self.fake_api else "",
            fake_api=self.fake_api,
        )

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Database sessions, to check what the layout did."""
        if self._sessions is None:
            keys = {"k1": base64.b64decode(DATA_KEY)}
            self._sessions = make_sessionmaker(make_engine(self.database_url, data_keys=keys))
        return self._sessions

    def balancer_log_counts(self) -> tuple[int, int]:
        """From HAProxy's log: requests it sent to another web process, and requests a web process
        left unanswered or half answered (termination state SD or SH; SD with status 200 is a cut reply)."""
        redispatched = aborted = 0
        if self.haproxy is None or not self.haproxy.log.exists():
            return 0, 0
        for line in self.haproxy.log.read_text(errors="replace").splitlines():
            fields = line.split()
            if len(fields) < 10 or "/" not in fields[3]:
                continue  # not a request line (HAProxy's own warnings)
            state, retries = fields[7], fields[8].split("/")[-1]
            redispatched += retries.startswith("+")
            aborted += state[:2] in ("SD", "SH")
        return redispatched, aborted

    def tally(self) -> Tally:
        """Intakes, done intakes, cases and distinct calls with a case, now."""
        with self.sessions() as session:
            return Tally(
                intakes=session.scalar(select(func.count()).select_from(Intake)) or 0,
                done=session.scalar(select(func.count()).select_from(Intake).where(Intake.status == DONE)) or 0,
                cases=session.scalar(select(func.count()).select_from(Case)) or 0,
                calls_with_case=session.scalar(select(func.count(func.distinct(Case.call_id)))) or 0,
            )


@dataclass(frozen=True)
class Tally:
    """What the database holds."""

    intakes: int
    done: int
    cases: int
    calls_with_case: int


@dataclass
class CallOutcome:
    """One simulated call: answered throughout or not, and how long each webhook took."""

    call_sid: str
    error: str = ""
    latencies_s: list[float] = field(default_factory=list)
    reference: str = ""


class _TimedTransport(HttpTransport):
    """HttpTransport that records each request's latency."""

    def __init__(self, base: str, latencies: list[float]) -> None:
        super().__init__(base)
        self.latencies = latencies

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        started = time.perf_counter()
        try:
            return super().post(url, form, headers)
        finally:
            self.latencies.append(time.perf_counter() - started)


def place_call(layout: Layout, number: int, script: tuple[Any, ...] = REPORT_SCRIPT) -> CallOutcome:
    """One report call through HAProxy; the error text if any webhook was not answered 200."""
    latencies: list[float] = []
    sim = layout.simulator()
    sim.transport = _TimedTransport(layout.entry_url, latencies)
    try:
        result = sim.call(list(script), from_=f"+7701{number:07d}")
    except Exception as exc:  # an answer other than 200 with TwiML: the caller heard an error
        last = sim.last_result.call_sid if sim.last_result else ""
        return CallOutcome(last, f"{type(exc).__name__}: {str(exc)[:300]}", latencies)
    return CallOutcome(result.call_sid, "", latencies)


def run_calls(
    layout: Layout, count: int, *, concurrency: int, start_number: int = 0,
    during: Callable[[list[CallOutcome]], None] | None = None, script: tuple[Any, ...] = REPORT_SCRIPT,
) -> list[CallOutcome]:
    """Place `count` calls, `concurrency` at a time; `during` runs alongside (it sees outcomes so far)."""
    outcomes: list[CallOutcome] = []
    lock = threading.Lock()

    def one(number: int) -> None:
        outcome = place_call(layout, number, script)
        with lock:
            outcomes.append(outcome)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(one, start_number + n) for n in range(count)]
        if during is not None:
            during(outcomes)
        for future in futures:
            future.result()
    return outcomes


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.2) -> None:
    """Poll until check() is true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval_s)
    raise RehearsalError(f"{what}: not within {timeout_s:.0f} s")


class ReadyWatch:
    """Polls /readyz through HAProxy and keeps how long Redis read as down."""

    def __init__(self, layout: Layout, interval_s: float = 0.1) -> None:
        self.layout = layout
        self.interval_s = interval_s
        self.down_since: float | None = None
        self.down_s = 0.0
        self.samples: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ReadyWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        session = requests.Session()
        session.trust_env = False
        while not self._stop.wait(self.interval_s):
            try:
                state = session.get(f"{self.layout.entry_url}/readyz", timeout=3).json()["checks"]["redis"]
            except (requests.RequestException, ValueError, KeyError):
                state = "unanswered"
            self.samples.append((time.monotonic(), state))

    def degraded_s(self, since: float) -> float:
        """Seconds from `since` to the last sample that did not read ok."""
        bad = [moment for moment, state in self.samples if moment >= since and state != "ok"]
        return (max(bad) - since) if bad else 0.0


def check_outcomes(layout: Layout, outcomes: list[CallOutcome], *, settle_s: float = 120) -> Tally:
    """Every call answered 200 throughout, a crash or not; then every recording received became
    exactly one case, and every call has its case: none lost, none twice."""
    failed = [outcome for outcome in outcomes if outcome.error]
    if failed:
        raise RehearsalError(f"{len(failed)} of {len(outcomes)} calls heard an error, e.g. {failed[0].error}")
    completed = [outcome.call_sid for outcome in outcomes if not outcome.error]

    def settled() -> bool:
        tally = layout.tally()
        return tally.intakes >= len(completed) and tally.done >= tally.intakes and tally.cases >= tally.intakes

    try:
        wait_for(settled, settle_s, "every report a case")
    except RehearsalError:
        raise RehearsalError(f"reports lost or stuck: {layout.tally()} for {len(completed)} completed calls") from None
    tally = layout.tally()
    if not (tally.intakes == tally.done == tally.cases == tally.calls_with_case):
        raise RehearsalError(f"not exactly one case per report: {tally}")
    with layout.sessions() as session:
        with_case = session.scalar(
            select(func.count()).select_from(Case).join(Call, Call.id == Case.call_id)
            .where(Call.call_sid.in_(completed))
        )
    if with_case != len(completed):
        raise RehearsalError(f"{len(completed) - (with_case or 0)} completed calls have no case")
    return tally


def rehearse(layout: Layout, *, calls_per_phase: int = 30, concurrency: int = 10) -> dict[str, float]:
    """Calls while one web process, one worker and the Redis primary die in turn; figures."""
    assert layout.redis is not None
    outcomes: list[CallOutcome] = []
    figures: dict[str, float] = {}

    def kill_after(what: str, action: Callable[[], None]) -> Callable[[list[CallOutcome]], None]:
        def during(done: list[CallOutcome]) -> None:
            wait_for(lambda: len(done) >= calls_per_phase // 3, 120, f"calls before killing {what}", 0.02)
            figures[f"{what}_killed_at"] = time.monotonic()
            action()
        return during

    def kill_web() -> None:
        layout.webs[0].kill()

    def kill_worker() -> None:
        layout.workers[0].kill()

    def kill_primary() -> None:
        assert layout.redis is not None
        old = layout.redis.kill_master()
        killed = time.monotonic()
        layout.redis.wait_for_failover(old)
        figures["failover_s"] = time.monotonic() - killed

    with ReadyWatch(layout) as watch:
        for phase, (what, action) in enumerate(
            [("web", kill_web), ("worker", kill_worker), ("redis_primary", kill_primary)]
        ):
            outcomes += run_calls(
                layout, calls_per_phase, concurrency=concurrency, start_number=phase * calls_per_phase,
                during=kill_after(what, action),
            )
        # No allowance for the web crash: a reply leaves gunicorn in one write (ivr.gunicorn_conf),
        # so HAProxy either re-sends a request the dead process never answered or has it all.
        tally = check_outcomes(layout, outcomes)
        figures["degraded_s"] = watch.degraded_s(figures["redis_primary_killed_at"])
    latencies = sorted(latency for outcome in outcomes for latency in outcome.latencies_s)
    figures["calls"] = len(outcomes)
    figures["cases"] = tally.cases
    figures["redispatched"], figures["server_aborts"] = layout.balancer_log_counts()
    figures["webhook_p99_ms"] = 1000 * latencies[int(0.99 * (len(latencies) - 1))]
    figures["webhook_max_ms"] = 1000 * latencies[-1]
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the rehearsal (or, with --bench, the capacity measurement) and print what it found."""
    parser = argparse.ArgumentParser(prog="python -m bench.rehearsal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=30, help="calls per phase (three phases)")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--bench", action="store_true", help="measure capacity instead (bench.capacity)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs of every process)")
    args = parser.parse_args(argv)
    if args.bench:
        from bench import capacity

        return capacity.main(["--sqlite"] if args.sqlite else [])
    work = Path(tempfile.mkdtemp(prefix="ivr-rehearsal-"))
    try:
        with Layout(work, Options(postgres=not args.sqlite)) as layout:
            figures = rehearse(layout, calls_per_phase=args.calls, concurrency=args.concurrency)
    except RehearsalError as error:
        print(f"rehearsal failed: {error}\nlogs: {work}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"{int(figures['calls'])} calls, {int(figures['cases'])} cases, every webhook answered 200 "
        f"({int(figures['redispatched'])} re-sent by HAProxy, {int(figures['server_aborts'])} server aborts); "
        f"failover {figures['failover_s']:.1f} s, /readyz degraded {figures['degraded_s']:.1f} s, "
        f"webhook p99 {figures['webhook_p99_ms']:.0f} ms (max {figures['webhook_max_ms']:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
