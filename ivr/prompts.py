"""Prompt audio for languages Twilio cannot speak: placeholders made with espeak-ng and sox, and checks.

For every language with `audio_only: true` the line plays files under the prompts dir:
`<lang>/<message>.wav`, `<lang>/digits/<0-9>.wav` and `<lang>/regions/<code>.wav`. A message
may instead name its own `audio:` file (a studio recording) in any language; those are never
rendered or overwritten here.

Each language dir keeps `manifest.json`, mapping every placeholder this module made (path
relative to the language dir) to `source`, the sha256 of the text and voice settings it was
made from, and `audio`, the sha256 of the file written. A file is ours only while both match
its manifest entry: anything else is an admin's recording and is kept unless `force` is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import Literal

from ivr.flow.model import Flow, Language

MANIFEST = "manifest.json"
AUDIO_SUFFIXES = frozenset({".wav", ".mp3"})  # what Twilio's <Play> takes

# espeak-ng voice per language (`espeak-ng --voices` lists them).
VOICES: dict[Language, str] = {"kk": "kk", "ru": "ru", "en": "en-us"}

# Digits are read one by one ("4, 8, 1, 5"), so each is a word of its own.
DIGIT_WORDS: dict[Language, tuple[str, ...]] = {
    "kk": ("нөл", "бір", "екі", "үш", "төрт", "бес", "алты", "жеті", "сегіз", "тоғыз"),
    "ru": ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"),
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
}

# espeak-ng's default 175 words a minute is hard to follow through a phone line's narrow band.
SPEED_WPM = 150
SAMPLE_RATE = 8000  # what the phone network carries anyway; larger files only cost size
# Bump when the sox chain below changes, so every placeholder counts as stale and is redone.
PIPELINE_VERSION = 1
# Trim espeak's silence at both ends, even out loudness, then leave a short natural pause so
# files played back to back (a reference read digit by digit) do not run together.
SOX_EFFECTS = (
    "silence", "1", "0.02", "0.1%", "reverse", "silence", "1", "0.02", "0.1%", "reverse",
    "norm", "-3", "pad", "0.1", "0.25",
)  # fmt: skip

INSTALL_HINT = "install them with `apt-get install espeak-ng sox` (Debian/Ubuntu)"

Severity = Literal["error", "warning"]


class PromptError(RuntimeError):
    """Prompts cannot be rendered: a missing tool, a failed command or a broken manifest."""


@dataclass(frozen=True)
class RenderReport:
    """What `render_prompts` did; paths are relative to the prompts dir, e.g. `kk/welcome.wav`."""

    rendered: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # placeholders already up to date
    kept_studio: tuple[str, ...] = ()  # recordings not made here, left alone
    missing_studio: tuple[str, ...] = ()  # `audio:` files the flow names but nobody has added

    @property
    def total(self) -> int:
        """How many files the flow needs in the languages rendered."""
        return len(self.rendered) + len(self.skipped) + len(self.kept_studio) + len(self.missing_studio)


@dataclass(frozen=True)
class PromptIssue:
    """One thing wrong with the prompt files, for the admin who has to fix it."""

    path: str
    problem: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.severity}: {self.problem}"


@dataclass(frozen=True)
class _Prompt:
    """A file the flow plays: its language, the words it should say, and who makes it."""

    language: Language
    text: str
    studio: bool  # named by a message's `audio:`: only a person records it


# --------------------------------------------------------------------------- what the flow needs


def _needed(flow: Flow) -> dict[str, _Prompt]:
    """Every audio file the flow plays, by path relative to the prompts dir, in flow order."""
    needed: dict[str, _Prompt] = {}
    for language, config in flow.doc.languages.items():
        for key in flow.doc.messages:
            message = flow.message(key, language)
            if message.audio:
                needed[_clean(message.audio)] = _Prompt(language, message.text, studio=True)
            elif config.audio_only:
                needed[f"{language}/{key}.wav"] = _Prompt(language, message.text, studio=False)
        if not config.audio_only:
            continue
        for digit, word in enumerate(DIGIT_WORDS[language]):
            needed[f"{language}/digits/{digit}.wav"] = _Prompt(language, word, studio=False)
        for region in flow.doc.regions:
            needed[f"{language}/regions/{region.code}.wav"] = _Prompt(language, region.names[language], studio=False)
    return needed


def _clean(relative: str | PurePath) -> str:
    """A prompt path as the engine writes it: forward slashes, no leading `./`."""
    return PurePosixPath(str(relative).replace("\\", "/")).as_posix().removeprefix("./")


def prompt_text(flow: Flow, relative_path: str | PurePath) -> str | None:
    """The words behind a prompt file (`kk/digits/4.wav` -> `төрт`); None if the flow never plays it."""
    prompt = _needed(flow).get(_clean(relative_path))
    return prompt.text if prompt else None


def _settings(language: Language) -> dict[str, object]:
    return {
        "engine": "espeak-ng",
        "voice": VOICES[language],
        "speed_wpm": SPEED_WPM,
        "sample_rate": SAMPLE_RATE,
        "format": "wav-pcm16-mono",
        "pipeline": PIPELINE_VERSION,
    }


def _source_digest(prompt: _Prompt) -> str:
    """The sha256 of the text plus voice settings: a change to either makes the file stale."""
    fields = {"text": prompt.text, **_settings(prompt.language)}
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# --------------------------------------------------------------------------- manifest


Manifest = dict[str, dict[str, str]]
_MANIFEST_FIX = "fix it, or delete it and render with force (which also overwrites studio recordings)"


def _split(relative: str) -> tuple[str, str]:
    """`kk/digits/4.wav` -> (`kk`, `digits/4.wav`): the language dir and the manifest key."""
    language, _, rest = relative.partition("/")
    return language, rest


def _read_manifest(path: Path) -> Manifest:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PromptError(f"{path} cannot be read ({exc}); {_MANIFEST_FIX}") from None
    if not isinstance(data, dict) or not all(
        isinstance(entry, dict) and all(isinstance(entry.get(name), str) for name in ("source", "audio"))
        for entry in data.values()
    ):
        raise PromptError(f"{path} is not a prompt manifest; {_MANIFEST_FIX}")
    return {str(key): {"source": entry["source"], "audio": entry["audio"]} for key, entry in data.items()}


def _write_manifest(path: Path, manifest: Manifest) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    # Sorted keys and a final newline keep the committed file's diffs small and stable.
    text = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True)
    temporary.write_text(text + "\n", encoding="utf-8")
    os.replace(temporary, path)  # a crash never leaves half a manifest behind


def _is_ours(file: Path, entry: dict[str, str] | None) -> bool:
    """True if the file on disk is exactly the placeholder the manifest says we wrote."""
    return entry is not None and _file_digest(file) == entry["audio"]


# --------------------------------------------------------------------------- rendering


def _tools() -> tuple[str, str]:
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    missing = [name for name, found in (("espeak-ng", espeak), ("sox", sox)) if not found]
    if missing or not espeak or not sox:
        raise PromptError(f"{' and '.join(missing)} not found on PATH: {INSTALL_HINT}")
    return espeak, sox


def _synthesize(tools: tuple[str, str], prompt: _Prompt, target: Path) -> None:
    """Speak the text with espeak-ng, then convert it with sox to 8 kHz mono 16-bit PCM WAV."""
    espeak, sox = tools
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.tmp")
    with tempfile.TemporaryDirectory(prefix="ivr-prompt-") as scratch:
        raw = Path(scratch) / "raw.wav"
        # Text goes in on stdin (-b 1: UTF-8), so one starting with "-" is never read as an option.
        voice = VOICES[prompt.language]
        _run([espeak, "-v", voice, "-s", str(SPEED_WPM), "-b", "1", "-w", str(raw), "--stdin"], prompt.text)
        # -D: no dither, so the same text always gives the same bytes (and clean silence).
        output = ["-t", "wav", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer"]
        _run([sox, "-D", str(raw), *output, str(partial), *SOX_EFFECTS])
    os.replace(partial, target)  # the line never serves half a file


def speak(language: Language, text: str) -> bytes:
    """`text` rendered by espeak-ng the way placeholders are: 8 kHz mono 16-bit WAV bytes.

    For free text the line must say in a language Twilio has no voice for (an operator's message
    in Kazakh); PromptError if the tools are missing or fail.
    """
    with tempfile.TemporaryDirectory(prefix="ivr-speak-") as scratch:
        target = Path(scratch) / "spoken.wav"
        _synthesize(_tools(), _Prompt(language, text, studio=False), target)
        return target.read_bytes()


def _run(command: list[str], stdin: str | None = None) -> None:
    try:
        subprocess.run(
            command,
            input=stdin.encode("utf-8") if stdin is not None else None,
            capture_output=True,
            check=True,
            timeout=120,
        )
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip() or f"exit status {exc.returncode}"
        raise PromptError(f"{Path(command[0]).name} failed: {detail}") from None
    except subprocess.TimeoutExpired:
        raise PromptError(f"{Path(command[0]).name} took over 120 s and was stopped") from None


def render_prompts(
    flow: Flow,
    prompts_dir: Path,
    *,
    force: bool = False,
    languages: Iterable[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> RenderReport:
    """Render missing or stale placeholder audio for the flow's audio-only languages."""
    prompts_dir = Path(prompts_dir)
    wanted: set[str] = set(flow.doc.languages) if languages is None else set(languages)
    unknown = wanted - set(flow.doc.languages)
    if unknown:
        raise ValueError(f"language(s) not in the flow: {', '.join(sorted(unknown))}")
    todo = {rel: prompt for rel, prompt in _needed(flow).items() if prompt.language in wanted}
    manifests: dict[str, Manifest] = {}
    tools: tuple[str, str] | None = None  # looked up only when something needs rendering
    rendered: list[str] = []
    skipped: list[str] = []
    kept: list[str] = []
    missing: list[str] = []

    for index, (relative, prompt) in enumerate(todo.items(), start=1):
        file = prompts_dir / relative
        if prompt.studio:
            # An `audio:` file is a studio recording by definition: never ours to write.
            (kept if file.is_file() else missing).append(relative)
        else:
            language, key = _split(relative)
            manifest_path = prompts_dir / language / MANIFEST
            if language not in manifests:
                manifests[language] = _read_manifest(manifest_path)
            manifest = manifests[language]
            entry = manifest.get(key)
            digest = _source_digest(prompt)
            if file.is_file() and not force and not _is_ours(file, entry):
                kept.append(relative)
                # Not ours (any more): forget it, so a later text change cannot overwrite it.
                if manifest.pop(key, None) is not None:
                    _write_manifest(manifest_path, manifest)
            elif file.is_file() and not force and entry is not None and entry["source"] == digest:
                skipped.append(relative)
            else:
                tools = tools or _tools()
                _synthesize(tools, prompt, file)
                manifest[key] = {"source": digest, "audio": _file_digest(file)}
                # Saved after every file: an interrupted run must not leave placeholders that
                # look like studio recordings and would then never be refreshed.
                _write_manifest(manifest_path, manifest)
                rendered.append(relative)
        if progress is not None:
            progress(index, len(todo), relative)

    # Drop entries for files deleted by hand; the rest of the manifest is left as it was.
    for language, manifest in manifests.items():
        gone = [key for key in manifest if not (prompts_dir / language / key).is_file()]
        if gone:
            for key in gone:
                del manifest[key]
            _write_manifest(prompts_dir / language / MANIFEST, manifest)

    return RenderReport(tuple(rendered), tuple(skipped), tuple(kept), tuple(missing))


