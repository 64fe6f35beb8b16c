"""Instructions per webhook, counted by valgrind: `python -m bench.webhook_instructions`.

`bench.webhooks` gives the figures the target is set in (req/s and p99 under gunicorn), but on
a small shared machine they swing by 10% and more between rounds. The number of instructions
a request executes does not: the same code counts the same, whatever else the machine runs.
This benchmark counts them with callgrind for the signed Flask reference and the two app
endpoints of `bench.webhooks`, with the same bodies, signatures and app configuration.

Each target is called in-process through its WSGI callable (no gunicorn, no sockets: what is
counted is the app's own work, which is what differs between the targets). After 300 warm-up
requests a child process answers N more; it runs once with N=100 and once with N=600 under
`valgrind --tool=callgrind`, and the difference divided by 500 is the cost of one request
(start-up and imports cancel out). Targets run side by side, one per CPU (about 4 minutes on
2 CPUs). Instruction counts miss what the CPU does with them (cache misses, system calls are
counted on the user side only), so they complement the wall-clock figures rather than replace
them. The figures go between the instructions markers of bench/README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import webhooks

ROOT = webhooks.ROOT
README = webhooks.README
START_MARKER = "<!-- instructions:start -->"
END_MARKER = "<!-- instructions:end -->"
TARGETS = ("ref-flask", "app-incoming", "app-step")
WARMUP_REQUESTS = 300
SHORT_RUN, LONG_RUN = 100, 600

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


# ---------------------------------------------------------------- child: answer N requests


def call(app: WsgiApp, environ: dict[str, Any], body: bytes) -> tuple[str, bytes]:
    """One request: status line and body."""
    status: list[str] = []
    request = dict(environ, **{"wsgi.input": io.BytesIO(body)})
    result = app(request, lambda line, headers, exc_info=None: status.append(line))
    try:
        return status[0], b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()


def signed(path: str, form: dict[str, str]) -> tuple[dict[str, Any], bytes]:
    """The WSGI environ gunicorn would build for this POST, signed for its public URL, and its body."""
    from werkzeug.test import EnvironBuilder

    target = webhooks.Target("x", None, path, form)  # type: ignore[arg-type]
    webhooks.sign(target)
    body = target.body.encode()
    path_only, _, query = path.partition("?")
    builder = EnvironBuilder(
        path=path_only, query_string=query, method="POST", data=body,
        headers=list(webhooks.headers_of(target).items()), base_url="http://127.0.0.1:8000",
    )
    try:
        return builder.get_environ(), body
    finally:
        builder.close()


def answer(name: str, requests: int) -> None:
    """The child: build the target in this process, check it answers TwiML, then serve `requests`."""
    from bench.reference_apps import flask_signed
    from ivr.app import create_app

    incoming_form = webhooks.twilio_form(CallStatus="ringing")
    if name == "ref-flask":
        app: WsgiApp = flask_signed().wsgi_app
    else:
        app = create_app().wsgi_app
    environ, body = signed("/voice/incoming", incoming_form)
    if name == "app-step":
        status, document = call(app, environ, body)
        gather = ET.fromstring(document).find("Gather") if status.startswith("200") else None
        if gather is None:
            raise SystemExit(f"{name}: /voice/incoming gave {status}, no <Gather>: {document[:300]!r}")
        action = urlsplit(gather.get("action", ""))
        step_form = webhooks.twilio_form(Digits="2", FinishedOnKey="", msg="Gather End")
        environ, body = signed(f"{action.path}?{action.query}", step_form)
    status, document = call(app, environ, body)
    if not status.startswith("200") or ET.fromstring(document).tag != "Response":
        raise SystemExit(f"{name}: answered {status}, not TwiML: {document[:300]!r}")
    for _ in range(WARMUP_REQUESTS + requests):
        call(app, environ, body)


# ---------------------------------------------------------------- parent: count


def count_instructions(name: str, requests: int, work: Path, env: dict[str, str]) -> int:
    """Instructions the child executed from start to exit (callgrind's total)."""
    out = work / f"callgrind.{name}.{requests}"
    args = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        sys.executable, "-m", "bench.webhook_instructions", "--child", name, "--requests", str(requests),
    ]
    # Bounded: under valgrind a child takes about a minute, almost all of it importing.
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise webhooks.BenchError(f"{name}: child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    match = re.search(r"^(?:summary|totals):\s+(\d+)", out.read_text(), re.MULTILINE)
    if not match:
        raise webhooks.BenchError(f"{name}: no instruction total in {out}")
    return int(match.group(1))


def per_request(name: str, work: Path, env: dict[str, str]) -> int:
    """Instructions of one request: (long run - short run) / the requests between them."""
    child_env = dict(env, PROMETHEUS_MULTIPROC_DIR=str(work / f"prometheus-{name}"))
    Path(child_env["PROMETHEUS_MULTIPROC_DIR"]).mkdir()
    short = count_instructions(name, SHORT_RUN, work, child_env)
    long = count_instructions(name, LONG_RUN, work, child_env)
    return round((long - short) / (LONG_RUN - SHORT_RUN))


def render(counts: dict[str, int], command: str, info: dict[str, str], started_at: dt.datetime) -> str:
    """The Markdown block for bench/README.md."""
    reference = counts["ref-flask"]
    rows = ["| target | instructions per request | ÷ ref-flask |", "|---|---:|---:|"]
    rows += [f"| {name} | {counts[name]:,} | {counts[name] / reference:.2f} |" for name in TARGETS]
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return "\n".join([
        f"Measured {started_at:%Y-%m-%d %H:%M} UTC with `{command}`, on commit {info['code']}.",
        "",
        f"Machine: {info['nproc']} CPUs, {info['cpu']}, {info['kernel']}; Python {info['python']}, "
        f"Flask {info['flask']}, {valgrind}. Counts are of user-space instructions, in-process "
        f"(WSGI called directly), per request: (run of {LONG_RUN} − run of {SHORT_RUN}) ÷ "
        f"{LONG_RUN - SHORT_RUN}, after {WARMUP_REQUESTS} warm-up requests.",
        "",
        *rows,
    ])


def run(command: str, *, write_readme: bool) -> int:
    """Start Redis, migrate a database, count every target, report."""
    if shutil.which("valgrind") is None:
        raise webhooks.BenchError("valgrind is not installed (apt-get install -y valgrind)")
    started_at = dt.datetime.now(dt.UTC)
    work = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    redis_server = None
    try:
        from ivr.migrations import upgrade
        from tests.support.services import RedisServer

        database_url = f"sqlite:///{work / 'ivr.db'}"
        upgrade(database_url)
        redis_server = RedisServer(work / "redis", appendonly=False).start()
        env = webhooks.clean_environ(webhooks.app_environ(work, database_url, redis_server.url))
        workers = max(1, min(len(TARGETS), os.cpu_count() or 1))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = {name: pool.submit(per_request, name, work, env) for name in TARGETS}
            counts = {name: future.result() for name, future in futures.items()}
        block = render(counts, command, webhooks.machine(), started_at)
        print(block)
        if write_readme:
            update_readme(block)
            print(f"\nwritten between the instructions markers of {README.relative_to(ROOT)}")
        return 0
    finally:
        if redis_server is not None:
            redis_server.stop()
        shutil.rmtree(work, ignore_errors=True)


def update_readme(block: str, path: Path = README) -> None:
    """Replace what lies between the instructions markers, touching nothing else."""
    text = path.read_text()
    if START_MARKER not in text or END_MARKER not in text:
        raise webhooks.BenchError(f"{path} lacks the {START_MARKER} … {END_MARKER} markers")
    head, _, rest = text.partition(START_MARKER)
    _, _, after = rest.partition(END_MARKER)
    path.write_text(f"{head}{START_MARKER}\n{block}\n{END_MARKER}{after}")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line; count, or serve as a counted child."""
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-readme", action="store_true", help="print only; leave bench/README.md alone")
    parser.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=SHORT_RUN, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        answer(args.child, args.requests)
        return 0
    command = " ".join(["python -m bench.webhook_instructions", *(argv if argv is not None else sys.argv[1:])])
    return webhooks.run_reporting_errors(
        "bench.webhook_instructions", lambda: run(command, write_readme=not args.no_readme)
    )


if __name__ == "__main__":
    sys.exit(main())
