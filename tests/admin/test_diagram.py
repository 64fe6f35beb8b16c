"""The flow as a picture with call figures: edges, reached/ended counts, DOT, SVG with and without Graphviz,
and `ivr flow show`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest

from ivr.db import make_engine, make_sessionmaker, utc_now
from ivr.flow.diagram import (
    DiagramError,
    NodeFigures,
    builtin_svg,
    figures_from_endings,
    flow_edges,
    has_graphviz,
    render,
    to_dot,
)
from ivr.flow.loading import load_flow, parse_flow
from ivr.flow_figures import call_endings, flow_figures
from ivr.models import Call, FlowVersion
from tests.admin.conftest import FLOW

needs_graphviz = pytest.mark.skipif(not has_graphviz(), reason="Graphviz `dot` is not installed")

MINI = """
name: mini
languages:
  ru: {voice: Polly.Tatyana, tts_language: ru-RU}
default_language: ru
start: hello
regions: []
messages:
  hello: {ru: "Здравствуйте, это \\"мини\\"."}
  menu: {ru: Нажмите 1 или 2.}
  bye: {ru: До свидания.}
  no_input: {ru: Не слышно.}
  invalid_input: {ru: Нет такого.}
nodes:
  hello: {kind: say, say: [hello], next: choose}
  choose:
    kind: menu
    say: [menu]
    options:
      "1": {goto: left, set: {anonymous: true}}
      "2": {goto: right}
    after_retries: {goto: right}
  left: {kind: menu, say: [menu], options: {"1": {goto: joined}}, after_retries: {goto: joined}}
  right: {kind: menu, say: [menu], options: {"1": {goto: joined}}, after_retries: {goto: gone}}
  joined: {kind: hangup, say: [bye]}
  gone: {kind: hangup, say: [bye]}
