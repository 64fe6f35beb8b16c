"""Fixtures of the admin tests: flow files to break, the `ivr` command run in-process, signed-in admins."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, DATA_KEY, PUBLIC_BASE_URL, ROOT
from tests.operator.console import console, fast_password_hashes, make_client  # noqa: F401

FLOW = ROOT / "config" / "flow.yaml"
PROMPTS = ROOT / "config" / "prompts"
PUBLIC_NUMBER = "+77172141424"
BUSINESS_NUMBER = "+77172141425"


def touch_newer(path: Path) -> None:
    """Give a file a visibly newer mtime, so a reload sees a change even within one clock tick."""
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))


def edit(path: Path, old: str, new: str, *, count: int = 1) -> None:
    """Replace text in a file the way an admin's editor saves it."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    touch_newer(path)


@pytest.fixture
def flow_dir(tmp_path: Path) -> Path:
    """A config folder holding a copy of the shipped flow (no lines.yaml)."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(FLOW, folder / "flow.yaml")
    return folder


@pytest.fixture
def two_lines(flow_dir: Path) -> Path:
    """A config folder with a public and a business line, each with its own flow file."""
    business = FLOW.read_text(encoding="utf-8").replace("name: public", "name: business", 1)
    business = business.replace(
        "ru: Здравствуйте! Телефон доверия.",
        "ru: Здравствуйте! Это линия 1424 для предпринимателей.", 1,
    )
    (flow_dir / "business.yaml").write_text(business, encoding="utf-8")
    (flow_dir / "lines.yaml").write_text(
        "default: public\n"
        "lines:\n"
        "  public:\n"
        "    flow: flow.yaml\n"
        f'    numbers: ["{PUBLIC_NUMBER}"]\n'
        "  business:\n"
        "    flow: business.yaml\n"
        f'    numbers: ["{BUSINESS_NUMBER}"]\n',
        encoding="utf-8",
    )
    return flow_dir


@dataclass
class Run:
    """What one `ivr ...` command printed and returned."""

    code: int
    out: str
    err: str


@pytest.fixture
def ivr(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        redis_url: str) -> Iterator[Callable[..., Run]]:
    """Run `ivr ARGS...` in this process with a test environment; keyword arguments set IVR_* variables."""
    base = {
        "IVR_ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "IVR_DATA_KEY": DATA_KEY,
        "IVR_SECRET_KEY": "test-secret-of-32-bytes-or-more-0123",
        "IVR_FLOW_PATH": str(FLOW),
        "IVR_PROMPTS_DIR": str(PROMPTS),
        "IVR_TRANSCRIBER": "none",
        "IVR_LOG_JSON": "true",
    }

    def run(*argv: str, stdin: str | None = None, **env: str) -> Run:
        named = {k if k.isupper() else f"IVR_{k.upper()}": v for k, v in env.items()}
        for name, value in {**base, **named}.items():
            monkeypatch.setenv(name, value)
        if stdin is not None:
            import io

            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        from ivr.cli import main

        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    yield run
