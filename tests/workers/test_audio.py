"""Proving bytes are audio, streaming PCM, and disguising a voice: on real espeak-ng speech and sox."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from workers.audio import BadAudio, VoiceDisguiseUnavailable, disguise_voice, inspect_audio, iter_pcm

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None, reason="needs espeak-ng and sox"
)
SENTENCE = "I want to report a bribe at the district land office. The head of the office asked for money."


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """espeak-ng speech in the formats the tests need."""
    folder = tmp_path_factory.mktemp("speech")
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(folder / "raw.wav"), SENTENCE], check=True)
    sox(folder / "raw.wav", "-r", "8000", "-b", "16", folder / "phone.wav")  # Twilio's format
    sox(folder / "raw.wav", "-r", "16000", "-b", "16", folder / "wide.wav")
    sox(folder / "raw.wav", "-r", "8000", "-c", "2", folder / "stereo.wav")
    sox(folder / "raw.wav", "-r", "8000", "-e", "u-law", folder / "ulaw.wav")
    sox(folder / "raw.wav", "-r", "16000", folder / "speech.flac")
    return folder


def soxi_duration(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], capture_output=True, check=True, text=True).stdout)


@pytest.mark.parametrize(
    ("name", "rate", "channels", "format"),
    [
        ("phone.wav", 8000, 1, "wav"),
        ("wide.wav", 16000, 1, "wav"),
        ("stereo.wav", 8000, 2, "wav"),
        ("ulaw.wav", 8000, 1, "wav"),  # an encoding the stdlib cannot read: decoded by PyAV
        ("speech.flac", 16000, 1, "flac"),
    ],
)
def test_inspect_audio_describes_real_audio(speech_dir: Path, name: str, rate: int, channels: int, format: str) -> None:
    info = inspect_audio((speech_dir / name).read_bytes())
    assert (info.sample_rate, info.channels, info.format) == (rate, channels, format)
    assert info.duration_s == pytest.approx(soxi_duration(speech_dir / name), abs=0.05)
    assert 4 < info.duration_s < 12


def test_inspected_duration_matches_twilios_whole_seconds(speech_dir: Path) -> None:
    info = inspect_audio((speech_dir / "phone.wav").read_bytes())
    twilio_recording_duration = round(soxi_duration(speech_dir / "phone.wav"))
    assert abs(info.duration_s - twilio_recording_duration) <= 2


def _garbage(speech_dir: Path) -> dict[str, bytes]:
    wav = (speech_dir / "phone.wav").read_bytes()
    empty_wav = io.BytesIO()
    with wave.open(empty_wav, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
    return {
        "empty": b"",
        "random": os.urandom(20000),
        "text": b"hello, this is not audio\n" * 400,
        "twilio error": b'{"code": 20404, "message": "The requested resource was not found", "status": 404}',
        "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        "truncated wav": wav[: len(wav) // 2],
        "header only": wav[:44],
        "no samples": empty_wav.getvalue(),
        "flac cut short": (speech_dir / "speech.flac").read_bytes()[:300],
    }


@pytest.mark.parametrize(
    "kind",
    ["empty", "random", "text", "twilio error", "html", "truncated wav", "header only", "no samples", "flac cut short"],
)
def test_inspect_audio_rejects_what_is_not_whole_audio(speech_dir: Path, kind: str) -> None:
    with pytest.raises(BadAudio):
        inspect_audio(_garbage(speech_dir)[kind])


def test_iter_pcm_streams_bounded_chunks_that_add_up(speech_dir: Path) -> None:
    data = (speech_dir / "phone.wav").read_bytes()
    duration_s = inspect_audio(data).duration_s
    chunks = list(iter_pcm(data, sample_rate=16000, chunk_s=2.0, search_s=0.5))
    assert len(chunks) >= 3
    assert all(c.dtype == np.float32 and c.ndim == 1 and c.size <= 2 * 16000 for c in chunks)
    assert sum(c.size for c in chunks) / 16000 == pytest.approx(duration_s, abs=0.05)
    assert all(np.abs(c).max() <= 1.0 for c in chunks)


def test_iter_pcm_cuts_chunks_in_quiet_places(speech_dir: Path) -> None:
    # One second of tone, then 0.2 s of silence, again and again: every cut must fall in a silence.
    rate = 16000
    tone = 0.5 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate)
    period = np.concatenate([tone, np.zeros(rate // 5)])
    signal = np.tile(period, 6)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes((signal * 32767).astype(np.int16).tobytes())
    chunks = list(iter_pcm(out.getvalue(), sample_rate=rate, chunk_s=2.5, search_s=1.2))
    edge = 0
    for chunk in chunks[:-1]:
        edge += chunk.size
        assert np.abs(signal[edge - 200 : edge]).max() < 0.05  # the 12 ms before the cut are silent


def test_iter_pcm_rejects_garbage() -> None:
    with pytest.raises(BadAudio):
        list(iter_pcm(os.urandom(5000)))


def _median_pitch_hz(data: bytes) -> float:
    """Median fundamental frequency of the voiced 40 ms frames (autocorrelation, 60-400 Hz)."""
    with wave.open(io.BytesIO(data)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16).astype(np.float64)
    frame = int(0.04 * rate)
    loudness = np.sqrt(np.mean(samples**2))
    pitches = []
    for start in range(0, samples.size - frame, frame):
        window = samples[start : start + frame]
        if np.sqrt(np.mean(window**2)) < loudness:
            continue
        window = window - window.mean()
        corr = np.correlate(window, window, "full")[frame - 1 :]
        low, high = int(rate / 400), int(rate / 60)
        lag = low + int(np.argmax(corr[low:high]))
        if corr[lag] > 0.4 * corr[0]:
            pitches.append(rate / lag)
    return float(np.median(pitches))


def test_disguise_voice_lowers_the_voice_and_keeps_rate_and_length(speech_dir: Path) -> None:
    original = (speech_dir / "phone.wav").read_bytes()
    disguised = disguise_voice(original)
    before, after = inspect_audio(original), inspect_audio(disguised)
    assert after.sample_rate == before.sample_rate == 8000
    assert after.channels == 1
    assert after.duration_s == pytest.approx(before.duration_s, abs=0.02)
    ratio = _median_pitch_hz(disguised) / _median_pitch_hz(original)
    assert ratio == pytest.approx(2 ** (-350 / 1200), abs=0.06)  # 3.5 semitones down


def test_disguise_voice_is_deterministic_so_retries_store_the_same_copy(speech_dir: Path) -> None:
    original = (speech_dir / "phone.wav").read_bytes()
    assert disguise_voice(original) == disguise_voice(original)


def test_disguise_voice_writes_no_temp_files(speech_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    disguise_voice((speech_dir / "phone.wav").read_bytes())
    assert list(tmp_path.iterdir()) == []


def test_disguise_voice_rejects_garbage() -> None:
    with pytest.raises(BadAudio):
        disguise_voice(b"not audio at all" * 100)


def test_disguise_voice_needs_no_system_tool(speech_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = (speech_dir / "phone.wav").read_bytes()
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no sox, nothing on PATH
    monkeypatch.setenv("PATH", "")
    disguised = disguise_voice(original)
    assert inspect_audio(disguised).duration_s == pytest.approx(inspect_audio(original).duration_s, abs=0.02)


def test_disguise_voice_of_a_non_wav_recording(speech_dir: Path) -> None:
    flac = (speech_dir / "speech.flac").read_bytes()
    disguised = disguise_voice(flac)
    assert disguised[:4] == b"RIFF" and inspect_audio(disguised).sample_rate == 16000
    assert inspect_audio(disguised).duration_s == pytest.approx(inspect_audio(flac).duration_s, abs=0.05)


def test_disguise_voice_says_clearly_when_its_library_is_missing(
    speech_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pedalboard", None)  # as if the wheel were not installed
    with pytest.raises(VoiceDisguiseUnavailable, match="pedalboard"):
        disguise_voice((speech_dir / "phone.wav").read_bytes())


def test_disguising_a_minute_of_speech_gives_a_whole_wav(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Found by bench/pipeline.py: through a pipe sox wrote a WAV header promising more samples
    # than `pitch` produced, and every anonymous report of this length failed to store.
    import subprocess

    raw, wav = tmp_path / "raw.wav", tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), "I want to report a bribe at the hospital. " * 20],
                   check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav), "trim", "0", "60"], check=True)
    original = wav.read_bytes()
    disguised = disguise_voice(original)
    assert abs(inspect_audio(disguised).duration_s - inspect_audio(original).duration_s) < 0.1
    assert disguise_voice(original) == disguised  # deterministic: a retried job stores the same copy