# --------------------------------------------------------------------------- checking


def _unplayable(file: Path) -> str | None:
    """Why Twilio could not play this file, or None if it looks playable."""
    if file.suffix.lower() == ".mp3":
        # Twilio plays MP3 too; the stdlib cannot decode it, so only an empty file is caught.
        return "is empty: not playable" if file.stat().st_size == 0 else None
    try:
        with wave.open(str(file), "rb") as audio:
            frames = audio.getnframes()
    except (wave.Error, EOFError) as exc:
        return f"not a PCM WAV file ({exc}); save it as 16-bit PCM WAV"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if frames == 0:
        return "has no audio (0 frames): not playable"
    return None


def _format_warning(file: Path) -> str | None:
    if file.suffix.lower() == ".mp3":
        return None
    with wave.open(str(file), "rb") as audio:
        rate, channels, width = audio.getframerate(), audio.getnchannels(), audio.getsampwidth()
    if (rate, channels, width) == (SAMPLE_RATE, 1, 2):
        return None
    return (
        f"is {rate} Hz, {channels} channel(s), {8 * width}-bit: the phone line carries 8 kHz mono, so "
        f"the extra only makes the file bigger (sox in.wav -r 8000 -c 1 -b 16 out.wav)"
    )


def check_prompts(flow: Flow, prompts_dir: Path) -> list[PromptIssue]:
    """Missing, unplayable or stale prompt files (errors) and files the flow never plays (warnings)."""
    prompts_dir = Path(prompts_dir)
    needed = _needed(flow)
    issues: list[PromptIssue] = []
    manifests: dict[str, Manifest] = {}

    for relative, prompt in needed.items():
        file = prompts_dir / relative
        if not file.is_file():
            fix = "add the studio recording" if prompt.studio else "run `ivr prompts render`"
            issues.append(PromptIssue(relative, f"missing; {fix} (text: {prompt.text!r})"))
            continue
        problem = _unplayable(file)
        if problem:
            issues.append(PromptIssue(relative, problem))
            continue
        warning = _format_warning(file)
        if warning:
            issues.append(PromptIssue(relative, warning, "warning"))
        if prompt.studio:
            continue
        language, key = _split(relative)
        if language not in manifests:
            try:
                manifests[language] = _read_manifest(prompts_dir / language / MANIFEST)
            except PromptError as exc:
                issues.append(PromptIssue(f"{language}/{MANIFEST}", str(exc)))
                manifests[language] = {}
        entry = manifests[language].get(key)
        # Only our own placeholders can be stale: a studio recording's text is the admin's to judge.
        if _is_ours(file, entry) and entry is not None and entry["source"] != _source_digest(prompt):
            fix = f"run `ivr prompts render` (now: {prompt.text!r})"
            issues.append(PromptIssue(relative, f"stale: the text changed since it was rendered; {fix}"))

    # Machine-voiced placeholders work, but callers hear a robot: say how many are left to record.
    for language in sorted({prompt.language for prompt in needed.values() if not prompt.studio}):
        ours = [relative for relative, prompt in needed.items()
                if prompt.language == language and not prompt.studio and (prompts_dir / relative).is_file()
                and _is_ours(prompts_dir / relative, manifests.get(language, {}).get(_split(relative)[1]))]
        if ours:
            total = sum(1 for prompt in needed.values() if prompt.language == language)
            issues.append(PromptIssue(f"{language}/", f"{len(ours)} of {total} prompt(s) are espeak-ng "
                                      "placeholders, not studio recordings", "warning"))

    if prompts_dir.is_dir():
        for file in sorted(prompts_dir.rglob("*")):
            relative = file.relative_to(prompts_dir).as_posix()
            if file.is_file() and file.suffix.lower() in AUDIO_SUFFIXES and relative not in needed:
                issues.append(PromptIssue(relative, "not used by the flow (left over?)", "warning"))
    return issues
