"""`ivr user ...`: create and manage console accounts from a shell on the server.

Passwords are read from the terminal (no echo) or, with --password-stdin, from standard input,
never from the command line, where `ps` and shell history would keep them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from ivr import accounts
from ivr.db import make_engine, make_sessionmaker
from ivr.settings import load_settings

# Audit events name the shell user who ran the command, not just "cli".
ACTOR = f"cli:{getpass.getuser()}"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `ivr user ...` to the `ivr` command."""
    user = sub.add_parser("user", help="console accounts: operators, supervisors, admins")
    user_sub = user.add_subparsers(dest="user_command", required=True)

    add = user_sub.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", choices=accounts.ROLES, default="operator")
    add.add_argument("--region", action="append", default=[], dest="regions",
                     help="a region code the operator works on (repeat for several)")
    add.add_argument("--name", default="", help="the name shown in the console")
    add.add_argument("--locale", choices=accounts.LOCALES, default="ru")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_add)

    passwd = user_sub.add_parser("passwd", help="set a new password (also unlocks the account)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=cmd_passwd)

    change = user_sub.add_parser("set", help="change role, regions, name or language")
    change.add_argument("username")
    change.add_argument("--role", choices=accounts.ROLES)
    change.add_argument("--region", action="append", dest="regions",
                        help="replaces the account's regions (repeat for several)")
    change.add_argument("--name")
    change.add_argument("--locale", choices=accounts.LOCALES)
    change.set_defaults(func=cmd_set)

    for name, help_text, func in (
        ("disable", "stop an account from signing in (ends its sessions and tokens)", cmd_disable),
        ("enable", "let a disabled account sign in again", cmd_enable),
        ("unlock", "lift a lock-out after too many wrong passwords", cmd_unlock),
    ):
        command = user_sub.add_parser(name, help=help_text)
        command.add_argument("username")
        command.set_defaults(func=func)

    user_sub.add_parser("list", help="every account").set_defaults(func=cmd_list)

    token = user_sub.add_parser("token", help="issue an API token acting as this account")
    token.add_argument("username")
    token.add_argument("--name", default="api", help="what the token is for, e.g. the other system's name")
    token.set_defaults(func=cmd_token)


@contextmanager
def _session() -> Iterator[Session]:
    settings = load_settings()
    engine = make_engine(settings.database_url, data_keys=settings.data_keys)
    try:
        with make_sessionmaker(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def _known_regions() -> set[str] | None:
    """Region codes of the configured flow; None (no check) if it cannot be read."""
    from ivr.flow.loading import load_flow
    from ivr.flow.problems import FlowError

    settings = load_settings()
    try:
        flow = load_flow(settings.flow_path, prompts_dir=settings.prompts_dir)
    except (FlowError, OSError):
        return None
    return {region.code for region in flow.doc.regions}


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise accounts.AccountError("the passwords differ")
    return first


def _run(action: object) -> int:
    try:
        action()  # type: ignore[operator]
    except accounts.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    """Create an account."""

    def action() -> None:
        known = _known_regions()
        password = _read_password(args.password_stdin)
        with _session() as session:
            operator = accounts.create_operator(
                session, username=args.username, password=password, role=args.role, regions=args.regions,
                display_name=args.name, locale=args.locale, known_regions=known, actor=ACTOR,
            )
            print(f"created {operator.role} {operator.username}" + (
                f" for regions {', '.join(operator.region_codes)}" if operator.region_codes else ""))

    return _run(action)


def cmd_passwd(args: argparse.Namespace) -> int:
    """Set a new password."""

    def action() -> None:
        with _session() as session:
            operator = accounts.get_operator(session, args.username)
            accounts.set_password(session, operator, _read_password(args.password_stdin), actor=ACTOR)
            print(f"password of {operator.username} changed; its sessions are signed out")

    return _run(action)


def cmd_set(args: argparse.Namespace) -> int:
    """Change role, regions, name or language."""

    def action() -> None:
        known = _known_regions() if args.regions is not None else None
        with _session() as session:
            operator = accounts.get_operator(session, args.username)
            accounts.update_operator(
                session, operator, role=args.role, regions=args.regions, display_name=args.name,
                locale=args.locale, known_regions=known, actor=ACTOR,
            )
            print(f"{operator.username}: {operator.role} {','.join(operator.region_codes) or '-'}")

    return _run(action)


def _toggle(username: str, is_active: bool) -> int:
    def action() -> None:
        with _session() as session:
            operator = accounts.get_operator(session, username)
            accounts.set_active(session, operator, is_active, actor=ACTOR)
            print(f"{operator.username} {'enabled' if is_active else 'disabled'}")

    return _run(action)


def cmd_disable(args: argparse.Namespace) -> int:
    """Disable an account."""
    return _toggle(args.username, False)


def cmd_enable(args: argparse.Namespace) -> int:
    """Enable an account."""
    return _toggle(args.username, True)


def cmd_unlock(args: argparse.Namespace) -> int:
    """Lift a lock-out."""

    def action() -> None:
        with _session() as session:
            operator = accounts.get_operator(session, args.username)
            accounts.unlock(session, operator, actor=ACTOR)
            print(f"{operator.username} unlocked")

    return _run(action)


def cmd_list(args: argparse.Namespace) -> int:
    """Print every account, one a line."""
    with _session() as session:
        rows = accounts.list_operators(session)
        print(f"{'USERNAME':<20} {'ROLE':<11} {'REGIONS':<24} {'STATE':<9} NAME")
        for operator in rows:
            state = "disabled" if not operator.is_active else (
                "locked" if accounts.is_locked(operator) else "active")
            regions = ",".join(operator.region_codes or []) or ("all" if operator.role == "supervisor" else "-")
            print(f"{operator.username:<20} {operator.role:<11} {regions:<24} {state:<9} {operator.display_name}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """Issue an API token and print it once."""

    def action() -> None:
        with _session() as session:
            operator = accounts.get_operator(session, args.username)
            token = accounts.issue_token(session, operator, args.name, actor=ACTOR)
            print(token)
            print(f"(acts as {operator.username}, {operator.role}; stored only as a hash: keep it now)",
                  file=sys.stderr)

    return _run(action)
