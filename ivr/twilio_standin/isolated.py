"""A simulated call from the web console, played in a process of its own (`python -m ivr.twilio_standin.sandbox`).

The live web worker never builds the sandbox's app, never runs its migrations and never counts its
calls in the line's metrics: the child has its own app, registry and scratch database, and it is
gone when the call is over. This module imports no app factory, so the admin pages that use it
stay out of an import circle with `ivr.app`.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from typing import Any

from pydantic import SecretStr

from ivr.settings import Settings
from ivr.twilio_standin.callers import Heard, Recording, SimulatedCall

TIMEOUT_S = 120.0


class SimulationFailed(RuntimeError):
    """The call could not be played (the message says why, in one line)."""


def settings_document(settings: Settings) -> dict[str, Any]:
    """Every setting by name, secrets included, for a child process (sent on its stdin, never its argv)."""
    values = {name: value.get_secret_value() if isinstance(value, SecretStr) else value
              for name, value in settings}
    loaded: dict[str, Any] = json.loads(json.dumps(values, default=str))
    return loaded


def simulate_isolated(settings: Settings, *, line: str, keys: list[str], recording: Recording | None) -> SimulatedCall:
    """Play one scripted call against the line's flows in a child process; its transcript and reference."""
    request: dict[str, Any] = {"settings": settings_document(settings), "line": line, "keys": keys}
    if recording is not None:
        request["recording"] = base64.b64encode(recording.audio).decode()
        request["recording_name"] = recording.name
    # The child's metrics stay its own: no shared multiprocess folder with the live line.
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ivr.twilio_standin.sandbox"], input=json.dumps(request).encode(),
            capture_output=True, env=env, timeout=TIMEOUT_S, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise SimulationFailed(f"the simulated call took longer than {TIMEOUT_S:.0f} s") from None
    try:
        answer = json.loads(done.stdout or b"{}")
    except ValueError:
        answer = {}
    if "call" not in answer:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise SimulationFailed(answer.get("error") or f"the simulator stopped (exit {done.returncode}): {last}")
    fields = answer["call"]
    fields["heard"] = [Heard(**heard) for heard in fields["heard"]]
    return SimulatedCall(**fields)
