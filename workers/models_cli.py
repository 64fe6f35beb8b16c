"""`ivr model add|list|check`: install a speech model a deployer brought, see what hears which language."""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import wave
from pathlib import Path

import numpy as np

from ivr.settings import Settings, load_settings
from ivr.speech_config import (
    BUNDLED_MODEL,
    ENGINES,
    LanguageModel,
    Manifest,
    SpeechConfigError,
    languages_using,
    load_speech_config,
    model_files,
    model_problem,
    models_dir_of,
    sha256_of,
    speech_problems,
)

LANGUAGE_CHOICES = ("kk", "ru", "en")
PROBE_S = 10.0
_VOICES = {"kk": "kk", "ru": "ru", "en": "en-us"}
_PROBE_TEXT = {
    "kk": "Сәлеметсіз бе. Мен пара туралы хабарлағым келеді. Полиция қызметкері менен ақша сұрады.",
    "ru": "Здравствуйте. Я хочу сообщить о взятке. Полицейский потребовал у меня деньги на дороге.",
    "en": "Hello. I want to report a bribe. The police officer asked me for money on the road.",
}


class ModelRefused(Exception):
    """The files offered are not a usable model; nothing was installed."""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `model add`, `model list` and `model check` to the `ivr` command."""
    model = subparsers.add_parser("model", help="speech models: install, list, check")
    sub = model.add_subparsers(dest="model_command", required=True)
    add = sub.add_parser("add", help="check, record and install a model folder, then time it")
    add.add_argument("path", type=Path, help="the model folder as downloaded")
    add.add_argument("--engine", choices=ENGINES, required=True)
    add.add_argument("--name", required=True, help="its folder name under IVR_MODELS_DIR, e.g. gigaam-v3-ctc")
    add.add_argument("--language", choices=LANGUAGE_CHOICES, required=True, help="the language to time it on")
    add.add_argument("--type", help="onnx-asr model type (default: --name if onnx-asr knows it, else config.json)")
    add.add_argument("--sha256", action="append", default=[], metavar="[FILE=]HEX",
                     help="a published checksum; bare HEX is for the largest file (repeatable)")
    add.add_argument("--replace", action="store_true", help="replace an installed model of that name")
    add.set_defaults(func=cmd_model_add)
    listing = sub.add_parser("list", help="installed models and the languages that use them")
    listing.set_defaults(func=cmd_model_list)
    check = sub.add_parser("check", help="verify every configured model's checksums")
    check.set_defaults(func=cmd_model_check)


def cmd_model_add(args: argparse.Namespace) -> int:
    """`ivr model add PATH --engine E --name N --language L [--sha256 ...]`."""
    settings = load_settings()
    try:
        installed = install_model(
            settings, Path(args.path), engine=args.engine, name=args.name, model_type=args.type,
            language=args.language, checksums=args.sha256, replace=args.replace,
        )
    except ModelRefused as error:
        print(f"model not installed: {error}", file=sys.stderr)
        return 1
    print(f"installed {args.name} in {installed} ({len(model_files(installed))} files, checksums recorded)")
    try:
        rtf, text = time_model(settings, args.name, args.engine, args.language)
    except Exception as error:  # the files are in place; say why it cannot run
        print(f"the model does not load or run: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"real-time factor on this machine: {rtf:.3f} ({1 / rtf if rtf else 0:.1f}x faster than real time), "
          f"{settings.transcribe_threads or 'all'} threads; heard: {text[:80]!r}")
    print(f"to use it for {args.language}, put in {settings.speech_config_path}:\n"
          f"languages:\n  {args.language}:\n    engine: {args.engine}\n    model: {args.name}")
    return 0


def install_model(
    settings: Settings,
    source: Path,
    *,
    engine: str,
    name: str,
    model_type: str | None,
    language: str | None,
    checksums: list[str],
    replace: bool = False,
) -> Path:
    """Check `source`, copy it under the models folder as `name` with a manifest; the new folder."""
    if not source.is_dir():
        raise ModelRefused(f"{source} is not a folder")
    if "/" in name or name.startswith(".") or not name.strip():
        raise ModelRefused("--name must be a plain folder name")
    files = model_files(source)
    if not files:
        raise ModelRefused(f"{source} holds no files")
    if engine == "faster-whisper" and "model.bin" not in files:
        raise ModelRefused("a CTranslate2 Whisper folder has model.bin (convert with ct2-transformers-converter)")
    if engine == "onnx-asr":
        if not any(f.endswith((".onnx", ".ort")) for f in files):
            raise ModelRefused("an onnx-asr folder has .onnx files")
        model_type = model_type or _onnx_type(source, name)
    sums = {relative: sha256_of(source / relative) for relative in files}
    _check_published(sums, checksums, source)
    target = models_dir_of(settings) / name
    if target.exists() and not replace:
        raise ModelRefused(f"{target} exists (use --replace)")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        for relative in files:
            (temp / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, temp / relative)
            if sha256_of(temp / relative) != sums[relative]:
                raise ModelRefused(f"{relative} changed while copying")
        manifest = Manifest(name, engine, model_type, language, sums)  # type: ignore[arg-type]
        (temp / "ivr-model.json").write_text(manifest.to_json(), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        temp.rename(target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return target


def _onnx_type(source: Path, name: str) -> str:
    import json

    from onnx_asr.loader import create_asr_resolver

    try:
        create_asr_resolver(name, source, offline=True)
        return name
    except Exception:  # not a name onnx-asr knows: the export's config.json must say
        pass
    try:
        found = json.loads((source / "config.json").read_text())["model_type"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ModelRefused("say the onnx-asr model type with --type (e.g. gigaam-v3-ctc, t-one-ctc, vosk)") from None
    return str(found)


def _check_published(sums: dict[str, str], checksums: list[str], source: Path) -> None:
    """Every --sha256 given must match; a bare HEX is the largest file's."""
    largest = max(sums, key=lambda relative: (source / relative).stat().st_size)
    for item in checksums:
        relative, _, expected = item.rpartition("=")
        relative = relative or largest
        if relative not in sums:
            raise ModelRefused(f"--sha256 names {relative}, which is not in {source}")
        if sums[relative] != expected.strip().lower():
            raise ModelRefused(f"{relative}: SHA-256 {sums[relative]} is not the published {expected}")


