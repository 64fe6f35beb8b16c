"""The systemd units in deploy/systemd: verified by systemd itself, hardened, and matching the Procfile."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNITS = ROOT / "deploy" / "systemd"
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "User": "ivr",
    "UMask": "0077",
    "Restart": "always",
}


def _service_section(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def _installed_copy(tmp_path: Path) -> Path:
    """The units as installed here: our venv's commands instead of /opt/ivr's, which systemd checks exist."""
    bin_dir = Path(sys.executable).parent
    for unit in UNITS.iterdir():
        text = unit.read_text(encoding="utf-8").replace("/opt/ivr/.venv/bin/", f"{bin_dir}/")
        (tmp_path / unit.name).write_text(text.replace("WorkingDirectory=/opt/ivr", f"WorkingDirectory={ROOT}"))
    return tmp_path


def _verify(directory: Path, *names: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.fail("systemd-analyze is missing (Debian package systemd; tests/run.sh installs it)")
    return subprocess.run([tool, "verify", *(f"./{name}" for name in names)], cwd=directory,
                          capture_output=True, text=True, timeout=120)


UNIT_NAMES = ("ivr-web.service", "ivr-sweeper.service", "ivr-worker@intake.service", "ivr-worker@transcribe.service")


def test_units_pass_systemd_analyze_verify_without_a_warning(tmp_path: Path) -> None:
    result = _verify(_installed_copy(tmp_path), *UNIT_NAMES)
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), result.stderr


def test_a_misspelt_key_is_caught(tmp_path: Path) -> None:
    directory = _installed_copy(tmp_path)
    unit = directory / "ivr-sweeper.service"
    unit.write_text(unit.read_text(encoding="utf-8").replace("NoNewPrivileges=", "NoNewPrivilegs="))
    assert "NoNewPrivilegs" in _verify(directory, "ivr-sweeper.service").stderr


@pytest.mark.parametrize("unit", ["ivr-web.service", "ivr-sweeper.service", "ivr-worker@.service"])
def test_every_unit_is_hardened(unit: str) -> None:
    service = _service_section(UNITS / unit)
    for key, value in HARDENING.items():
        assert service.get(key) == value, (unit, key)
    assert service.get("ReadWritePaths") == "/var/lib/ivr"
    assert service.get("CapabilityBoundingSet") == ""


def test_units_run_what_the_procfile_runs() -> None:
    """One list of processes: the Procfile and the units must not drift apart."""
    procfile = {line.split(":", 1)[0]: line.split(":", 1)[1].strip()
                for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines() if ":" in line}
    commands = {unit.name: _service_section(unit)["ExecStart"] for unit in UNITS.glob("*.service")}
    assert "ivr.app:create_app()" in procfile["web"] and "ivr.app:create_app()" in commands["ivr-web.service"]
    assert procfile["sweeper"] == "ivr sweep --forever"
    assert commands["ivr-sweeper.service"].endswith("/ivr sweep --forever")
    worker_queues = {"intake", "transcribe"}
    assert commands["ivr-worker@.service"].endswith("/ivr worker --queue %i")
    for name, command in procfile.items():
        if command.startswith("ivr worker"):
            queue = command.split("--queue")[1].split()[0] if "--queue" in command else "intake"
            assert queue in worker_queues, name
