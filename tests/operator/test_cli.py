"""`ivr user add/passwd/set/disable/enable/unlock/list/token` on a real database."""

from __future__ import annotations

import io

import pytest

from ivr import accounts
from ivr.cli import main
from ivr.db import make_engine, make_sessionmaker


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Runs `ivr ...` against a fresh database; feeds the password on standard input."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("IVR_ENV_FILE", "")

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    run.sessions = make_sessionmaker(make_engine(sqlite_url))  # type: ignore[attr-defined]
    return run


def test_user_lifecycle_from_the_command_line(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("user", "add", "aigerim", "--region", "02", "--region", "13", "--name", "Айгерим",
                       "--password-stdin", stdin="correct horse battery\n")
    assert code == 0 and "created operator aigerim for regions 02, 13" in out
    assert cli("user", "add", "aigerim", "--region", "02", "--password-stdin", stdin="x" * 12 + "\n")[0] == 1
    code, _, err = cli("user", "add", "bolat", "--region", "99", "--password-stdin", stdin="x" * 12 + "\n")
    assert code == 1 and "unknown region" in err
    assert cli("user", "add", "dana", "--role", "supervisor", "--password-stdin", stdin="x" * 12 + "\n")[0] == 0

    for _ in range(accounts.MAX_FAILED_LOGINS):
        accounts.authenticate(cli.sessions, "aigerim", "wrong")
    code, out, _ = cli("user", "list")
    assert code == 0 and "aigerim" in out and "locked" in out and "02,13" in out and "all" in out
    assert cli("user", "unlock", "aigerim")[0] == 0
    assert cli("user", "passwd", "aigerim", "--password-stdin", stdin="another long password\n")[0] == 0
    assert cli("user", "set", "aigerim", "--region", "05")[0] == 0
    assert cli("user", "disable", "aigerim")[0] == 0
    with cli.sessions.begin() as session:
        operator = accounts.get_operator(session, "aigerim")
        assert (operator.is_active, operator.region_codes) == (False, ["05"])
        assert accounts.verify_password(operator.password_hash, "another long password")
    assert cli("user", "enable", "aigerim")[0] == 0
    code, out, _ = cli("user", "token", "aigerim", "--name", "registry")
    assert code == 0 and out.startswith("ivr_")
    with cli.sessions.begin() as session:
        assert accounts.principal_for_token(session, out.strip()).username == "aigerim"
    assert cli("user", "passwd", "nobody", "--password-stdin", stdin="another long password\n")[0] == 1
