"""The one admin area, blueprint "admin" at /admin: the flows in service and any refused edit, each
flow as a diagram with call figures, and a simulated call in the browser (here); people's accounts
(`people`) and the state of the line (`system`); all three register their views on the package's
`bp`.

Admins only, through the console's sign-in (`ivr.operator.auth.admins_only`: Flask-Login with
roles); POSTs carry the console's CSRF token; the pages share the console's layout and language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, abort, current_app, render_template, request
from werkzeug.datastructures import FileStorage

from ivr.admin import bp
from ivr.flow.catalog import FlowCatalog, Line
from ivr.flow.diagram import DiagramError, Figures, has_graphviz, inline_svg, render
from ivr.flow.model import Flow
from ivr.flow.problems import FlowError
from ivr.flow_checks import Finding, check_config, describe
from ivr.flow_figures import PERIODS_DAYS, flow_figures
from ivr.operator.auth import admins_only, console_blueprint
from ivr.services import services

DEFAULT_DAYS = 30


console_blueprint(bp)


@dataclass(frozen=True)
class LineStatus:
    """One line as the overview shows it."""

    line: Line
    flow: Flow
    refused: tuple[Finding, ...]
    reloads: int


def _catalog() -> FlowCatalog:
    return services().flows


def _line(name: str) -> Line:
    line = _catalog().config.line_named(name)
    if line is None:
        abort(404)
    return line


def _findings(error: FlowError | None) -> tuple[Finding, ...]:
    return tuple(describe(problem) for problem in error.problems) if error else ()


@bp.get("/")
@admins_only
def index() -> str:
    """Every line: the flow version serving calls, any refused edit, and a fresh check of the files."""
    catalog = _catalog()
    statuses = []
    for line in catalog.lines:
        registry = catalog.registry(line)
        flow = registry.current
        statuses.append(LineStatus(line, flow, _findings(registry.last_error), registry.reloads))
    settings = services().settings
    report = check_config(settings.flow_path, settings.prompts_dir)
    return render_template(
        "admin/index.html",
        statuses=statuses,
        lines_refused=_findings(catalog.lines_error),
        lines_path=catalog.config.path,
        report=report,
    )


def _days() -> int | None:
    raw = request.args.get("days", str(DEFAULT_DAYS))
    days = int(raw) if raw.isdigit() else DEFAULT_DAYS
    return days if days in PERIODS_DAYS else None  # 0 or anything else: all time


def _figures(flow: Flow, days: int | None) -> Figures:
    with services().sessions() as session:
        return flow_figures(session, flow, days=days)


@bp.get("/lines/<name>")
@admins_only
def line_page(name: str) -> str:
    """A line's flow as a diagram, with how many calls reached and ended at each node."""
    line = _line(name)
    flow = _catalog().registry(line).current
    days = _days()
    figures = _figures(flow, days)
    try:
        svg = inline_svg(render(flow, "svg", figures))
    except DiagramError as exc:
        svg = ""
        current_app.logger.warning("admin.diagram_failed: %s", exc)
    rows = [(node_id, flow.doc.nodes[node_id].kind, found) for node_id, found in figures.nodes.items()]
    return render_template(
        "admin/line.html",
        line=line,
        flow=flow,
        figures=figures,
        rows=rows,
        svg=svg,
        days=days or 0,
        periods=PERIODS_DAYS,
        has_graphviz=has_graphviz(),
    )


@bp.get("/lines/<name>/diagram.<image_format>")
@admins_only
def diagram(name: str, image_format: str) -> Response:
    """The diagram as a file (SVG, or PNG where Graphviz is installed)."""
    if image_format not in ("svg", "png"):
        abort(404)
    flow = _catalog().registry(_line(name)).current
    try:
        image = render(flow, image_format, _figures(flow, _days()))  # type: ignore[arg-type]
    except DiagramError as exc:
        return Response(str(exc), status=501, mimetype="text/plain")
    mimetype = "image/svg+xml" if image_format == "svg" else "image/png"
    response = Response(image, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="{flow.name}-{flow.version}.{image_format}"'
    return response


@bp.route("/simulate", methods=["GET", "POST"])
@admins_only
def simulate() -> tuple[str, int]:
    """A call played against the real app on scratch storage: keys and an optional WAV in, transcript out."""
    from ivr.twilio_standin.callers import parse_keys, wav_recording
    from ivr.twilio_standin.isolated import SimulationFailed, simulate_isolated

    lines = _catalog().lines
    values: dict[str, Any] = {"line": request.form.get("line", lines[0].name if lines else ""),
                              "keys": request.form.get("keys", "")}
    error = None
    result = None
    status = 200
    if request.method == "POST":
        try:
            keys = parse_keys(values["keys"])
            upload: FileStorage | None = request.files.get("recording")
            recording = None
            if upload is not None and upload.filename:
                recording = wav_recording(upload.read(), upload.filename)
            if _catalog().config.line_named(values["line"]) is None:
                raise ValueError(f"no line {values['line']!r}")
        except ValueError as exc:
            error, status = str(exc), 400
        else:
            try:
                # In a process of its own: its app, database and metrics are never the live line's.
                result = simulate_isolated(services().settings, line=values["line"], keys=keys, recording=recording)
            except SimulationFailed as exc:
                error, status = str(exc), 200
    return render_template("admin/simulate.html", lines=lines, values=values, error=error, result=result), status

