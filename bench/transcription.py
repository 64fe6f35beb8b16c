"""How fast the bundled speech model transcribes on this machine: `python -m bench.transcription`.

For English, Russian and Kazakh speech made with espeak-ng (about 40 s each, resampled to the
8 kHz telephone band Twilio records in), and for garbled audio (the Russian speech reversed,
with noise), it prints the real-time factor (audio seconds per wall second) of:

- `decode`: only decoding and resampling the WAV (the floor any transcriber pays);
- `tiniest`: the same model on its cheapest setting (greedy, no fallback, no VAD);
- `ours`: FasterWhisperTranscriber as the workers run it.

The ratio column is ours / tiniest, so the figures compare across machines.

Then, for each language, every engine and model that could hear it on this machine (the one
config/speech.yaml names, models installed with `ivr model add` for that language, and the
bundled Whisper base): its real-time factor on the espeak-ng speech, the verdict it earns, and,
with `--corpus DIR`, its word error rate (jiwer) on the deployer's own recordings: DIR/<lang>/
holds NAME.wav and NAME.txt (what was said) pairs. `--engines-only` skips the table above.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import cpu_model
from workers.audio import iter_pcm
from workers.transcriber.bundled_model import bundled_model_dir
from workers.transcriber.faster_whisper import FasterWhisperTranscriber, load_model

TEXTS = {
    "en": (
        "Good afternoon. I would like to report a bribe at the district land office. "
        "Last Tuesday the head of the office asked me for five hundred thousand tenge to register my house. "
        "He said that without the money my documents would be lost and I would have to start again. "
        "I refused, and since then nobody answers my calls. "
        "My neighbour paid him two hundred thousand tenge in March and received her papers the next day. "
        "The money is always handed over in cash in the car park behind the building, after six in the "
        "evening. Everybody in the village knows about it, but people are afraid to complain. "
        "I am ready to give more details to the investigators."
    ),
    "ru": (
        "Здравствуйте. Я хочу сообщить о взятке в районном земельном отделе. "
        "В прошлый вторник начальник отдела потребовал у меня пятьсот тысяч тенге за регистрацию дома. "
        "Он сказал, что без денег мои документы потеряются и придётся начинать всё сначала. "
        "Я отказался, и с тех пор мне никто не отвечает. "
        "Моя соседка заплатила ему двести тысяч тенге в марте и получила бумаги на следующий день. "
        "Деньги всегда передают наличными на парковке за зданием после шести вечера. "
        "Об этом знает всё село, но люди боятся жаловаться. "
        "Я готов рассказать подробности следователям."
    ),
    "kk": (
        "Сәлеметсіз бе. Мен аудандық жер бөліміндегі пара туралы хабарлағым келеді. "
        "Өткен сейсенбіде бөлім бастығы үйді тіркеу үшін менен бес жүз мың теңге талап етті. "
        "Ол ақшасыз құжаттарым жоғалып кететінін айтты. "
        "Мен бас тарттым, содан бері маған ешкім жауап бермейді. "
        "Көршім наурыз айында оған екі жүз мың теңге төлеп, құжаттарын келесі күні алды. "
        "Ақша әрдайым кешкі алтыдан кейін ғимараттың артындағы тұраққа қолма-қол беріледі. "
        "Бұл туралы бүкіл ауыл біледі, бірақ адамдар шағымданудан қорқады. "
        "Мен тергеушілерге толығырақ айтып беруге дайынмын."
    ),
}
VOICES = {"en": "en-us", "ru": "ru", "kk": "kk"}
TELEPHONE_RATE = 8000
TARGET_RTF = 2.0


def speak(text: str, voice: str, rate: int = TELEPHONE_RATE) -> bytes:
    """A mono 16-bit WAV of espeak-ng saying `text`, resampled with sox to `rate`."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (Debian: apt-get install {tool})")
    with tempfile.TemporaryDirectory() as folder:
        raw, out = Path(folder) / "raw.wav", Path(folder) / "out.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
        subprocess.run(["sox", "-V1", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out)], check=True)
        return out.read_bytes()


def garble(wav: bytes, *, snr_db: float = 10.0, seed: int = 1424) -> bytes:
    """The speech played backwards with white noise added: speech-like sound with no words."""
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16).astype(np.float32)
    reversed_speech = samples[::-1]
    noise = np.random.default_rng(seed).standard_normal(reversed_speech.size).astype(np.float32)
    power = float(np.mean(reversed_speech**2))
    noise *= np.sqrt(power / 10 ** (snr_db / 10))
    mixed = np.clip(reversed_speech + noise, -32768, 32767).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(mixed.tobytes())
    return out.getvalue()


