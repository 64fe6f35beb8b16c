"""Live reload while calls are running: good and bad edits land mid-call, no call fails, each call
finishes on the flow version it started with, and every refused edit is counted."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from werkzeug.serving import make_server

from ivr.flow.loading import parse_flow
from ivr.models import Call
from tests.admin.conftest import FLOW
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
from tests.support.twilio_sim import FlaskTransport, HttpTransport, Press, Talk, TwilioSimulator

SHIPPED = FLOW.read_text(encoding="utf-8")
INTRO = "ru: Сообщить анонимно — 1. Оставить свой номер — 2."
ACCEPTED = "ru: Спасибо. Ваше сообщение принято."
MARK = re.compile(r"\[v(\d+)\]")
REPORT = [Press("2"), Press("1"), Press("02"), Talk(5), Press("3")]  # then hangs up at "hear again?"
CALLERS, CALLS_EACH = 4, 4


def good(version: int) -> str:
    """A valid flow whose first and last Russian words carry the version number."""
    assert INTRO in SHIPPED and ACCEPTED in SHIPPED
    return SHIPPED.replace(INTRO, f"{INTRO} [v{version}]", 1).replace(ACCEPTED, f"{ACCEPTED} [v{version}]", 1)


def bad(version: int) -> str:
    """The same flow with a misspelt node name: it must never serve a call."""
    return good(version).replace("goto: anonymity}", "goto: anonimity}", 1)


def save(path: Path, text: str) -> None:
    """Save as editors do: write a new file, then rename it over the old one (atomic)."""
    partial = path.with_name(f".{path.name}.swp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def wait_for(condition, timeout_s: float = 1.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll until the condition holds; False if it never did."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def reload_errors() -> float:
    return REGISTRY.get_sample_value("ivr_flow_reload_errors_total") or 0.0


@pytest.fixture
def served(flow_dir: Path, make_settings, database_url: str) -> Iterator[tuple]:  # type: ignore[type-arg]
    """The app on a real threaded HTTP server (every request may check the file), and its flow file."""
    from ivr.app import create_app

    path = flow_dir / "flow.yaml"
    save(path, good(0))
    app = create_app(make_settings(database_url=database_url, flow_path=path, flow_check_interval_s=0))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}", path
    server.shutdown()
    thread.join(10)
    app.extensions["ivr"].close()


def test_good_and_bad_edits_under_concurrent_calls(served) -> None:  # type: ignore[no-untyped-def]
    app, base_url, path = served
    registry = app.extensions["ivr"].flows
    versions = {0: parse_flow(good(0), str(path)).version}
    results: list[tuple[str, list[str]]] = []
    failures: list[str] = []
    callers_done = threading.Event()
    lock = threading.Lock()
    refused_seen = 0
    errors_before = reload_errors()

    def caller() -> None:
        sim = TwilioSimulator(HttpTransport(base_url), auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL,
                              account_sid=ACCOUNT_SID)
        for _ in range(CALLS_EACH):
            try:
                result = sim.call(REPORT)
            except Exception as exc:  # any non-200, bad TwiML or dropped request fails the test
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}"[:500])
                continue
            with lock:
                results.append((result.call_sid, result.said()))

    def editor() -> None:
        nonlocal refused_seen
        line = registry.registry(registry.config.default)
        version = 0
        while not callers_done.is_set():
            version += 1
            previous = line.last_error
            save(path, bad(version))
            # A running call's next webhook notices the file and refuses it (the editor never asks).
            if wait_for(lambda previous=previous: line.last_error is not None and line.last_error is not previous):
                refused_seen += 1
            time.sleep(0.02)
            versions[version] = parse_flow(good(version), str(path)).version
            save(path, good(version))
            wait_for(lambda served=versions[version]: line.known(served) is not None)
            time.sleep(0.03)

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    edits = threading.Thread(target=editor)
    edits.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    callers_done.set()
    edits.join(30)

    assert failures == []
    assert len(results) == CALLERS * CALLS_EACH
    heard_versions = set()
    with app.extensions["ivr"].sessions() as session:
        for call_sid, said in results:
            marks = {int(m) for text in said for m in MARK.findall(text)}
            assert len(marks) == 1, f"call {call_sid} heard versions {marks}"  # start and end on one version
            (version,) = marks
            heard_versions.add(version)
            call = session.scalars(select(Call).where(Call.call_sid == call_sid)).one()
            assert call.flow_version == versions[version] and call.reference is not None
    assert len(heard_versions) >= 2, "the edits never landed while calls were running"
    assert refused_seen >= 1
    assert reload_errors() - errors_before == refused_seen
    # After the last save the file is valid again: the line serves it and reports nothing wrong.
    registry.reload_if_changed()
    assert registry.current.version == versions[max(versions)] and registry.last_error is None


def test_call_in_progress_keeps_its_version_when_its_node_disappears(flow_dir: Path, make_settings,  # type: ignore[no-untyped-def]
                                                                     database_url: str) -> None:
    from ivr.app import create_app

    path = flow_dir / "flow.yaml"
    save(path, good(1))
    app = create_app(make_settings(database_url=database_url, flow_path=path, flow_check_interval_s=0))
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN,
                          public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)
    old = app.extensions["ivr"].flows.current.version
    # Version 2 has no node called "region" any more: the caller waiting there must not notice.
    renamed = good(2).replace("  region:\n", "  region_v2:\n", 1).replace("goto: region}", "goto: region_v2}")
    renamed = renamed.replace("goto: region\n", "goto: region_v2\n").replace("next: region\n", "next: region_v2\n")
    new = parse_flow(renamed, str(path)).version

    def script() -> Iterator[object]:
        yield Press("2")
        yield Press("1")  # now waiting at "region"
        save(path, renamed)
        yield Press("02")
        yield Talk(5)
        yield Press("3")

    result = sim.call(script())  # type: ignore[arg-type]

    assert app.extensions["ivr"].flows.current.version == new
    marks = {m for text in result.said() for m in MARK.findall(text)}
    assert marks == {"1"}
    with app.extensions["ivr"].sessions() as session:
        call = session.scalars(select(Call).where(Call.call_sid == result.call_sid)).one()
    assert call.flow_version == old and call.region_code == "02" and call.reference
    fresh = sim.call([Press("2")])
    assert any("[v2]" in text for text in fresh.said())
    app.extensions["ivr"].close()
