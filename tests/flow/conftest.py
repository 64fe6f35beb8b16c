"""Fixtures for the pure menu engine: the real 1424 flow, as shipped and with a duty officer."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.flow.loading import load_flow, parse_flow
from ivr.flow.model import Flow

ROOT = Path(__file__).resolve().parents[2]
FLOW_PATH = ROOT / "config" / "flow.yaml"
PROMPTS_DIR = ROOT / "config" / "prompts"
OFFICER_NUMBER = "+77172000000"


@pytest.fixture(scope="session")
def flow() -> Flow:
    """config/flow.yaml exactly as shipped (no duty officer number)."""
    return load_flow(FLOW_PATH)


@pytest.fixture(scope="session")
def officer_flow() -> Flow:
    """The real flow with a duty officer configured, so `duty_officer` really dials."""
    text = FLOW_PATH.read_text(encoding="utf-8")
    assert 'duty_officer: ""' in text
    return parse_flow(text.replace('duty_officer: ""', f'duty_officer: "{OFFICER_NUMBER}"'), str(FLOW_PATH))