def duration_s(wav: bytes) -> float:
    """Length of a WAV in seconds."""
    with wave.open(io.BytesIO(wav)) as reader:
        return float(reader.getnframes() / reader.getframerate())


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    name: str
    audio_s: float
    decode_rtf: float
    tiniest_rtf: float
    ours_rtf: float
    is_truncated: bool  # in any of the runs
    confidence: float | None
    text: str


def timed(run: Callable[[], object]) -> float:
    """Wall seconds `run` takes."""
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def measure(name: str, wav: bytes, language: str, transcriber: FasterWhisperTranscriber, repeat: int) -> Row:
    """Decode-only, tiniest and our settings on one recording; the best of `repeat` runs each."""
    audio_s = duration_s(wav)
    decode_s = min(timed(lambda: sum(chunk.size for chunk in iter_pcm(wav))) for _ in range(repeat))
    model = transcriber.load()

    def tiniest() -> None:
        pcm = np.concatenate(list(iter_pcm(wav)))
        pieces, _ = model.transcribe(
            pcm, language=language, beam_size=1, temperature=0.0, condition_on_previous_text=False
        )
        list(pieces)

    tiniest_s = min(timed(tiniest) for _ in range(repeat))
    ours_s = float("inf")
    is_truncated = False
    for _ in range(repeat):
        started = time.perf_counter()
        result = transcriber.transcribe(wav, language=language)  # type: ignore[arg-type]
        ours_s = min(ours_s, time.perf_counter() - started)
        is_truncated = is_truncated or result.is_truncated
    return Row(
        name,
        audio_s,
        audio_s / decode_s,
        audio_s / tiniest_s,
        audio_s / ours_s,
        is_truncated,
        result.confidence,
        result.text,
    )


