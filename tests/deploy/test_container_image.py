"""The container image for real (issue 17): the Dockerfile is built and the image is run.

deploy/container/build-and-check.sh builds it with buildah (no Docker engine here; the base image
is a stand-in made from Debian's bookworm packages when Docker Hub is out of reach) and runs it
with podman: as uid 10001, `ivr --help`, the bundled model read-only and still verified,
`ivr db upgrade` on the data volume, and the default command answering /healthz 200 with no Redis.
tests/ops/test_dockerfile.py checks the Dockerfile's text; this checks what it makes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "container" / "build-and-check.sh"
CHECKS = ("build", "image-config", "runs-as-10001", "ivr-help", "model-read-only", "db-upgrade",
          "kazakh-voice", "healthz-200", "healthcheck", "processes-as-ivr")


def test_the_image_builds_and_serves_as_a_user_that_is_not_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("building and running the image needs root (buildah and podman without a daemon)")
    missing = [tool for tool in ("buildah", "podman", "mmdebstrap", "runc") if not shutil.which(tool)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: tests/run.sh installs them")
    started = time.monotonic()
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=1800, cwd=ROOT)
    elapsed = time.monotonic() - started
    print(done.stdout[-3000:], f"\nbuilt and checked in {elapsed:.0f} s")
    results = dict(re.findall(r"^check ([\w-]+): (ok|FAILED.*)$", done.stdout, re.M))
    failed = {name: result for name, result in results.items() if result != "ok"}
    assert not failed, f"{failed}\n{done.stderr[-2000:]}"
    assert set(results) == set(CHECKS), (sorted(results), done.stdout[-2000:], done.stderr[-2000:])
    assert done.returncode == 0, done.stderr[-2000:]
