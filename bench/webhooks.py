"""How fast the voice webhooks answer under gunicorn, against two yardsticks: `python -m bench.webhooks`.

Run from the repository root. Three gunicorn servers with the same settings (`-k sync -w 2`,
127.0.0.1, no access log) serve, in one run:

- `ref-bare`: a WSGI callable answering constant TwiML (bench.reference_apps:bare);
- `ref-flask`: Flask parsing the form and checking the Twilio signature (bench.reference_apps:flask_signed());
- the real app, `ivr.app:create_app()` from environment variables: a migrated SQLite file in a
  temp dir, a private redis-server on a free port, signatures on, measured at `app-incoming`
  (POST /voice/incoming, a new call) and `app-step` (POST /voice/step?s=<token>, Digits=2 at the
  language menu, with a real token from a first /voice/incoming).

Every request is the 28-field body Twilio posts for an inbound call (tests.support.twilio_sim),
signed for its public URL; the body is fixed, so one signature per endpoint is right. Before
measuring, each target must answer 200 with TwiML and a forged signature must get 403. Each
measurement is `wrk -t2 -c8 -d10s --latency` after a 2 s warm-up, in 3 interleaved rounds
(about 2.5 minutes in all); the table shows medians of req/s, p50, p99 and the CPU the workers
and redis-server spent per request (read from /proc, the figure least moved by other work on
the machine). The figures go between the webhooks markers of bench/README.md.

The app logs one JSON line per call; gunicorn's stderr goes to a file in the temp dir so that
logging to a terminal or pipe does not slow the figures.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import datetime as dt
import functools
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

from bench.machine import cpu_model
from tests.support.services import RedisServer, free_port
from tests.support.twilio_sim import TwilioSimulator

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
START_MARKER = "<!-- webhooks:start -->"
END_MARKER = "<!-- webhooks:end -->"

AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 30 + "14"
PUBLIC_BASE_URL = "https://ivr.example.test"
SECRET_KEY = "bench-secret-key"
DATA_KEY = base64.b64encode(b"b" * 32).decode()
CALL_SID = "CA" + "5" * 32
CALLER = "+77012345678"
HOTLINE = "+77172141424"

# The pass mark for menu steps, relative to the minimal signed Flask app.
TARGET_THROUGHPUT_RATIO = 0.8
TARGET_P99_RATIO = 1.5

# Environment variables of the parent that must not leak into any server.
_LEAKY_PREFIXES = ("IVR_", "TWILIO_", "DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "GUNICORN_CMD_ARGS")


class BenchError(Exception):
    """The benchmark cannot give honest figures (a target failed, wrk saw errors)."""


@dataclass(frozen=True)
class Conditions:
    """What every measurement runs under."""

    workers: int = 2
    threads: int = 2
    connections: int = 8
    duration_s: int = 10
    warmup_s: int = 2
    rounds: int = 3


@dataclass
class Server:
    """One gunicorn serving one WSGI app on a loopback port."""

    name: str
    app_spec: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """Where wrk and the checks send requests."""
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Target:
    """One endpoint measured: a server, a path with query, a fixed signed body."""

    name: str
    server: Server
    path: str
    form: dict[str, str]
    signature: str = ""
    results: list[WrkResult] = field(default_factory=list)

    @property
    def body(self) -> str:
        """The urlencoded body, as Twilio sends it."""
        return urlencode(self.form)

    @property
    def public_url(self) -> str:
        """The URL Twilio would have requested and signed."""
        return PUBLIC_BASE_URL + self.path


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reports."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: dict[str, int]
    server_cpu_ms: float = 0.0
    """CPU the gunicorn workers and redis-server spent per request: unlike req/s, barely moved
    by other work on the machine."""


@dataclass(frozen=True)
class Summary:
    """Medians of one target over the rounds."""

    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float
    per_round_rps: tuple[float, ...]
    per_round_p99_ms: tuple[float, ...]


# ---------------------------------------------------------------- request bodies


def twilio_form(**extra: str) -> dict[str, str]:
    """The 28 fields Twilio posts with every voice webhook of an inbound call, plus `extra`."""
    # Only voice_form is used, which sends nothing: no transport needed.
    sim = TwilioSimulator(
        None,  # type: ignore[arg-type]
        auth_token=AUTH_TOKEN,
        public_base_url=PUBLIC_BASE_URL,
        account_sid=ACCOUNT_SID,
    )
    form = sim.voice_form(CALL_SID, CALLER, HOTLINE, None, call_status=extra.pop("CallStatus", "in-progress"))
    form.update(extra)
    return form


def sign(target: Target) -> None:
    """Compute the target's X-Twilio-Signature once; its body never changes."""
    target.signature = RequestValidator(AUTH_TOKEN).compute_signature(target.public_url, target.form)


