"""The one build step pyproject.toml cannot declare: compiling the console's translations.

`pip install .` and `pip install -e .` both run build_py; this one compiles ivr/translations/*/
LC_MESSAGES/messages.po into .mo files (into the wheel, or beside the .po for an editable install).
The .mo files are not in git. ivr/catalogues.py is loaded by path: the package's own dependencies
are not installed yet while it builds (Babel is, from [build-system] requires).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _catalogues() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_ivr_catalogues", ROOT / "ivr" / "catalogues.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithCatalogues(build_py):
    """build_py, then the .po catalogues compiled into .mo files."""

    def run(self) -> None:
        super().run()
        catalogues = _catalogues()
        source = ROOT / "ivr" / "translations"
        # An editable install imports ivr from this tree, so its catalogues are compiled in place.
        target = source if self.editable_mode else Path(self.build_lib) / "ivr" / "translations"
        for mo in catalogues.compile_catalogues(source, target, force=True):
            print(f"compiled {mo}")


setup(cmdclass={"build_py": BuildPyWithCatalogues})
