"""`ivr up`: the whole line on one machine, started after its checks and stopped in order.

Each child (Redis, the web app, a worker, the sweeper) runs in its own process group, so the
terminal's Ctrl-C reaches only `ivr up`, which then stops them in order: the web app first (no
new calls start work), the worker after the job it is on (or at a bounded time), the sweeper,
and Redis last, so nobody loses its connection mid-job. Each stop kills whatever is left of that
child's process group, so nothing stays behind. Every line, Redis's included, is a log line with
the same fields as the rest of the line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ivr.logging import configure_logging, configure_logging_as, get_logger
from ivr.private_files import PRIVATE_UMASK, exposed_paths
from ivr.settings import Settings, load_settings, twilio_credential_problems

log = get_logger("ivr.up")

STOP_ORDER = ("web", "worker", "sweeper", "twilio", "redis")
WAITING_FOR = {
    "web": "requests in progress to finish",
    "worker": "the job in progress (a recording being fetched or transcribed) to finish",
    "sweeper": "the sweep in progress to finish",
    "twilio": "the demo's Twilio stand-in to close",
    "redis": "Redis to write its append-only file",
}
STOP_TIMEOUT_S = {"web": 30.0, "worker": 60.0, "sweeper": 15.0, "twilio": 5.0, "redis": 15.0}
# A child that exits this soon after starting, this many times in a row, will not get better by
# restarting (a busy port, a broken setting): the line stops and says so.
RAPID_EXIT_S = 15.0
MAX_RAPID_EXITS = 4
# Redis's own log lines: "pid:role day month year time level message".
_REDIS_LINE = re.compile(r"^\d+:[A-Z] \d{1,2} \w{3} \d{4} [\d:.]+ ([.\-*#]) (.*)$")
_REDIS_LEVELS = {".": "debug", "-": "debug", "*": "info", "#": "warning"}


def mask_url(url: str) -> str:
    """A URL with its password replaced by ***, for banners and log lines."""
    return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def port_is_free(host: str, port: int) -> bool:
    """True when nobody listens on host:port (bound as gunicorn binds it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def database_problem(url: str) -> str | None:
    """Why the database cannot be opened, in one line; None when it can."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except DBAPIError as exc:
        reason = str(exc.orig or exc).strip().splitlines()
        # psycopg puts the server's words last: `... failed: FATAL:  database "x" does not exist`.
        words = reason[0].rsplit("FATAL:", 1)[-1].strip() if reason else type(exc).__name__
        return re.sub(r"\s+", " ", words)
    finally:
        engine.dispose()
    return None


@dataclass
class Child:
    """One process of the line and its restart bookkeeping."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    rapid_exits: int = 0
    restart_at: float | None = None
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def is_running(self) -> bool:
        """True while the main process lives."""
        return self.process is not None and self.process.poll() is None


def cmd_up(args: argparse.Namespace) -> int:
    """Check, migrate, start Redis (unless REDIS_URL is given), the web app, a worker and the sweeper."""
    from sqlalchemy.exc import DBAPIError

    from ivr.cli import LOCAL_ENV, ensure_local_env, redis_args
    from ivr.migrations import upgrade

    configure_logging_as()
    # Everything this line and its children create (database, Redis files, recordings) is ours alone.
    os.umask(PRIVATE_UMASK)
    # A Redis of the deployer's own (in the environment, not var/local.env): no embedded one.
    external_redis = bool(os.environ.get("REDIS_URL") or os.environ.get("IVR_REDIS_URL"))
    local = ensure_local_env()
    env = dict(os.environ)
    for name, value in local.items():
        env.setdefault(name, value)
    public = env.get("IVR_PUBLIC_BASE_URL") or f"http://{args.host}:{args.port}"
    env.setdefault("IVR_PUBLIC_BASE_URL", public)
    demo_api = None
    if getattr(args, "demo", False):
        # The workers fetch recordings from a stand-in for Twilio's API, fed by `ivr simulate --into`.
        demo_api = f"http://127.0.0.1:{_free_port_near(args.port + 1)}"
        env["IVR_TWILIO_API_BASE"] = os.environ["IVR_TWILIO_API_BASE"] = demo_api
    os.environ.update({k: v for k, v in env.items() if k not in os.environ})
    settings = load_settings()
    configure_logging(settings)
    exposed = exposed_paths(LOCAL_ENV.parent)
    if exposed:
        log.warning("files.readable_by_others", paths=[str(path) for path in exposed],
                    hint=f"other users of this machine can read keys or reports: chmod -R go-rwx {LOCAL_ENV.parent}")

    if not port_is_free(args.host, args.port):
        log.error("web.port_busy", host=args.host, port=args.port,
                  hint="another program listens there; stop it or choose another port with --port")
        return 1
    problem = database_problem(settings.database_url)
    if problem is not None:
        log.error("database.unreachable", database=mask_url(settings.database_url), reason=problem,
                  hint="create the database (createdb) or correct DATABASE_URL")
        return 1
    try:
        upgrade(settings.database_url, data_keys=settings.data_keys)
    except DBAPIError as exc:
        log.error("database.migration_failed", database=mask_url(settings.database_url),
                  reason=str(exc.orig or exc).strip().splitlines()[0])
        return 1
    if not _flows_can_serve(settings):
        return 1
    from ivr.speech_config import speech_status

    for speech_problem in speech_status(settings):  # calls still record; transcripts wait for the model
        log.error("speech.model_unusable", problem=speech_problem, hint="see `ivr model list` and `ivr model add`")

    children: list[Child] = []
    if not external_redis:
        port = int(env["REDIS_URL"].rsplit(":", 1)[-1].split("/")[0])
        children.append(Child("redis", [*redis_args(port, Path("var/redis")), "--loglevel", "notice"]))
    metrics_dir = Path("var/metrics")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    python = sys.executable
    if demo_api is not None:
        from ivr.twilio_standin import DEMO_API_FILE

        children.append(Child("twilio", [python, "-m", "ivr.twilio_standin.rest_api",
                                         "--port", demo_api.rsplit(":", 1)[1]]))
        DEMO_API_FILE.write_text(demo_api + "\n")
    children += [
        Child("web", [python, "-m", "gunicorn", "-c", "python:ivr.gunicorn_conf", "--bind", f"{args.host}:{args.port}",
                      "--workers", str(args.web_workers), "ivr.app:create_app()"]),
        Child("worker", [python, "-m", "ivr.cli", "worker"]),
        Child("sweeper", [python, "-m", "ivr.cli", "sweep", "--forever"]),
    ]  # fmt: skip
    _announce(settings, public, env, demo_api)
    timeouts = dict(STOP_TIMEOUT_S, worker=float(args.stop_timeout))
    try:
        return LineSupervisor(children, env, timeouts).run()
    finally:
        if demo_api is not None:
            from ivr.twilio_standin import DEMO_API_FILE

            DEMO_API_FILE.unlink(missing_ok=True)


def _free_port_near(port: int) -> int:
    """This port if it is free on 127.0.0.1, else one the system picks."""
    if port_is_free("127.0.0.1", port):
        return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _flows_can_serve(settings: Settings) -> bool:
    """Every line's flow is valid, or a stored good version stands in (said loudly); else one line per problem."""
    from ivr.db import make_engine, make_sessionmaker
    from ivr.flow.catalog import FlowCatalog
    from ivr.flow.problems import FlowError
    from ivr.services import DatabaseFlowArchive

    engine = make_engine(settings.database_url)
    try:
        FlowCatalog.open(settings.flow_path, prompts_dir=settings.prompts_dir,
                         archive=DatabaseFlowArchive(make_sessionmaker(engine)))
    except FlowError as exc:
        for problem in exc.problems:
            log.error("flow.invalid", problem=str(problem), hint="fix the file; the line will not start")
        return False
    finally:
        engine.dispose()
    return True


def _announce(settings: Settings, public: str, env: dict[str, str], demo_api: str | None = None) -> None:
    """The URLs to give Twilio, as a log line (and a readable banner on a terminal)."""
    fields = {
        "voice_url": f"{public}/voice/incoming",
        "fallback_url": f"{public}/voice/fallback",
        "status_callback": f"{public}/voice/status",
        "console": f"{public}/operator/",
        "health": f"{public}/readyz",
        "database": mask_url(settings.database_url),
        "redis": mask_url(env["REDIS_URL"]),
        "recordings": str(settings.recordings_dir),
    }
    problems = twilio_credential_problems(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
    if demo_api is not None:
        fields["demo_twilio_api"] = demo_api
        fields["demo_call"] = f"ivr simulate --into {public} --keys 2,1,05,,3"
    if sys.stdout.isatty():
        placeholder = ("The Twilio credentials are placeholders (the ones `ivr up` wrote into var/local.env): no real\n"
                       "call can reach this line until your account's SID and auth token are there.\n"
                       if problems else "")
        demo = (f"Demo: recordings are served by a Twilio stand-in at {demo_api}. Place a call with\n"
                f"  {fields['demo_call']}\n" if demo_api else "")
        first_user = ("The console has no account at first: ivr user add NAME --role supervisor (it asks for a\n"
                      "password; a supervisor sees every region's cases, an admin manages flows and accounts).\n")
        print(
            "\nHotline 1424 is starting.\n"
            f"  Voice URL (POST):        {fields['voice_url']}\n"
            f"  Fallback URL (POST):     {fields['fallback_url']}\n"
            f"  Status callback (POST):  {fields['status_callback']}\n"
            f"  Operators' console:      {fields['console']}\n"
            f"  Health:                  {fields['health']}\n"
            f"  Database: {fields['database']}   Redis: {fields['redis']}   Recordings: {fields['recordings']}\n"
            f"{placeholder}{demo}{first_user}"
            "Give Twilio a public https URL (a tunnel or proxy) and set IVR_PUBLIC_BASE_URL to it.\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
    else:
        log.info("line.starting", **fields)
    if problems:
        log.warning("twilio.placeholder_credentials", problems=problems,
                    hint="put your account's SID and auth token in var/local.env; until then Twilio's "
                         "requests are refused and nothing is fetched from Twilio")


class LineSupervisor:
    """Runs the children, restarts one that dies (with back-off), stops them all in order."""

    def __init__(self, children: list[Child], env: dict[str, str], timeouts: dict[str, float]) -> None:
        self.children = children
        self.env = env
        self.timeouts = timeouts
        self.stopping = threading.Event()
        self.hurry = threading.Event()

    def run(self) -> int:
        """Start everything, watch until Ctrl-C or SIGTERM, then stop in order; the exit status."""
        become_subreaper()
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        code = 0
        try:
            for child in self.children:
                if self.stopping.is_set():
                    break
                self._start(child)
                if child.name == "redis":
                    self._wait_for_redis()
            code = self._watch()
        finally:
            self._stop_all()
        return code

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.stopping.is_set():
            self.hurry.set()  # a second Ctrl-C: stop waiting for jobs
            log.warning("line.hurrying", signal=signal.Signals(signum).name, hint="not waiting for jobs any more")
        self.stopping.set()

    def _start(self, child: Child) -> None:
        # Own session, own process group: the terminal's Ctrl-C goes to `ivr up` alone.
        piped = child.name == "redis"
        child.process = subprocess.Popen(
            child.command, env=self.env, start_new_session=True,
            stdout=subprocess.PIPE if piped else None, stderr=subprocess.STDOUT if piped else None,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        child.started_at = time.monotonic()
        child.restart_at = None
        if piped and child.process.stdout is not None:
            reader = threading.Thread(target=relay_redis_lines, args=(child.process.stdout,), daemon=True,
                                      name="redis-log")
            reader.start()
            child.threads.append(reader)
        log.info("process.started", process=child.name, pid=child.process.pid)

    def _wait_for_redis(self) -> None:
        port = int(self.env["REDIS_URL"].rsplit(":", 1)[-1].split("/")[0])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self.stopping.is_set():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
            time.sleep(0.1)

    def _watch(self) -> int:
        while not self.stopping.wait(0.5):
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        self._start(child)
                    continue
                if child.process is None or child.process.poll() is None:
                    continue
                code = child.process.returncode
                self._kill_group(child)  # its own leftovers, before a new one starts
                child.rapid_exits = child.rapid_exits + 1 if now - child.started_at < RAPID_EXIT_S else 0
                if child.rapid_exits >= MAX_RAPID_EXITS:
                    log.error("process.keeps_exiting", process=child.name, exit_code=code, times=child.rapid_exits,
                              hint="see its lines above; stopping the line")
                    return 1
                delay = min(30.0, 2.0 ** child.rapid_exits)
                log.warning("process.exited", process=child.name, exit_code=code, restart_in_s=delay)
                child.restart_at = now + delay
        return 0

    def _stop_all(self) -> None:
        by_name = {child.name: child for child in self.children}
        for name in STOP_ORDER:
            child = by_name.get(name)
            if child is None:
                continue
            if child.is_running:
                self._stop(child)
            self._kill_group(child)
            for thread in child.threads:
                thread.join(2)
        # Anything that slipped out of its group (orphans come to us: we are their subreaper).
        for pid in descendants(os.getpid()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        log.info("line.stopped")

    def _stop(self, child: Child) -> None:
        assert child.process is not None
        bound = self.timeouts.get(child.name, 15.0)
        log.info("line.stopping", process=child.name, waiting_for=WAITING_FOR.get(child.name, "it to exit"),
                 at_most_s=bound)
        # Only the main process is asked: gunicorn and RQ stop their own children gracefully
        # (a work horse killed by the signal would lose its job).
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + bound
        while child.process.poll() is None and time.monotonic() < deadline and not self.hurry.is_set():
            time.sleep(0.1)
        if child.process.poll() is None:
            log.warning("line.killing", process=child.name, after_s=bound)
            self._kill_group(child)
            child.process.wait(10)

    @staticmethod
    def _kill_group(child: Child) -> None:
        """Kill the child's process group and everything it started (RQ's work horse has a group of its own)."""
        if child.process is None:
            return
        for pid in descendants(child.process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signal.SIGKILL)


def become_subreaper() -> None:
    """Have orphans of our children re-parented to us (Linux), so none outlives `ivr up` unseen."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_child_subreaper = 36
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def descendants(root: int) -> set[int]:
    """Every living process below `root` (read from /proc; empty where there is none)."""
    parents: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def relay_redis_lines(stream: IO[bytes]) -> None:
    """Redis's own output as the line's log lines: its level kept, its banner art dropped."""
    redis_log = get_logger("redis")
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        match = _REDIS_LINE.match(line)
        if match is None:
            continue  # blank lines and the ASCII-art logo
        level, message = _REDIS_LEVELS[match[1]], match[2]
        getattr(redis_log, level)(message)
