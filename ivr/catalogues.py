"""The console's gettext catalogues (ivr/translations) and compiling them from .po into .mo.

The .po files are the source and the only ones in git. The install compiles them (setup.py's build
step, `pip install -e .` included); `ready()` compiles again at start any catalogue whose .mo is
missing or older than its .po (a checkout that was pulled or edited without reinstalling), in place
when it can write there and else into a private temporary folder. This module imports nothing from
`ivr`, so setup.py can load it by path before the package's dependencies are installed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from functools import cache
from pathlib import Path

TRANSLATIONS = Path(__file__).parent / "translations"
DOMAIN = "messages"

log = logging.getLogger(__name__)


def sources(directory: Path = TRANSLATIONS) -> dict[str, Path]:
    """Each locale's .po file under `directory` (<locale>/LC_MESSAGES/messages.po)."""
    return {path.parent.parent.name: path for path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))}


def stale(source: Path = TRANSLATIONS, target: Path | None = None) -> list[str]:
    """The locales whose .mo under `target` (default: beside the .po) is missing or older than the .po."""
    target = target or source
    out = []
    for locale, po in sources(source).items():
        mo = target / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            out.append(locale)
    return out


def compile_catalogues(source: Path = TRANSLATIONS, target: Path | None = None, *, force: bool = False) -> list[Path]:
    """Compile the stale (or, with `force`, every) catalogue under `source` into `target`; the .mo files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    target = target or source
    pos = sources(source)
    written = []
    for locale in pos if force else stale(source, target):
        with pos[locale].open("rb") as handle:
            catalogue = read_po(handle, locale=locale, domain=DOMAIN)
        mo = target / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
        mo.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: gunicorn's workers may compile at the same moment, and none
        # may read half a file.
        handle_fd, temporary = tempfile.mkstemp(dir=mo.parent, prefix=f".{DOMAIN}.", suffix=".mo")
        try:
            with os.fdopen(handle_fd, "wb") as out:
                write_mo(out, catalogue)  # fuzzy entries left out, as `pybabel compile` does
            os.replace(temporary, mo)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(mo)
    return written


@cache
def ready(source: Path = TRANSLATIONS) -> Path:
    """The folder holding up-to-date .mo files for the catalogues under `source` (compiled if needed)."""
    if not stale(source):
        return source
    try:
        compile_catalogues(source)
        return source
    except OSError as exc:
        # A read-only install (systemd's ProtectSystem=strict) whose catalogues changed after it
        # was built: compile for this process only.
        private = Path(tempfile.mkdtemp(prefix="ivr-translations-"))
        compile_catalogues(source, private)
        log.warning("translations.compiled_privately: %s is not writable (%s); compiled into %s",
                    source, exc.strerror, private)
        return private
