"""The flow as a picture: Graphviz DOT rendered by `dot`, or a plain SVG drawn here when it is missing.

Each node shows its id, kind and first words; each arrow the key or event that takes it. With
call figures, a node also shows how many calls reached it and how many ended there. The
figures come from where each call ended (`Call.last_node`), so "reached" counts calls that
ended at this node or at one that can only be reached through it: exact where every later
node lies behind this one, a lower bound (shown with ≥) where another path joins in.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ivr.flow.model import DialNode, Flow, Language, MessageRef

ImageFormat = Literal["svg", "png", "dot"]
EdgeKind = Literal["choice", "next", "retry", "outcome"]

# Fill colours by node kind: waiting nodes warm, passing ones cool, the end grey.
COLOURS = {
    "say": "#e8f1fc", "set": "#efe8fb", "menu": "#fff1cc", "digits": "#fff1cc", "region": "#fff1cc",
    "record": "#dff3df", "dial": "#fbe1e1", "lookup": "#e2f0ef", "hangup": "#ececec",
}  # fmt: skip
DOT_TIMEOUT_S = 30


class DiagramError(RuntimeError):
    """The diagram cannot be drawn in the asked format (e.g. PNG without Graphviz)."""


@dataclass(frozen=True)
class Edge:
    """One arrow: from a node to the next, with what takes the caller along it."""

    source: str
    target: str
    label: str
    kind: EdgeKind
    is_possible: bool = True  # False: a dial's `answered` while no number is configured


@dataclass(frozen=True)
class NodeFigures:
    """Calls that reached a node and calls that ended there."""

    reached: int
    ended: int
    is_exact: bool

    @property
    def moved_on(self) -> int:
        """Calls that went past this node."""
        return max(self.reached - self.ended, 0)


@dataclass(frozen=True)
class Figures:
    """Per-node call figures over some period."""

    nodes: Mapping[str, NodeFigures]
    calls: int
    unplaced: int = 0  # calls whose last node is unknown or no longer in this flow
    period: str = ""


@dataclass(frozen=True)
class _Box:
    node_id: str
    kind: str
    title: str
    subtitle: str
    figures: str


# --------------------------------------------------------------------------- graph


def flow_edges(flow: Flow) -> list[Edge]:
    """Every arrow of the flow, in file order."""
    edges: list[Edge] = []
    for node_id, node in flow.doc.nodes.items():
        options = getattr(node, "options", None) or {}
        for key, choice in options.items():
            edges.append(Edge(node_id, choice.goto, _choice_label(key, choice.set), "choice"))
        for outcome, target in (getattr(node, "outcomes", None) or {}).items():
            edges.append(Edge(node_id, target, str(outcome), "outcome"))
        if isinstance(node, DialNode):
            has_number = bool(flow.doc.numbers.get(node.number))
            edges.append(Edge(node_id, node.answered, "answered", "outcome", is_possible=has_number))
            edges.append(Edge(node_id, node.next, "no answer" if has_number else "no number set", "next"))
            if node.voicemail is not None:
                edges.append(Edge(node_id, node.voicemail, "nobody on duty", "next"))
        else:
            for name in ("next", "goto"):
                target = getattr(node, name, None)
                if isinstance(target, str):
                    edges.append(Edge(node_id, target, _next_label(node.kind), "next"))
        after = getattr(node, "after_retries", None)
        if after is not None:
            edges.append(Edge(node_id, after.goto, _choice_label("no answer", after.set), "retry"))
    return [e for e in edges if e.target in flow.doc.nodes]


def _choice_label(key: str, values: Mapping[str, Any]) -> str:
    effects = ", ".join(f"{name}={_yaml_value(value)}" for name, value in values.items())
    return f"{key} · {effects}" if effects else key


def _yaml_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _next_label(kind: str) -> str:
    return {"record": "recorded", "digits": "number keyed", "region": "region given"}.get(kind, "")


# --------------------------------------------------------------------------- figures


def figures_from_endings(flow: Flow, endings: Mapping[str | None, int], *, period: str = "") -> Figures:
    """Per-node figures from how many calls ended at each node (None: not known)."""
    nodes = flow.doc.nodes
    start = flow.doc.start
    edges = [e for e in flow_edges(flow) if e.is_possible]
    successors: dict[str, set[str]] = {n: set() for n in nodes}
    predecessors: dict[str, set[str]] = {n: set() for n in nodes}
    for edge in edges:
        successors[edge.source].add(edge.target)
        predecessors[edge.target].add(edge.source)
    reachable = _reach(start, successors)
    dominators = _dominators(start, reachable, predecessors)
    ended = {n: int(endings.get(n, 0)) for n in nodes}
    placed = sum(ended.values())
    total = sum(int(v) for v in endings.values())
    figures: dict[str, NodeFigures] = {}
    for node_id in nodes:
        if node_id not in reachable:
            figures[node_id] = NodeFigures(0, ended[node_id], True)
            continue
        behind = {n for n in reachable if node_id in dominators[n]}
        reached = sum(ended[n] for n in behind)
        if node_id == start:
            reached = total  # every call starts here, even one whose last node is unknown
        is_exact = _reach(node_id, successors) <= behind
        figures[node_id] = NodeFigures(reached, ended[node_id], is_exact)
    return Figures(figures, total, total - placed, period)


def _reach(start: str, successors: Mapping[str, set[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in successors.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _dominators(start: str, reachable: set[str], predecessors: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """For each node, the nodes every path from the start to it goes through (itself included)."""
    dominators = {n: set(reachable) for n in reachable}
    dominators[start] = {start}
    changed = True
    while changed:
        changed = False
        for node in reachable - {start}:
            incoming = [dominators[p] for p in predecessors[node] if p in reachable]
            new = set.intersection(*incoming) | {node} if incoming else {node}
            if new != dominators[node]:
                dominators[node] = new
                changed = True
    return dominators


# --------------------------------------------------------------------------- labels


def _boxes(flow: Flow, figures: Figures | None, language: Language | None) -> list[_Box]:
    language = language or flow.doc.default_language
    boxes = []
    for node_id, node in flow.doc.nodes.items():
        subtitle: str = node.kind
        words = _first_words(flow, node, language)
        if words:
            subtitle += f" · “{words}”"
        shown = ""
        if figures is not None:
            found = figures.nodes.get(node_id)
            if found is not None:
                sign = "" if found.is_exact else "≥"
                shown = f"reached {sign}{found.reached} · ended here {found.ended}"
        boxes.append(_Box(node_id, node.kind, node_id, subtitle, shown))
    return boxes


def _first_words(flow: Flow, node: Any, language: Language, limit: int = 42) -> str:
    for item in getattr(node, "say", None) or []:
        key = item if isinstance(item, str) else item.message if isinstance(item, MessageRef) else None
        if key is None or key not in flow.doc.messages:
            continue
        lang = item.language if isinstance(item, MessageRef) and item.language else language
        if lang not in flow.doc.messages[key]:
            continue
        text = flow.message(key, lang).text
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return ""


# --------------------------------------------------------------------------- DOT


def to_dot(flow: Flow, figures: Figures | None = None, *, language: Language | None = None) -> str:
    """The flow in Graphviz's DOT language."""
    lines = [
        f"digraph {_quote(flow.name)} {{",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=11, nodesep=0.35, ranksep=0.5];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, color="#777777"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
        '  "__call" [shape=circle, label="call", width=0.5, style=filled, fillcolor="#333333", fontcolor=white];',
        f"  \"__call\" -> {_quote(flow.doc.start)};",
    ]
    for box in _boxes(flow, figures, language):
        label = f"<b>{html.escape(box.title)}</b><br/><font point-size=\"9\">{html.escape(box.subtitle)}</font>"
        if box.figures:
            label += f"<br/><font point-size=\"9\" color=\"#1f4e9c\">{html.escape(box.figures)}</font>"
        shape = "doubleoctagon" if box.kind == "hangup" else "box"
        lines.append(f"  {_quote(box.node_id)} [label=<{label}>, fillcolor=\"{COLOURS.get(box.kind, '#ffffff')}\", "
                     f"shape={shape}, tooltip={_quote(box.node_id)}];")
    for edge in flow_edges(flow):
        attributes = [f"label={_quote(edge.label)}"] if edge.label else []
        if edge.kind == "retry":
            attributes.append('style=dashed, color="#999999"')
        if not edge.is_possible:
            attributes.append('style=dotted, color="#bbbbbb", fontcolor="#999999"')
        lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)} [{', '.join(attributes)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def has_graphviz() -> bool:
    """True when Graphviz's `dot` is on PATH."""
    return shutil.which("dot") is not None


def render(
    flow: Flow,
    image_format: ImageFormat = "svg",
    figures: Figures | None = None,
    *,
    language: Language | None = None,
    use_graphviz: bool | None = None,
) -> bytes:
    """The diagram as SVG, PNG or DOT; SVG falls back to a simple drawing of our own without Graphviz."""
    dot_source = to_dot(flow, figures, language=language)
    if image_format == "dot":
        return dot_source.encode("utf-8")
    use_graphviz = has_graphviz() if use_graphviz is None else use_graphviz
    if use_graphviz:
        binary = shutil.which("dot") or "dot"
        try:
            done = subprocess.run([binary, f"-T{image_format}"], input=dot_source.encode("utf-8"),
                                  capture_output=True, check=True, timeout=DOT_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            raise DiagramError(f"Graphviz `dot` failed: {exc}") from None
        return done.stdout
    if image_format == "png":
        raise DiagramError("PNG needs Graphviz: `apt-get install graphviz` (SVG works without it)")
    return builtin_svg(flow, figures, language=language).encode("utf-8")


def inline_svg(svg: bytes) -> str:
    """SVG text fit to sit inside an HTML page: the XML prolog and doctype removed."""
    text = svg.decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


# --------------------------------------------------------------------------- our own SVG


@dataclass
class _Layout:
    rows: list[list[str]] = field(default_factory=list)
    position: dict[str, tuple[float, float]] = field(default_factory=dict)


BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 230.0, 62.0, 40.0, 70.0, 30.0


def _layout(flow: Flow) -> _Layout:
    """Rows by distance from the start (breadth first); unreachable nodes in a last row."""
    successors: dict[str, list[str]] = {n: [] for n in flow.doc.nodes}
    for edge in flow_edges(flow):
        if edge.target not in successors[edge.source]:
            successors[edge.source].append(edge.target)
    depth = {flow.doc.start: 0} if flow.doc.start in flow.doc.nodes else {}
    queue = list(depth)
    while queue:
        current = queue.pop(0)
        for target in successors[current]:
            if target not in depth:
                depth[target] = depth[current] + 1
                queue.append(target)
    last = max(depth.values(), default=-1) + 1
    for node_id in flow.doc.nodes:
        depth.setdefault(node_id, last)
    layout = _Layout()
    for level in range(max(depth.values(), default=-1) + 1):
        layout.rows.append([n for n in flow.doc.nodes if depth[n] == level])
    width = max((len(r) for r in layout.rows), default=1) * (BOX_W + GAP_X)
    for row_index, members in enumerate(layout.rows):
        row_width = len(members) * (BOX_W + GAP_X) - GAP_X
        left = MARGIN + (width - GAP_X - row_width) / 2
        for column, node_id in enumerate(members):
            layout.position[node_id] = (left + column * (BOX_W + GAP_X), MARGIN + 40 + row_index * (BOX_H + GAP_Y))
    return layout


def builtin_svg(flow: Flow, figures: Figures | None = None, *, language: Language | None = None) -> str:
    """A plain SVG of the flow drawn without Graphviz: rows by distance from the start."""
    layout = _layout(flow)
    columns = max((len(r) for r in layout.rows), default=1)
    width = 2 * MARGIN + columns * (BOX_W + GAP_X) - GAP_X
    height = 2 * MARGIN + 40 + len(layout.rows) * (BOX_H + GAP_Y)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
        f'<title>{html.escape(flow.name)}</title>',
    ]
    if flow.doc.start in layout.position:
        x, y = layout.position[flow.doc.start]
        out.append(f'<circle cx="{x + BOX_W / 2:.0f}" cy="{MARGIN + 8:.0f}" r="12" fill="#333"/>'
                   f'<text x="{x + BOX_W / 2:.0f}" y="{MARGIN + 12:.0f}" font-size="9" fill="#fff" '
                   'text-anchor="middle">call</text>'
                   f'<line x1="{x + BOX_W / 2:.0f}" y1="{MARGIN + 20:.0f}" x2="{x + BOX_W / 2:.0f}" y2="{y:.0f}" '
                   'stroke="#555" marker-end="url(#arrow)"/>')
    for edge in flow_edges(flow):
        out.append(_svg_edge(edge, layout))
    for box in _boxes(flow, figures, language):
        x, y = layout.position[box.node_id]
        fill = COLOURS.get(box.kind, "#ffffff")
        stroke_width = 2.5 if box.kind == "hangup" else 1
        out.append(f'<g class="node" id="node-{html.escape(box.node_id)}"><title>{html.escape(box.node_id)}</title>'
                   f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W:.0f}" height="{BOX_H:.0f}" rx="8" fill="{fill}" '
                   f'stroke="#777" stroke-width="{stroke_width}"/>'
                   f'<text x="{x + 10:.0f}" y="{y + 18:.0f}" font-size="12" font-weight="bold">'
                   f'{html.escape(box.title)}</text>'
                   f'<text x="{x + 10:.0f}" y="{y + 35:.0f}" font-size="9" fill="#333">'
                   f'{html.escape(_fit(box.subtitle, 44))}</text>')
        if box.figures:
            out.append(f'<text x="{x + 10:.0f}" y="{y + 52:.0f}" font-size="9" fill="#1f4e9c">'
                       f'{html.escape(box.figures)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg_edge(edge: Edge, layout: _Layout) -> str:
    sx, sy = layout.position[edge.source]
    tx, ty = layout.position[edge.target]
    dash = ' stroke-dasharray="5,4"' if edge.kind == "retry" or not edge.is_possible else ""
    colour = "#bbb" if not edge.is_possible else "#999" if edge.kind == "retry" else "#555"
    if ty > sy:  # downwards: bottom centre to top centre
        x1, y1, x2, y2 = sx + BOX_W / 2, sy + BOX_H, tx + BOX_W / 2, ty
        path = f"M {x1:.0f} {y1:.0f} L {x2:.0f} {y2:.0f}"
        lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
    else:  # back to an earlier row (or the same one): a loop around the right-hand side
        x1, y1, x2, y2 = sx + BOX_W, sy + BOX_H / 2, tx + BOX_W, ty + BOX_H / 2
        bulge = max(x1, x2) + 40 + abs(y1 - y2) * 0.15
        if edge.source == edge.target:
            y1, y2 = sy + BOX_H * 0.3, sy + BOX_H * 0.7
        path = f"M {x1:.0f} {y1:.0f} C {bulge:.0f} {y1:.0f}, {bulge:.0f} {y2:.0f}, {x2:.0f} {y2:.0f}"
        lx, ly = bulge - 8, (y1 + y2) / 2
    label = ""
    if edge.label:
        label = (f'<text x="{lx + 4:.0f}" y="{ly:.0f}" font-size="9" fill="{colour}">'
                 f"{html.escape(_fit(edge.label, 30))}</text>")
    return (f'<g class="edge"><title>{html.escape(edge.source)} → {html.escape(edge.target)}</title>'
            f'<path d="{path}" fill="none" stroke="{colour}"{dash} marker-end="url(#arrow)"/>{label}</g>')