def headers_of(target: Target, *, signature: str | None = None) -> dict[str, str]:
    """The headers Twilio sends with a webhook."""
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": target.signature if signature is None else signature,
        "User-Agent": "TwilioProxy/1.1",
        "Accept": "*/*",
    }


# ---------------------------------------------------------------- processes


def clean_environ(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without anything that could configure the app, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def start_gunicorn(server: Server, conditions: Conditions, env: dict[str, str]) -> None:
    """Start gunicorn in its own session (a terminal Ctrl-C reaches us, and we stop it)."""
    args = [
        sys.executable, "-m", "gunicorn",
        "-k", "sync", "-w", str(conditions.workers),
        "--bind", f"127.0.0.1:{server.port}",
        "--graceful-timeout", "5",
        *extra_gunicorn_args(),
        server.app_spec,
    ]
    log = server.log_path.open("wb")
    try:
        server.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


@functools.cache
def extra_gunicorn_args() -> tuple[str, ...]:
    """Newer gunicorns open a control socket at one fixed path; three servers must not share it."""
    help_text = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True, check=False
    ).stdout
    return ("--no-control-socket",) if "--no-control-socket" in help_text else ()


def stop_gunicorn(server: Server) -> None:
    """SIGTERM the master (it stops its workers), SIGKILL the group if it lingers."""
    process = server.process
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only gunicorn and its workers
        process.wait(5)


