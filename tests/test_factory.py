"""The app factory and the shape of the code: blueprints, and arrows that point one way."""

from __future__ import annotations

import ast
import importlib
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_factory_registers_one_blueprint_per_audience(app) -> None:
    assert {"voice", "ops"} <= set(app.blueprints)
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {"/voice/incoming", "/voice/step", "/voice/recorded", "/voice/recording-status", "/voice/status",
            "/voice/fallback", "/healthz", "/readyz", "/metrics"} <= rules


def test_factory_refuses_to_start_on_an_invalid_flow(make_settings, sqlite_url, tmp_path) -> None:
    from ivr.app import create_app
    from ivr.flow.problems import FlowError

    bad = tmp_path / "flow.yaml"
    shipped = (ROOT / "config" / "flow.yaml").read_text()
    bad.write_text(re.sub(r"^start: .*$", "start: nowhere", shipped, count=1, flags=re.MULTILINE))
    with pytest.raises(FlowError, match="start node 'nowhere' does not exist"):
        create_app(make_settings(database_url=sqlite_url, flow_path=bad))


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _dotted_names(path: Path) -> set[str]:
    """String constants that look like a dotted module path (what importlib or RQ would load)."""
    return {node.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value.replace("_", "").replace(".", "").isalnum() and "." in node.value}


def test_ivr_never_imports_workers() -> None:
    for path in (ROOT / "ivr").rglob("*.py"):
        assert not any(name.split(".")[0] == "workers" for name in _imports(path)), path
        if path.name != "queueing.py":  # job paths are enqueued by name, never loaded by ivr
            assert not any(name.startswith("workers.") for name in _dotted_names(path)), path


# Run in a fresh interpreter: the web process's imports, as gunicorn would have them.
WEB_PROCESS = """
import pickle, re, sys
from ivr.app import create_app

settings = pickle.loads(open(sys.argv[1], "rb").read())
app = create_app(settings)
client = app.test_client()
page = client.get("/operator/login").get_data(as_text=True)
token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
signed_in = client.post("/operator/login", data={"username": "aigerim", "password": sys.argv[2], "csrf_token": token})
assert signed_in.status_code == 302, signed_in.status_code
heard = client.get(f"/operator/recordings/{sys.argv[3]}/audio")
assert heard.status_code == 200 and heard.data[:4] == b"RIFF", heard.status_code
print(sorted(name for name in sys.modules if name.split(".")[0] == "workers"))
"""


def test_web_process_never_loads_workers(app, settings, tmp_path: Path) -> None:
    from tests.operator.console import PASSWORD, Console

    console = Console(app)
    console.add_user("aigerim")
    ref = console.add_case(is_anonymous=False, contact="77010000000")
    pickled = tmp_path / "settings.pickle"
    pickled.write_bytes(pickle.dumps(settings))
    run = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS, str(pickled), PASSWORD, str(ref.intake_id)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"


def test_flow_engine_is_pure() -> None:
    for path in (ROOT / "ivr" / "flow").rglob("*.py"):
        heavy = {name.split(".")[0] for name in _imports(path)} & {"flask", "sqlalchemy", "redis", "rq", "requests"}
        assert not heavy, f"{path} imports {heavy}"


WEB_SIDE = ("ivr.app", "ivr.services", "ivr.voice", "ivr.operator", "ivr.api", "ivr.admin", "ivr.ops")


def test_workers_never_import_the_web_side() -> None:
    for path in (ROOT / "workers").rglob("*.py"):
        for name in _imports(path) | _dotted_names(path):
            assert not any(name == web or name.startswith(web + ".") for web in WEB_SIDE), f"{path} imports {name}"


def test_worker_process_never_loads_flask() -> None:
    modules = ["workers.worker", "workers.intake", "workers.transcription", "workers.twilio_cleanup",
               "workers.jobs", "workers.forget", "workers.sweeper", "workers.reconcile", "workers.retention",
               "workers.notify", "workers.cli"]
    code = f"import sys\nfor name in {modules!r}: __import__(name)\n" \
           "print(sorted(n for n in sys.modules if n.split('.')[0] == 'flask' or n.startswith(" + repr(WEB_SIDE) + ")))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"


def test_job_paths_are_named_only_in_queueing() -> None:
    for path in [*(ROOT / "ivr").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]:
        if path != ROOT / "ivr" / "queueing.py":
            named = {name for name in _dotted_names(path) if name.startswith("workers.") and name.count(".") >= 2}
            assert not named, f"{path} names job paths {named}: use the constants in ivr.queueing"


def test_enqueued_job_path_resolves() -> None:
    from ivr.queueing import PROCESS_INTAKE

    module, _, function = PROCESS_INTAKE.rpartition(".")
    assert callable(getattr(importlib.import_module(module), function))
