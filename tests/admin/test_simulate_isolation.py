"""A call tried from /admin/simulate is the sandbox's alone: the live line's metrics and database never see it,
and the admin pages import no app factory (no circle admin → simulator → app → admin)."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from ivr.models import Call
from tests.operator.console import Console, csrf_token
from tests.support.twilio_sim import FlaskTransport, Press, TwilioSimulator, make_wav

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin(console: Console, make_client):  # type: ignore[no-untyped-def]
    console.add_user("dana", role="admin", locale="en")  # the page is read in English here
    return make_client("dana")


def _imports(module: str) -> set[str]:
    """Every `ivr.*` module this module imports, at its top or inside a function."""
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    if not path.exists():
        return set()
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] == "ivr"}


def _reachable(start: str) -> set[str]:
    seen, frontier = set(), {start}
    while frontier:
        seen |= frontier
        frontier = {name for module in frontier for name in _imports(module)} - seen
    return seen


def test_the_admin_pages_reach_no_app_factory_even_inside_functions() -> None:
    reachable = _reachable("ivr.admin.routes")
    assert "ivr.app" not in reachable
    assert "ivr.twilio_standin.isolated" in reachable  # the page still simulates, through a child process


def test_importing_the_admin_blueprint_loads_no_app_factory() -> None:
    probe = ("import sys, ivr.admin.routes, ivr.twilio_standin.isolated; "
             "print(sorted(m for m in ('ivr.app', 'ivr.twilio_standin.sandbox') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]", done.stderr


def _calls_counted() -> float:
    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "ivr_calls"
               for sample in metric.samples if sample.name == "ivr_calls_total")


def test_a_simulated_call_leaves_the_live_metrics_and_database_untouched(app, admin) -> None:  # type: ignore[no-untyped-def]
    before = _calls_counted()
    token = csrf_token(admin, "/admin/simulate")
    page = admin.post("/admin/simulate", data={
        "csrf_token": token, "line": "public", "keys": "2,1,05,3",
        "recording": (io.BytesIO(make_wav(3)), "report.wav"),
    }, content_type="multipart/form-data")

    body = page.get_data(as_text=True)
    assert page.status_code == 200 and re.search(r'Case reference: <strong class="mono">\d+</strong>', body), body
    assert _calls_counted() == before
    with app.extensions["ivr"].sessions() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0
    # A call the live app answers in this process does count: the check above can see a count.
    settings = app.extensions["ivr"].settings
    live = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=settings.twilio_auth_token.get_secret_value(),
                           public_base_url=settings.public_base_url, account_sid=settings.twilio_account_sid)
    live.call([Press("2")])
    assert _calls_counted() == before + 1
