"""The Prometheus alert rules: valid, unit-tested with promtool, and fed by gauges the app exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from ivr.db import utc_now
from tests.conftest import ROOT
from tests.operator.console import Console

RULES = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana" / "ivr-line.json"


def _promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool is missing (Debian package prometheus; tests/run.sh installs it)")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *args], cwd=RULES, capture_output=True, text=True, timeout=120)


def test_rules_pass_promtool_check() -> None:
    result = _run("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_pass_their_promtool_unit_tests() -> None:
    result = _run("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_expectation_fails_promtool(tmp_path: Path) -> None:
    """The unit tests can fail: a wrong expected value is caught."""
    shutil.copy(RULES / "alerts.yml", tmp_path / "alerts.yml")
    tests = (RULES / "alerts_test.yml").read_text(encoding="utf-8").replace("has waited 36m 40s", "has waited 1m")
    (tmp_path / "alerts_test.yml").write_text(tests, encoding="utf-8")
    result = subprocess.run([_promtool(), "test", "rules", "alerts_test.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "ReportsStuck" in result.stdout + result.stderr


def _names_in(text: str) -> set[str]:
    return set(re.findall(r"\bivr_[a-z0-9_]+", text))


def _exported(client) -> set[str]:  # type: ignore[no-untyped-def]
    body = client.get("/metrics").get_data(as_text=True)
    names = set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names.add(name)
            if kind == "counter":
                names.add(name + "_total" if not name.endswith("_total") else name)
            if kind == "histogram":
                names |= {name + "_bucket", name + "_count", name + "_sum"}
    return names


def test_every_metric_the_rules_and_dashboard_name_is_exported(client) -> None:
    """A renamed metric must not silently disarm an alert or blank a panel."""
    exported = _exported(client)
    named = _names_in((RULES / "alerts.yml").read_text(encoding="utf-8"))
    named |= _names_in(GRAFANA.read_text(encoding="utf-8"))
    assert named, "no ivr_ metric found in the rules"
    assert named <= exported, sorted(named - exported)


def _gauge(client, name: str) -> float:  # type: ignore[no-untyped-def]
    body = client.get("/metrics").get_data(as_text=True)
    found = re.search(rf"^{name} (\S+)$", body, re.MULTILINE)
    assert found, name
    return float(found.group(1))


@pytest.mark.usefixtures("clock")
def test_gauges_report_an_unclaimed_urgent_case_and_a_stuck_recording(app, client) -> None:
    console = Console(app)
    assert _gauge(client, "ivr_urgent_unclaimed_oldest_seconds") == 0
    console.add_case(is_urgent=True, created_at=utc_now() - timedelta(minutes=20))
    assert 1190 <= _gauge(client, "ivr_urgent_unclaimed_oldest_seconds") <= 1300
    assert _gauge(client, "ivr_intakes_failed") == 0


def test_alert_groups_name_an_action_for_every_alert() -> None:
    """At 3 a.m. the duty engineer reads what to do first, not only what is wrong."""
    groups = yaml.safe_load((RULES / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    alerts = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    assert len(alerts) >= 12
    for rule in alerts:
        assert rule["annotations"].get("summary") and rule["annotations"].get("action"), rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