"""


@pytest.fixture(scope="module")
def mini():  # type: ignore[no-untyped-def]
    return parse_flow(MINI, "mini.yaml")


def test_edges_carry_keys_effects_and_retries(mini) -> None:  # type: ignore[no-untyped-def]
    edges = {(e.source, e.target, e.label, e.kind) for e in flow_edges(mini)}
    assert ("hello", "choose", "", "next") in edges
    assert ("choose", "left", "1 · anonymous=true", "choice") in edges
    assert ("choose", "right", "no answer", "retry") in edges
    assert ("right", "gone", "no answer", "retry") in edges


def test_a_dial_without_a_number_cannot_be_answered() -> None:
    edges = [e for e in flow_edges(load_flow(FLOW)) if e.source == "duty_officer"]
    answered = next(e for e in edges if e.label == "answered")
    assert not answered.is_possible
    assert any(e.label == "no number set" and e.target == "officer_unavailable" for e in edges)


def test_figures_count_calls_reached_and_ended(mini) -> None:  # type: ignore[no-untyped-def]
    figures = figures_from_endings(mini, {"choose": 2, "left": 1, "joined": 5, "gone": 3, None: 1})

    assert figures.calls == 12 and figures.unplaced == 1
    assert figures.nodes["hello"] == NodeFigures(12, 0, True)  # every call starts here
    assert figures.nodes["choose"] == NodeFigures(11, 2, True)
    assert figures.nodes["right"] == NodeFigures(3, 0, False)  # "joined" may have come through it too: ≥
    assert figures.nodes["left"] == NodeFigures(1, 1, False)
    assert figures.nodes["joined"] == NodeFigures(5, 5, True) and figures.nodes["gone"] == NodeFigures(3, 3, True)
    assert figures.nodes["choose"].moved_on == 9


def test_dot_names_every_node_and_escapes_text(mini) -> None:  # type: ignore[no-untyped-def]
    figures = figures_from_endings(mini, {"joined": 4})
    dot = to_dot(mini, figures)
    assert dot.startswith('digraph "mini" {')
    for node in mini.doc.nodes:
        assert f'"{node}" [label=<' in dot
    assert '"choose" -> "left" [label="1 · anonymous=true"]' in dot
    assert "&quot;мини&quot;" in dot  # the message's quotes cannot break the label
    assert "reached 4 · ended here 4" in dot and "reached ≥0" in dot


@needs_graphviz
def test_graphviz_renders_svg_and_png(mini) -> None:  # type: ignore[no-untyped-def]
    svg = render(mini, "svg", figures_from_endings(mini, {"gone": 7}), use_graphviz=True)
    root = ET.fromstring(svg)
    titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert set(mini.doc.nodes) <= titles
    assert b"ended here 7" in svg
    assert render(mini, "png", use_graphviz=True).startswith(b"\x89PNG")


def test_our_own_svg_without_graphviz(mini) -> None:  # type: ignore[no-untyped-def]
    svg = render(mini, "svg", figures_from_endings(mini, {"gone": 7}), use_graphviz=False).decode()
    root = ET.fromstring(svg)
    nodes = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]
    assert {g.get("id") for g in nodes} == {f"node-{n}" for n in mini.doc.nodes}
    assert "reached 7 · ended here 7" in svg
    with pytest.raises(DiagramError, match="apt-get install graphviz"):
        render(mini, "png", use_graphviz=False)
    assert ET.fromstring(builtin_svg(load_flow(FLOW))) is not None  # the real flow, every node kind


def _add_calls(url: str, flow_version: str, endings: dict[str, int], **extra: object) -> None:
    sessions = make_sessionmaker(make_engine(url))
    with sessions.begin() as session:
        for node, count in endings.items():
            for i in range(count):
                session.add(Call(call_sid=f"CA{node[:8]}{i}{extra.get('status', '')}{flow_version}"[:34],
                                 flow_name="public", flow_version=flow_version, last_node=node,
                                 status=extra.get("status", "completed"),
                                 started_at=extra.get("started_at", utc_now())))


@pytest.fixture
def db_with_calls(sqlite_url: str):  # type: ignore[no-untyped-def]
    flow = load_flow(FLOW)
    sessions = make_sessionmaker(make_engine(sqlite_url))
    with sessions.begin() as session:
        session.add(FlowVersion(version=flow.version, name="public", path=str(FLOW), source=flow.source))
        session.add(FlowVersion(version="0ld0ld0ld0ld", name="public", path=str(FLOW), source=flow.source))
        session.add(FlowVersion(version="b1zb1zb1zb1z", name="business", path="business.yaml", source="x"))
    _add_calls(sqlite_url, flow.version, {"anonymity": 3, "goodbye": 5})
    _add_calls(sqlite_url, "0ld0ld0ld0ld", {"anonymity": 1})  # an older version of the same flow
    _add_calls(sqlite_url, "b1zb1zb1zb1z", {"anonymity": 9})  # another line's flow
    _add_calls(sqlite_url, flow.version, {"region": 4}, status="in-progress")  # still talking
    _add_calls(sqlite_url, flow.version, {"region": 2}, started_at=utc_now() - timedelta(days=40))
    return sqlite_url, flow


@pytest.mark.usefixtures("clock")  # dates: any hour of the UTC day
def test_figures_come_from_the_calls_of_every_version_of_the_flow(db_with_calls) -> None:  # type: ignore[no-untyped-def]
    url, flow = db_with_calls
    with make_sessionmaker(make_engine(url))() as session:
        assert call_endings(session, "public") == {"anonymity": 4, "goodbye": 5, "region": 2}
        recent = flow_figures(session, flow, days=30)
        everything = flow_figures(session, flow, days=None)
    assert recent.calls == 9 and recent.nodes["anonymity"].ended == 4 and recent.period == "last 30 days"
    assert everything.calls == 11 and everything.nodes["region"].ended == 2


def test_flow_show_writes_svg_png_and_dot(ivr, db_with_calls, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, flow = db_with_calls
    svg = tmp_path / "flow.svg"
    run = ivr("flow", "show", "-o", str(svg), "--figures", DATABASE_URL=url)
    assert run.code == 0, run.err
    assert f"flow public version {flow.version}" in run.out and "9 calls (last 30 days)" in run.out
    text = svg.read_text(encoding="utf-8")
    assert ET.fromstring(text) is not None and "ended here 4" in text

    dot = ivr("flow", "show", "--format", "dot", "-o", "-")
    assert dot.code == 0 and dot.out.startswith('digraph "public"')
    if has_graphviz():
        png = tmp_path / "flow.png"
        assert ivr("flow", "show", "-o", str(png)).code == 0
        assert png.read_bytes().startswith(b"\x89PNG")


def test_flow_show_picks_a_line_and_refuses_a_broken_flow(ivr, two_lines: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b.dot"
    run = ivr("flow", "show", "--line", "business", "-o", str(out), flow_path=str(two_lines / "flow.yaml"))
    assert run.code == 0 and out.read_text(encoding="utf-8").startswith('digraph "business"')

    broken = two_lines / "business.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("goto: anonymity}", "goto: x}", 1), encoding="utf-8")
    failed = ivr("flow", "show", str(broken), "-o", str(out))
    assert failed.code == 1 and "ivr flow check" in failed.err
