"""Fixtures of the admin tests: flow files to break (`ivr`, `console` and `make_client` are in tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

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


@pytest.fixture(autouse=True)
def _cheap_password_hashes(fast_password_hashes: None) -> None:
    """Admin pages sign people in: Argon2 at its lowest cost (tests/conftest.py) for every test here."""
