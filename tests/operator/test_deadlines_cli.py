"""`ivr deadlines check`: a person who edits the rule or calendar file learns at once what is wrong, and where."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ivr import cli, deadlines_cli
from ivr.cases import deadlines
from tests.conftest import ROOT


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("IVR_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("IVR_DEADLINES_PATH", str(ROOT / "config" / "deadlines.yaml"))
    monkeypatch.setenv("IVR_WORK_CALENDAR_PATH", str(ROOT / "config" / "work_calendar.yaml"))
    return tmp_path


def test_the_shipped_files_pass(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["deadlines", "check"]) == 0
    out = capsys.readouterr().out
    assert "redirect: 3 working days (categories: other)" in out and "calendar: 2026, 2027" in out


def test_a_wrong_calendar_is_named_with_its_line(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    broken = env / "work_calendar.yaml"
    text = "years: [2026]\nholidays:\n  - {date: 2026-01-01, name: NY}\n  - {date: 2026-01-01, name: again}\n"
    broken.write_text(text, encoding="utf-8")
    monkeypatch.setenv("IVR_WORK_CALENDAR_PATH", str(broken))
    assert cli.main(["deadlines", "check"]) == 1
    assert f"{broken}:4: holidays.1: 2026-01-01 is listed twice" in capsys.readouterr().err


def test_december_warns_about_next_year() -> None:
    book = deadlines.load_book(ROOT / "config" / "deadlines.yaml", ROOT / "config" / "work_calendar.yaml")
    assert not any("warning" in line for line in deadlines_cli.describe(book, today=date(2026, 12, 2)))
    assert deadlines_cli.describe(book, today=date(2027, 12, 2))[-1].startswith("warning: add 2028")
    assert "does not cover 2028" in deadlines_cli.describe(book, today=date(2028, 1, 10))[-1]
