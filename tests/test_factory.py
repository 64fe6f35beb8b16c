"""The app factory and the shape of the code: blueprints, and arrows that point one way."""

from __future__ import annotations

import ast
import importlib
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
    from ivr.flow.schema import FlowError

    bad = tmp_path / "flow.yaml"
    bad.write_text((ROOT / "config" / "flow.yaml").read_text().replace("start: welcome", "start: nowhere"))
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


def test_ivr_never_imports_workers() -> None:
    for path in (ROOT / "ivr").rglob("*.py"):
        assert not any(name.split(".")[0] == "workers" for name in _imports(path)), path


def test_flow_engine_is_pure() -> None:
    for path in (ROOT / "ivr" / "flow").rglob("*.py"):
        heavy = {name.split(".")[0] for name in _imports(path)} & {"flask", "sqlalchemy", "redis", "rq", "requests"}
        assert not heavy, f"{path} imports {heavy}"


def test_workers_import_only_models_db_settings_from_ivr() -> None:
    allowed = {"ivr", "ivr.models", "ivr.db", "ivr.settings", "ivr.crypto", "ivr.intake", "ivr.queueing",
               "ivr.migrations", "ivr.logging", "ivr.case_reference"}
    for path in (ROOT / "workers").rglob("*.py"):
        for name in _imports(path):
            if name.split(".")[0] == "ivr":
                assert name in allowed, f"{path} imports {name}"


def test_enqueued_job_path_resolves() -> None:
    from ivr.queueing import PROCESS_INTAKE

    module, _, function = PROCESS_INTAKE.rpartition(".")
    assert callable(getattr(importlib.import_module(module), function))
