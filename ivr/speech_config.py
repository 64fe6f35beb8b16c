"""Which speech model hears which language (config/speech.yaml), and whether its files are intact.

The web side imports this module (for /readyz and the console) and must never import the
workers, so it holds only the config model and file checks; loading a model is the workers' job.

    # config/speech.yaml
    languages:
      ru:
        engine: onnx-asr
        model: gigaam-v3-ctc        # a folder under IVR_MODELS_DIR, put there by `ivr model add`
        type: gigaam-v3-ctc         # onnx-asr's model name or type (default: the folder's manifest)
      kk:
        engine: onnx-asr
        model: gigaam-multilingual-ctc
      en:
        engine: faster-whisper
        model: /srv/models/whisper-small-ct2   # any CTranslate2 Whisper folder
        options: {beam_size: 2}

A language not listed is heard by the bundled Whisper base.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ivr.config_file import ConfigFileError, parse_model

Engine = Literal["faster-whisper", "onnx-asr"]
ENGINES: tuple[Engine, ...] = ("faster-whisper", "onnx-asr")
SpeechLanguage = Literal["kk", "ru", "en"]
MANIFEST = "ivr-model.json"
BUNDLED_MODEL = "whisper-base"
_CHUNK = 1 << 20


class SpeechConfigError(ValueError):
    """config/speech.yaml is unreadable or wrong; the message names the file and line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LanguageModel(_Strict):
    """The engine and model that hear one language."""

    engine: Engine
    model: str
    """A folder name under the models folder (`ivr model add`), or an absolute path."""
    type: str | None = None
    """onnx-asr's model name or type (e.g. gigaam-v3-ctc, t-one-ctc, vosk); default: the manifest's."""
    quantization: str | None = None
    """onnx-asr: pick e.g. the int8 files of a folder that has both."""
    options: dict[str, Any] = {}
    """Engine options, e.g. faster-whisper's beam_size, compute_type; onnx-asr's chunk_s."""

    @field_validator("model")
    @classmethod
    def _model_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a model folder")
        return value


class SpeechConfig(_Strict):
    """language -> model; languages not listed fall back to the bundled Whisper base."""

    languages: dict[SpeechLanguage, LanguageModel] = {}


def load_speech_config(path: Path) -> SpeechConfig:
    """The config in `path`, or an empty one (bundled Whisper for all) if the file does not exist."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return SpeechConfig()
    except OSError as error:
        raise SpeechConfigError(f"{path}: unreadable ({error.strerror})") from None
    try:
        return parse_model(text, path, SpeechConfig)
    except ConfigFileError as error:
        raise SpeechConfigError(str(error)) from None


def model_path(models_dir: Path, model: str) -> Path:
    """The folder a config's `model` names: absolute as given, else under the models folder."""
    candidate = Path(model)
    return candidate if candidate.is_absolute() else Path(models_dir) / model


# --------------------------------------------------------------------------- manifests


@dataclass(frozen=True)
class Manifest:
    """What `ivr model add` recorded in a model folder: its name, engine, type and file checksums."""

    name: str
    engine: Engine
    type: str | None
    language: str | None
    files: dict[str, str]

    def to_json(self) -> str:
        """The manifest as stored (ivr-model.json)."""
        body = {"name": self.name, "engine": self.engine, "type": self.type,
                "language": self.language, "files": self.files}
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, or None if it has none (or it is not valid)."""
    try:
        body = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        engine = body["engine"]
        if engine not in ENGINES or not isinstance(body["files"], dict):
            return None
        return Manifest(str(body["name"]), engine, body.get("type"), body.get("language"),
                        {str(k): str(v) for k, v in body["files"].items()})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def model_files(folder: Path) -> list[str]:
    """The files of a model folder (relative, sorted), without our manifest and hidden files."""
    folder = Path(folder)
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and relative.name != MANIFEST and not any(p.startswith(".") for p in relative.parts):
            found.append(relative.as_posix())
    return sorted(found)


# A full check reads every byte (a GigaAM export is about 1 GB): done once per set of file
# sizes and mtimes, after which /readyz only stats the files.
_verdicts: dict[tuple[str, tuple[tuple[str, int, int], ...]], str | None] = {}
_verdicts_lock = threading.Lock()


def model_problem(folder: Path, *, name: str) -> str | None:
    """Why the model in `folder` cannot be used ("missing", "corrupt: ..."), or None if intact."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"model {name} missing ({folder})"
    manifest = read_manifest(folder)
    if manifest is None:
        if name == BUNDLED_MODEL or (folder / "model.bin").is_file():
            return None  # a Whisper folder set by hand (IVR_MODEL_DIR), unchecked as before
        return f"model {name} has no {MANIFEST}: install it with `ivr model add`"
    stats = []
    for relative in sorted(manifest.files):
        try:
            stat = (folder / relative).stat()
        except OSError:
            return f"model {name} corrupt: {relative} missing"
        stats.append((relative, stat.st_size, stat.st_mtime_ns))
    key = (str(folder.resolve()), tuple(stats))
    with _verdicts_lock:
        if key in _verdicts:
            return _verdicts[key]
    verdict = None
    for relative, expected in sorted(manifest.files.items()):
        if sha256_of(folder / relative) != expected:
            verdict = f"model {name} corrupt: {relative} does not match its checksum"
            break
    with _verdicts_lock:
        _verdicts[key] = verdict
    return verdict


def speech_problems(config: SpeechConfig, models_dir: Path) -> list[str]:
    """One line per configured model that is missing or corrupt (empty when all are intact)."""
    problems = []
    seen: set[Path] = set()
    for _language, chosen in sorted(config.languages.items()):
        folder = model_path(models_dir, chosen.model)
        if folder in seen:
            continue
        seen.add(folder)
        problem = model_problem(folder, name=chosen.model)
        if problem:
            problems.append(problem)
    return problems


def languages_using(config: SpeechConfig, models_dir: Path) -> dict[Path, list[str]]:
    """Each configured model folder and the languages it hears."""
    using: dict[Path, list[str]] = {}
    for language, chosen in sorted(config.languages.items()):
        using.setdefault(model_path(models_dir, chosen.model).resolve(), []).append(language)
    return using


def installed_models(models_dir: Path) -> Iterable[tuple[Path, Manifest | None]]:
    """Model folders under `models_dir` (those with a manifest, and the bundled Whisper)."""
    root = Path(models_dir)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        manifest = read_manifest(folder)
        if manifest is not None or (folder / "model.bin").is_file():
            found.append((folder, manifest))
    return found


def models_dir_of(settings: Any) -> Path:
    """Where installed models live: IVR_MODELS_DIR, else IVR_MODEL_CACHE_DIR."""
    chosen = getattr(settings, "models_dir", None) or settings.model_cache_dir
    return Path(os.fspath(chosen))


def describe_options(options: Mapping[str, Any]) -> str:
    """Options as `k=v` pairs, for `ivr model list`."""
    return ", ".join(f"{key}={value}" for key, value in sorted(options.items()))


def speech_status(settings: Any) -> list[str]:
    """What /readyz and `ivr up` say about speech: the config's error, or each missing/corrupt model.

    Cheap after the first call in a process: checksums are read once per set of file sizes and
    mtimes, later calls only stat the files.
    """
    if getattr(settings, "transcriber", "none") == "none":
        return []
    try:
        config = load_speech_config(settings.speech_config_path)
    except SpeechConfigError as error:
        return [str(error)]
    return speech_problems(config, models_dir_of(settings))