def wait_until_listening(server: Server, timeout_s: float = 30) -> None:
    """Block until the port accepts connections; fail with the server's log if it died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise BenchError(f"{server.name}: gunicorn exited ({server.process.returncode}):\n{tail(server.log_path)}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", server.port)) == 0:
                return
        time.sleep(0.1)
    raise BenchError(f"{server.name}: not listening after {timeout_s} s:\n{tail(server.log_path)}")


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, so `finally` blocks stop every process we started."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU seconds the processes have used so far (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def children_of(pid: int) -> list[int]:
    """The processes whose parent is pid (gunicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


# ---------------------------------------------------------------- checks


def post(session: requests.Session, target: Target, *, signature: str | None = None) -> requests.Response:
    """One request with the target's exact body and headers."""
    return session.post(
        target.server.base_url + target.path, data=target.body.encode(),
        headers=headers_of(target, signature=signature), timeout=30, allow_redirects=False,
    )


def parse_twiml(target_name: str, response: requests.Response) -> ET.Element:
    """The TwiML root of a 200 response; BenchError for anything else."""
    if response.status_code != 200:
        raise BenchError(f"{target_name}: answered {response.status_code}, not 200:\n{response.text[:500]}")
    if "xml" not in response.headers.get("Content-Type", ""):
        raise BenchError(f"{target_name}: Content-Type {response.headers.get('Content-Type')!r} is not TwiML")
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError as exc:
        raise BenchError(f"{target_name}: body is not XML ({exc}):\n{response.text[:500]}") from None
    if root.tag != "Response":
        raise BenchError(f"{target_name}: root element is <{root.tag}>, not <Response>")
    return root


def verify(session: requests.Session, target: Target) -> None:
    """The target answers 200 with TwiML when signed, and 403 when the signature is forged."""
    root = parse_twiml(target.name, post(session, target))
    if target.name.startswith("app-") and root.find("Gather") is None:
        # The fallback (unreadable state) records at once; the menu always gathers.
        raise BenchError(f"{target.name}: expected a menu <Gather>, got {ET.tostring(root)[:300]!r}")
    if target.name != "ref-bare":
        forged = post(session, target, signature=base64.b64encode(b"x" * 20).decode())
        if forged.status_code != 403:
            raise BenchError(f"{target.name}: a forged signature got {forged.status_code}, not 403")


def step_path_from_incoming(session: requests.Session, incoming: Target) -> str:
    """Answer a new call once and return the path and query of its language menu's Gather action."""
    root = parse_twiml(incoming.name, post(session, incoming))
    gather = root.find("Gather")
    if gather is None or not gather.get("action"):
        raise BenchError(f"/voice/incoming gave no <Gather action>: {ET.tostring(root)[:300]!r}")
    action = urlsplit(gather.get("action", ""))
    if f"{action.scheme}://{action.netloc}" != PUBLIC_BASE_URL or action.path != "/voice/step":
        raise BenchError(f"unexpected Gather action {gather.get('action')!r}")
    return f"{action.path}?{action.query}"


# ---------------------------------------------------------------- wrk


def lua_string(value: str) -> str:
    """A Lua string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_wrk_script(target: Target, directory: Path) -> Path:
    """A wrk script that POSTs the target's fixed body with its constant signature."""
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(target.body)}"]
    for name, value in headers_of(target).items():
        lines.append(f"wrk.headers[{lua_string(name)}] = {lua_string(value)}")
    path = directory / f"{target.name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_duration_ms(text: str) -> float:
    """wrk's '1.23ms' / '850.00us' / '1.02s' in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise BenchError(f"cannot read wrk duration {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Requests/s, p50, p99, request count and error counts from `wrk --latency` output."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise BenchError(f"wrk output lacks {pattern!r}:\n{output}")
        return match

    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests_per_s=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=parse_duration_ms(find(r"^\s+50%\s+(\S+)").group(1)),
        p99_ms=parse_duration_ms(find(r"^\s+99%\s+(\S+)").group(1)),
        requests=int(find(r"^\s+(\d+) requests in").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
        if errors else {},
    )


def run_wrk(target: Target, script: Path, conditions: Conditions, duration_s: int) -> WrkResult:
    """One wrk run; BenchError unless every response was 2xx and no socket failed."""
    args = [
        "wrk", f"-t{conditions.threads}", f"-c{conditions.connections}", f"-d{duration_s}s",
        "--latency", "-s", str(script), target.server.base_url + target.path,
    ]
    # Bounded: wrk stops itself after duration_s; the margin covers start-up and its report.
    done = subprocess.run(args, capture_output=True, text=True, timeout=duration_s + 30, check=False)
    if done.returncode != 0:
        raise BenchError(f"{target.name}: wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = parse_wrk(done.stdout)
    if result.non_2xx:
        raise BenchError(f"{target.name}: wrk saw {result.non_2xx} non-2xx responses; figures would be worthless")
    if any(result.socket_errors.values()):
        raise BenchError(f"{target.name}: wrk saw socket errors {result.socket_errors}:\n{done.stdout}")
    if result.requests == 0:
        raise BenchError(f"{target.name}: wrk completed no request")
    return result


# ---------------------------------------------------------------- report


def summarise(target: Target) -> Summary:
    """Medians over the rounds."""
    rs = target.results
    return Summary(
        name=target.name,
        requests_per_s=statistics.median(r.requests_per_s for r in rs),
        p50_ms=statistics.median(r.p50_ms for r in rs),
        p99_ms=statistics.median(r.p99_ms for r in rs),
        server_cpu_ms=statistics.median(r.server_cpu_ms for r in rs),
        per_round_rps=tuple(r.requests_per_s for r in rs),
        per_round_p99_ms=tuple(r.p99_ms for r in rs),
    )


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    from importlib.metadata import version

    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run([*git, "status", "--porcelain", "ivr"], capture_output=True, text=True, check=False)
    code = (commit.stdout.strip() or "?") + (" with uncommitted changes under ivr/" if dirty.stdout.strip() else "")
    return {
        "code": code,
        "nproc": nproc or str(os.cpu_count()),
        "cpu": cpu_model(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "gunicorn": version("gunicorn"),
        "flask": version("flask"),
        "wrk": (wrk_version.stdout or wrk_version.stderr).split("[")[0].strip(),
    }


def render(
    summaries: Sequence[Summary], conditions: Conditions, command: str, info: dict[str, str],
    started_at: dt.datetime, log_lines: int, load_before: float,
) -> str:
    """The Markdown block for bench/README.md (and the terminal)."""
    by_name = {s.name: s for s in summaries}
    rows = [
        "| target | req/s | p50 ms | p99 ms | server CPU ms/req | req/s per round | p99 ms per round |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for s in summaries:
        rows.append(
            f"| {s.name} | {s.requests_per_s:,.0f} | {s.p50_ms:.2f} | {s.p99_ms:.2f} | {s.server_cpu_ms:.3f} | "
            f"{' / '.join(f'{v:,.0f}' for v in s.per_round_rps)} | "
            f"{' / '.join(f'{v:.2f}' for v in s.per_round_p99_ms)} |"
        )
    ratios = [
        "| endpoint | req/s ÷ ref-bare | p99 ÷ ref-bare | req/s ÷ ref-flask | p99 ÷ ref-flask "
        "| server CPU ÷ ref-flask |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("app-incoming", "app-step"):
        s, bare, flask = by_name[name], by_name["ref-bare"], by_name["ref-flask"]
        ratios.append(
            f"| {name} | {s.requests_per_s / bare.requests_per_s:.2f} | {s.p99_ms / bare.p99_ms:.2f} | "
            f"{s.requests_per_s / flask.requests_per_s:.2f} | {s.p99_ms / flask.p99_ms:.2f} | "
            f"{s.server_cpu_ms / flask.server_cpu_ms:.2f} |"
        )
    step, flask = by_name["app-step"], by_name["ref-flask"]
    thr_ratio, p99_ratio = step.requests_per_s / flask.requests_per_s, step.p99_ms / flask.p99_ms
    is_met = thr_ratio >= TARGET_THROUGHPUT_RATIO and p99_ratio <= TARGET_P99_RATIO
    verdict = (
        f"**Target {'met' if is_met else 'NOT met'}**: menu steps at {thr_ratio:.2f}× the signed Flask app's "
        f"throughput (needs ≥ {TARGET_THROUGHPUT_RATIO}) and {p99_ratio:.2f}× its p99 (needs ≤ {TARGET_P99_RATIO})."
    )
    c = conditions
    return "\n".join([
        f"Measured {started_at:%Y-%m-%d %H:%M} UTC with `{command}`, on commit {info['code']}.",
        "",
        f"Machine: {info['nproc']} CPUs (`nproc`), {info['cpu']}, {info['kernel']}; Python {info['python']}, "
        f"gunicorn {info['gunicorn']}, Flask {info['flask']}, {info['wrk']}. "
        f"1-minute load average before the run: {load_before:.2f} (other work on the machine skews the figures; "
        "the rounds are interleaved so that the ratios suffer least).",
        "",
        f"Conditions: `gunicorn -k sync -w {c.workers}` on 127.0.0.1 (no access log), "
        f"`wrk -t{c.threads} -c{c.connections} -d{c.duration_s}s --latency` after a {c.warmup_s} s warm-up, "
        f"{c.rounds} interleaved rounds, medians. wrk and gunicorn share the machine's CPUs. Server CPU is "
        "what the two gunicorn workers and redis-server used per request (/proc). App logging on "
        f"(INFO, JSON, {log_lines:,} lines to a file, not a terminal); Prometheus multiprocess metrics on, "
        "as `ivr up` runs it.",
        "",
        *rows,
        "",
        *ratios,
        "",
        verdict,
    ])


def update_readme(block: str, path: Path = README) -> None:
    """Replace what lies between the webhooks markers; add the section if the file lacks it.

    Read and written at the last moment, touching nothing outside the markers, since other
    sections of this file belong to other benchmarks.
    """
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    generated = f"{START_MARKER}\n{block}\n{END_MARKER}"
    if START_MARKER in text and END_MARKER in text:
        head, _, rest = text.partition(START_MARKER)
        _, _, after = rest.partition(END_MARKER)
        text = head + generated + after
    else:
        text = text.rstrip("\n") + f"\n\n## Webhooks\n\n{generated}\n"
    path.write_text(text)


# ---------------------------------------------------------------- main


def app_environ(work: Path, database_url: str, redis_url: str) -> dict[str, str]:
    """Everything `create_app()` reads, and nothing from a local env file."""
    metrics_dir = work / "prometheus"
    metrics_dir.mkdir()
    return {
        "IVR_ENV_FILE": "",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "IVR_SECRET_KEY": SECRET_KEY,
        "IVR_DATA_KEY": DATA_KEY,
        "IVR_VERIFY_SIGNATURES": "true",
        "IVR_FLOW_PATH": str(ROOT / "config" / "flow.yaml"),
        "IVR_PROMPTS_DIR": str(ROOT / "config" / "prompts"),
        "IVR_RECORDINGS_DIR": str(work / "recordings"),
        "IVR_MODEL_CACHE_DIR": str(work / "models"),
        "IVR_LOG_LEVEL": "INFO",
        "IVR_LOG_JSON": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }


def measure(
    targets: Sequence[Target], conditions: Conditions, scripts: dict[str, Path], redis: subprocess.Popen[bytes]
) -> None:
    """Interleaved rounds: every target once per round, each after its own warm-up."""
    for round_no in range(1, conditions.rounds + 1):
        for target in targets:
            run_wrk(target, scripts[target.name], conditions, conditions.warmup_s)
            server = target.server.process
            assert server is not None
            pids = [*children_of(server.pid), redis.pid]
            cpu_before = cpu_seconds(pids)
            result = run_wrk(target, scripts[target.name], conditions, conditions.duration_s)
            server_cpu_ms = 1000 * (cpu_seconds(pids) - cpu_before) / result.requests
            if server.poll() is not None or redis.poll() is not None:
                # Without Redis the app skips its call tracker and would look faster than it is.
                raise BenchError(f"{target.name}: gunicorn or redis-server stopped during the measurement")
            result = dataclasses.replace(result, server_cpu_ms=server_cpu_ms)
            target.results.append(result)
            print(
                f"  round {round_no}/{conditions.rounds} {target.name:<13} {result.requests_per_s:9,.0f} req/s  "
                f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  server CPU {server_cpu_ms:.3f} ms/req",
                flush=True,
            )


def run(conditions: Conditions, command: str, *, write_readme: bool, keep_dir: bool) -> int:
    """Start everything, check it, measure, report; stop every process we started."""
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (apt-get install -y wrk)")
    started_at = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()[0]
    if load_before > 0.25 * (os.cpu_count() or 1):
        print(f"warning: 1-minute load average is {load_before:.2f} before the run; figures will be noisy",
              file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    servers: list[Server] = []
    redis_server: RedisServer | None = None
    try:
        from ivr.migrations import upgrade

        database_url = f"sqlite:///{work / 'ivr.db'}"
        upgrade(database_url)
        # Not the tests' fsync-per-write append-only file: the call tracker's keys are best-effort.
        redis_server = RedisServer(work / "redis", appendonly=False).start()
        env = clean_environ(app_environ(work, database_url, redis_server.url))

        bare = Server("ref-bare", "bench.reference_apps:bare", free_port(), work / "ref-bare.log")
        flask = Server("ref-flask", "bench.reference_apps:flask_signed()", free_port(), work / "ref-flask.log")
        app = Server("app", "ivr.app:create_app()", free_port(), work / "app.log")
        servers = [bare, flask, app]
        for server in servers:
            start_gunicorn(server, conditions, env)
        for server in servers:
            wait_until_listening(server)

        incoming_form = twilio_form(CallStatus="ringing")
        step_form = twilio_form(Digits="2", FinishedOnKey="", msg="Gather End")
        incoming = Target("app-incoming", app, "/voice/incoming", incoming_form)
        sign(incoming)
        session = requests.Session()
        session.trust_env = False  # loopback only, never through a proxy from the environment
        step = Target("app-step", app, step_path_from_incoming(session, incoming), step_form)
        targets = [
            Target("ref-bare", bare, "/voice/incoming", incoming_form),
            Target("ref-flask", flask, "/voice/incoming", incoming_form),
            incoming,
            step,
        ]
        scripts = {}
        for target in targets:
            sign(target)
            verify(session, target)
            scripts[target.name] = write_wrk_script(target, work)
        session.close()
        print(f"all {len(targets)} targets answer 200 with TwiML and refuse forged signatures; measuring", flush=True)

        # The forged-signature checks above were refused and logged; only what follows counts.
        checked_log_bytes = app.log_path.stat().st_size
        assert redis_server.process is not None
        measure(targets, conditions, scripts, redis_server.process)

        for server in servers:
            stop_gunicorn(server)
        with app.log_path.open("rb") as log:
            log.seek(checked_log_bytes)
            app_log = log.read().decode(errors="replace")
        if "Traceback" in app_log or "webhook.rejected" in app_log or '"level": "error"' in app_log:
            raise BenchError(f"the app logged errors while measured:\n{tail(app.log_path)}")
        log_lines = sum(1 for line in app_log.splitlines() if line.startswith("{"))
        block = render(
            [summarise(t) for t in targets], conditions, command, machine(), started_at, log_lines, load_before
        )
        print()
        print(block)
        if write_readme:
            update_readme(block)
            print(f"\nwritten between the webhooks markers of {README.relative_to(ROOT)}")
        return 0
    finally:
        for server in servers:
            stop_gunicorn(server)
        if redis_server is not None:
            redis_server.stop()
        if keep_dir:
            print(f"logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_reporting_errors(prog: str, benchmark: Callable[[], int]) -> int:
    """Run a benchmark: a BenchError is one line and exit 1; Ctrl-C or SIGTERM stop it with 130."""
    with sigterm_as_interrupt():
        try:
            return benchmark()
        except BenchError as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"{prog}: interrupted; every server stopped", file=sys.stderr)
            return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.split("\n\n")[0])
    defaults = Conditions()
    parser.add_argument("--duration", type=int, default=defaults.duration_s, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=defaults.warmup_s, help="seconds of warm-up before each")
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--no-readme", action="store_true", help="print only; leave bench/README.md alone")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir with the servers' logs")
    args = parser.parse_args(argv)
    conditions = Conditions(duration_s=args.duration, warmup_s=args.warmup, rounds=args.rounds)
    command = " ".join(["python -m bench.webhooks", *(argv if argv is not None else sys.argv[1:])])
    return run_reporting_errors(
        "bench.webhooks", lambda: run(conditions, command, write_readme=not args.no_readme, keep_dir=args.keep)
    )


if __name__ == "__main__":
    sys.exit(main())
