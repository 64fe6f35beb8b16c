"""A clean checkout speaks Kazakh: the .mo files are not in git, and the install or the app compiles them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, DATA_KEY, PUBLIC_BASE_URL, ROOT

# Builds the real app from the copy and asks for the sign-in page in Kazakh, as a browser would.
SCRIPT = """
import json, sys
import ivr
from ivr.app import create_app
from ivr.settings import Settings

assert ivr.__file__.startswith(sys.argv[1]), ivr.__file__  # the copy, not the developer's tree
app = create_app(Settings(**json.loads(sys.argv[2])))
body = app.test_client().get("/operator/login", headers={"Accept-Language": "kk"}).get_data(as_text=True)
print(json.dumps({"body": body, "directory": app.config["BABEL_TRANSLATION_DIRECTORIES"]}))
"""


def _clean_copy(target: Path, *paths: str) -> Path:
    """The files git would check out (tracked, or new and not ignored) under `paths`, copied to `target`."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", *paths],
                            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():  # a file deleted in the work tree but not yet in git is left out
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def test_a_clean_checkout_compiles_its_catalogues_when_the_app_starts(tmp_path: Path, redis_url: str,
                                                                        sqlite_url: str) -> None:
    copy = _clean_copy(tmp_path / "checkout", "ivr")
    translations = copy / "ivr" / "translations"
    assert sorted(path.parent.parent.name for path in translations.glob("*/LC_MESSAGES/messages.po")) == \
        ["en", "kk", "ru"]
    assert list(translations.rglob("*.mo")) == []  # git never holds them (.gitignore)
    settings = {
        "database_url": sqlite_url, "redis_url": redis_url, "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN, "public_base_url": PUBLIC_BASE_URL,
        "secret_key": "test-secret-of-32-bytes-or-more-0123", "data_key": DATA_KEY,
        "flow_path": str(ROOT / "config" / "flow.yaml"), "prompts_dir": str(ROOT / "config" / "prompts"),
        "recordings_dir": str(tmp_path / "recordings"), "model_cache_dir": str(tmp_path / "models"),
    }
    env = {**os.environ, "PYTHONPATH": str(copy)}
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(copy), json.dumps(settings)], cwd=copy, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    page = json.loads(run.stdout.strip().splitlines()[-1])
    assert page["directory"] == str(translations)
    assert 'lang="kk"' in page["body"] and "Консольге кіру" in page["body"]  # "Sign in to the console"
    assert "login.title" not in page["body"]
    assert sorted(path.parent.parent.name for path in translations.rglob("messages.mo")) == ["en", "kk", "ru"]


@pytest.mark.slow
def test_the_wheel_carries_compiled_catalogues(tmp_path: Path) -> None:
    # What `pip install .` (and, in place, `pip install -e .`) runs: setup.py's build_py step.
    copy = _clean_copy(tmp_path / "checkout", "ivr", "workers", "pyproject.toml", "setup.py", "README.md")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                          str(copy)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"ivr/translations/{locale}/LC_MESSAGES/messages.mo" for locale in ("en", "kk", "ru")} <= names
    assert list((copy / "ivr" / "translations").rglob("*.mo")) == []  # built into the wheel, not the source

    from babel.support import Translations

    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "installed")
    kazakh = Translations.load(str(tmp_path / "installed" / "ivr" / "translations"), ["kk"])
    assert kazakh.gettext("queue.title") == "Өтініштер кезегі"


def test_a_catalogue_edited_after_compiling_is_compiled_again(tmp_path: Path) -> None:
    from babel.support import Translations

    from ivr import catalogues

    copy = _clean_copy(tmp_path / "checkout", "ivr/translations") / "ivr" / "translations"
    assert catalogues.stale(copy) == ["en", "kk", "ru"]
    assert len(catalogues.compile_catalogues(copy)) == 3 and catalogues.stale(copy) == []
    po = copy / "kk" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text().replace('msgstr "Өтініштер кезегі"', 'msgstr "Өтініштердің кезегі"'))
    mo = po.with_suffix(".mo")
    os.utime(po, (mo.stat().st_mtime + 5, mo.stat().st_mtime + 5))  # a later edit, even on a coarse clock
    assert catalogues.stale(copy) == ["kk"]
    assert catalogues.compile_catalogues(copy) == [mo]
    assert Translations.load(str(copy), ["kk"]).gettext("queue.title") == "Өтініштердің кезегі"