def probe_audio(language: str, seconds: float = PROBE_S) -> bytes:
    """A few seconds of 8 kHz telephone-like WAV: espeak-ng speech if installed, else tones."""
    rate = 8000
    samples = None
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as folder:
            raw = Path(folder) / "probe.wav"
            spoken = subprocess.run(["espeak-ng", "-v", _VOICES[language], "-w", str(raw), _PROBE_TEXT[language]],
                                    capture_output=True, check=False)
            if spoken.returncode == 0:
                with wave.open(str(raw)) as reader:
                    voice = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
                    step = reader.getframerate() / rate
                samples = voice[(np.arange(int(voice.size / step)) * step).astype(int)]
    if samples is None:
        t = np.arange(int(rate * seconds)) / rate
        samples = (8000 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)).astype(np.int16)
    samples = np.resize(samples, int(rate * seconds))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.astype(np.int16).tobytes())
    return out.getvalue()


def time_model(settings: Settings, name: str, engine: str, language: str) -> tuple[float, str]:
    """Load the installed model once and transcribe probe audio: (real-time factor, text heard)."""
    from workers.transcriber import build_transcriber

    chosen = LanguageModel(engine=engine, model=name)
    transcriber = build_transcriber(settings, chosen)
    audio = probe_audio(language)
    load = getattr(transcriber, "load", None)
    if load is not None:
        load()
    started = time.monotonic()
    result = transcriber.transcribe(audio, language=language)  # type: ignore[arg-type]
    return (time.monotonic() - started) / max(result.duration_s, 0.001), result.text


def cmd_model_list(args: argparse.Namespace) -> int:
    """`ivr model list`: each installed model, its engine and type, size, state and languages."""
    settings = load_settings()
    models_dir = models_dir_of(settings)
    try:
        config = load_speech_config(settings.speech_config_path)
    except SpeechConfigError as error:
        print(error, file=sys.stderr)
        return 1
    using = languages_using(config, models_dir)
    fallback = [lang for lang in LANGUAGE_CHOICES if lang not in config.languages]
    from ivr.speech_config import installed_models

    rows: list[tuple[str, ...]] = []
    seen = set()
    for folder, manifest in installed_models(models_dir):
        seen.add(folder.resolve())
        languages = list(using.get(folder.resolve(), []))
        if folder.name == BUNDLED_MODEL and not settings.model_dir:
            languages += fallback
        size = sum((folder / f).stat().st_size for f in model_files(folder)) / 1e6
        state = model_problem(folder, name=folder.name) or "ok"
        engine = manifest.engine if manifest else "faster-whisper"
        kind = (manifest.type if manifest else None) or "-"
        rows.append((folder.name, engine, kind, f"{size:.1f} MB", ",".join(languages) or "-", state))
    for folder, languages in using.items():
        if folder not in seen:
            rows.append((folder.name, "?", "-", "-", ",".join(languages), f"model {folder.name} missing ({folder})"))
    if settings.model_dir and fallback:
        rows.append((str(settings.model_dir), "faster-whisper", "-", "-", ",".join(fallback), "IVR_MODEL_DIR"))
    if not any(row[0] == BUNDLED_MODEL for row in rows) and fallback and not settings.model_dir:
        rows.append((BUNDLED_MODEL, "faster-whisper", "-", "-", ",".join(fallback), "joined on first use"))
    header = ("name", "engine", "type", "size", "languages", "state")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_model_check(args: argparse.Namespace) -> int:
    """`ivr model check`: 0 when every configured model is intact, else 1 with the reasons."""
    settings = load_settings()
    try:
        problems = speech_problems(load_speech_config(settings.speech_config_path), models_dir_of(settings))
    except SpeechConfigError as error:
        problems = [str(error)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("every configured speech model is intact")
    return 1 if problems else 0
