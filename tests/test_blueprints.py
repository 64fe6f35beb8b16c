"""One way to declare a blueprint: `bp` in its package's __init__.py, the view modules imported at its
bottom; and what the rest of ivr needs lives outside the blueprint packages, so no import circles
and no Flask in the `ivr` command (and the workers it starts)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

import pytest
from flask import Blueprint

from tests.conftest import ROOT

PACKAGES = ("voice", "operator", "api", "admin", "ops")


@pytest.mark.parametrize("package", PACKAGES)
def test_each_blueprint_is_declared_in_its_package_and_registered_from_there(app, package: str) -> None:
    bp = importlib.import_module(f"ivr.{package}").bp
    assert isinstance(bp, Blueprint) and app.blueprints[bp.name] is bp


def test_blueprints_are_made_only_in_package_inits() -> None:
    makers = []
    for path in (ROOT / "ivr").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Blueprint":
                makers.append(path.relative_to(ROOT).as_posix())
    assert sorted(makers) == sorted(f"ivr/{package}/__init__.py" for package in PACKAGES)


@pytest.mark.parametrize("first", ["ivr.services", "ivr.call_state", "ivr.line_gauges", "ivr.voice.signature",
                                   "ivr.flow_checks", "ivr.operator.auth", "ivr.api.routes", "ivr.ops.routes"])
def test_any_module_imports_first_without_a_circle(first: str) -> None:
    # A fresh interpreter each time: the order of first imports is where circles show.
    code = f"import {first}\nfrom ivr.app import create_app\nprint('ok')"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_the_ivr_command_loads_no_web_side() -> None:
    # `ivr worker` is how the workers start (Procfile, systemd): its subcommands must not pull in Flask.
    # Nor do the admin's commands when they run: the flow check and the figures are no web pages.
    code = ("import sys\nfrom importlib.metadata import entry_points\nimport ivr.cli\n"
            "for command in entry_points(group='ivr.commands'): command.load()\n"
            "import ivr.flow_checks, ivr.flow_figures\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] == 'flask' or n == 'ivr.services'"
            " or n.startswith(('ivr.admin.', 'ivr.operator', 'ivr.voice', 'ivr.api', 'ivr.ops'))))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"