def main() -> None:
    """Synthesise the speech, run the three settings on each, print the table; then every engine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=Path("var/models"))
    parser.add_argument("--show-text", action="store_true", help="print what the model heard")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the fastest counts")
    parser.add_argument("--corpus", type=Path, help="DIR/<lang>/NAME.wav + NAME.txt: word error rate per engine")
    parser.add_argument("--engines-only", action="store_true", help="only the per-engine, per-language report")
    parser.add_argument("--languages", default="kk,ru,en", help="languages of the engine report, e.g. ru,kk")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # truncation shows in the table, not as a log line
    if not args.engines_only:
        bundled_table(args)
    engines_report(args.corpus, show_text=args.show_text, languages=args.languages.split(","))


def bundled_table(args: argparse.Namespace) -> None:
    """The bundled model's table: decode, tiniest and our settings per recording."""

    started = time.perf_counter()
    model_dir = bundled_model_dir(args.cache_dir)
    join_s = time.perf_counter() - started
    transcriber = FasterWhisperTranscriber(model_dir)
    load_s = timed(lambda: load_model(model_dir))
    cases = [(language, speak(TEXTS[language], VOICES[language]), language) for language in ("en", "ru", "kk")]
    cases.append(("garbled (ru, reversed + noise)", garble(cases[1][1]), "ru"))
    cases.append(("garbled (kk, reversed + noise)", garble(cases[2][1]), "kk"))

    print(f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {cpu_model()}")
    print(f"model: {model_dir} (join/check {join_s:.2f} s, load {load_s:.2f} s), threads: all usable cores")
    print("real-time factor = audio seconds per wall second (higher is faster)\n")
    header = (
        f"{'audio':32} {'len s':>6} {'decode':>8} {'tiniest':>8} {'ours':>6} {'ours/tiniest':>12}  {'trunc':>5}  conf"
    )
    print(header)
    print("-" * len(header))
    load_before = os.getloadavg()[0]
    rows = [measure(name, wav, language, transcriber, max(args.repeat, 1)) for name, wav, language in cases]
    for row in rows:
        confidence = f"{row.confidence:.2f}" if row.confidence is not None else "-"
        print(
            f"{row.name:32} {row.audio_s:6.1f} {row.decode_rtf:7.0f}x {row.tiniest_rtf:7.1f}x {row.ours_rtf:5.1f}x "
            f"{row.ours_rtf / row.tiniest_rtf:12.2f}  {'yes' if row.is_truncated else 'no':>5}  {confidence}"
        )
    print(f"\nload average (1 min) before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}; best of {args.repeat}")
    slowest = min(rows, key=lambda row: row.ours_rtf)
    verdict = "meets" if slowest.ours_rtf >= TARGET_RTF else "MISSES"
    print(f"slowest: {slowest.name} at {slowest.ours_rtf:.1f}x: {verdict} the {TARGET_RTF:.0f}x target")
    if args.show_text:
        for row in rows:
            print(f"\n[{row.name}] {row.text}")


def candidates(settings: Any, language: str) -> list[tuple[str, Any]]:
    """(label, config entry) for every model that could hear `language`; None is the bundled Whisper."""
    from ivr.speech_config import LanguageModel, installed_models, load_speech_config, models_dir_of

    config = load_speech_config(settings.speech_config_path)
    found: list[tuple[str, Any]] = []
    chosen = config.languages.get(language)  # type: ignore[call-overload]
    if chosen is not None:
        found.append((f"{chosen.engine}:{chosen.model} (configured)", chosen))
    for folder, manifest in installed_models(models_dir_of(settings)):
        if manifest is None or manifest.language != language:
            continue
        if chosen is not None and Path(chosen.model).name == folder.name:
            continue
        found.append((f"{manifest.engine}:{folder.name}", LanguageModel(engine=manifest.engine, model=folder.name)))
    found.append(("faster-whisper:whisper-base (bundled)" + ("" if chosen else " (in use)"), None))
    return found


def corpus_pairs(corpus: Path | None, language: str) -> list[tuple[Path, str]]:
    """The (wav, reference text) pairs of DIR/<language>/."""
    if corpus is None:
        return []
    folder = corpus / language
    return [
        (wav, wav.with_suffix(".txt").read_text(encoding="utf-8"))
        for wav in sorted(folder.glob("*.wav"))
        if wav.with_suffix(".txt").is_file()
    ]


def normalise(text: str) -> str:
    """Lower case, words only (ё as е): WER counts words, not punctuation or capitals."""
    import re

    return " ".join(re.findall(r"\w+", text.lower().replace("ё", "е")))


def engines_report(corpus: Path | None, *, show_text: bool = False, languages: list[str] | None = None) -> None:
    """Each language's engines: RTF on espeak-ng speech, its verdict, and WER on the corpus."""
    import jiwer

    from ivr.settings import load_settings
    from workers.transcriber import build_transcriber
    from workers.transcriber.verdict import judge_transcript

    settings = load_settings()
    threads = settings.transcribe_threads or len(os.sched_getaffinity(0))
    print(f"\nengines per language ({threads} threads; config {settings.speech_config_path})")
    header = f"{'language':8} {'engine:model':52} {'load s':>6} {'RTF':>6} {'verdict':>10} {'WER':>6} {'files':>5}"
    print(header)
    print("-" * len(header))
    for language in languages or ["kk", "ru", "en"]:
        found = candidates(settings, language)
        if len(found) == 1:
            print(f"{language:8} no weights installed for {language} beyond the bundled Whisper base "
                  "(README: Speech models; `ivr model add`)")
        speech = speak(TEXTS[language], VOICES[language])
        pairs = corpus_pairs(corpus, language)
        for label, chosen in found:
            try:
                transcriber = build_transcriber(settings, chosen)
                load_s = timed(lambda t=transcriber: getattr(t, "load", lambda: None)())
                started = time.perf_counter()
                result = transcriber.transcribe(speech, language=language)  # type: ignore[arg-type]
                rtf = (time.perf_counter() - started) / max(result.duration_s, 0.001)
            except Exception as error:  # a broken install is a finding, not a crash of the bench
                print(f"{language:8} {label:52} fails: {type(error).__name__}: {str(error)[:80]}")
                continue
            wer = "-"
            if pairs:
                hypotheses = [normalise(transcriber.transcribe(wav.read_bytes(), language=language).text)  # type: ignore[arg-type]
                              for wav, _ in pairs]
                wer = f"{100 * jiwer.wer([normalise(ref) for _, ref in pairs], hypotheses):.1f}%"
            print(f"{language:8} {label:52} {load_s:6.2f} {rtf:6.3f} {judge_transcript(result).label:>10} "
                  f"{wer:>6} {len(pairs):5}")
            if show_text:
                print(f"         heard: {result.text[:150]}")
    if corpus is None:
        print("\nno --corpus given: WER needs the deployer's own recordings (DIR/<lang>/NAME.wav + NAME.txt)")
    print("RTF = wall seconds per audio second (lower is faster; 0.1 is ten times faster than real time)")


if __name__ == "__main__":
    main()
