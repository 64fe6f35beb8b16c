"""Audio bytes as the workers see them: proof that a download is real audio, streaming PCM for
the transcriber, and a disguised copy of an anonymous caller's voice.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import numpy as np

DEFAULT_DISGUISE_CENTS = -350
"""3.5 semitones down: still intelligible, no longer the caller's own voice to a casual ear."""


class BadAudio(Exception):
    """The bytes are not decodable audio: empty, garbage, or cut short."""


class VoiceDisguiseUnavailable(RuntimeError):
    """The library that disguises voices (pedalboard) is not installed."""


@dataclass(frozen=True)
class AudioInfo:
    """What a recording is: its length, sample rate, channels and container format."""

    duration_s: float
    sample_rate: int
    channels: int
    format: str


def inspect_audio(data: bytes) -> AudioInfo:
    """Decode `data` completely and describe it; BadAudio unless it is real, whole audio.

    WAV (what Twilio serves) is read with the stdlib; anything else, or a WAV encoding the stdlib
    does not know (e.g. mu-law), is decoded with PyAV. Compare `duration_s` with Twilio's
    RecordingDuration (whole seconds) to catch a truncated download of another format.
    """
    if not data:
        raise BadAudio("empty")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        try:
            return _inspect_wav(data)
        except BadAudio:
            raise
        except wave.Error:
            pass  # an encoding `wave` cannot read: let FFmpeg judge it
        except Exception as error:  # a mangled header trips `wave` in many ways (EOF, seek, struct)
            raise BadAudio(f"broken WAV: {type(error).__name__}") from None
    return _inspect_with_av(data)


def _inspect_wav(data: bytes) -> AudioInfo:
    with wave.open(io.BytesIO(data), "rb") as reader:
        channels, width, rate, frames = (
            reader.getnchannels(),
            reader.getsampwidth(),
            reader.getframerate(),
            reader.getnframes(),
        )
        if channels < 1 or rate < 1 or width < 1:
            raise BadAudio("WAV header describes no audio")
        if frames == 0:
            raise BadAudio("WAV holds no samples")
        # The header promises `frames`; a download cut short delivers fewer bytes than that.
        if len(reader.readframes(frames)) != frames * width * channels:
            raise BadAudio("WAV is truncated")
    return AudioInfo(frames / rate, rate, channels, "wav")


def _inspect_with_av(data: bytes) -> AudioInfo:
    import av

    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise BadAudio("no audio stream")
            stream = container.streams.audio[0]
            samples, rate, channels = 0, 0, 0
            for frame in container.decode(stream):
                samples += frame.samples
                rate = frame.sample_rate
                channels = len(frame.layout.channels)
            name = container.format.name.split(",")[0]
    except BadAudio:
        raise
    except Exception as error:  # FFmpegError mostly; any failure to parse untrusted bytes is the same verdict
        raise BadAudio(f"undecodable: {type(error).__name__}") from None
    if samples == 0 or rate == 0:
        raise BadAudio("no samples decoded")
    return AudioInfo(samples / rate, rate, channels, name)


def iter_pcm(
    source: BinaryIO | bytes,
    *,
    sample_rate: int = 16000,
    chunk_s: float = 300.0,
    search_s: float = 5.0,
) -> Iterator[np.ndarray]:
    """Mono float32 PCM at `sample_rate`, in chunks of at most `chunk_s` seconds.

    Decodes as it goes, so a long recording never sits in memory whole. Each chunk ends at the
    quietest 50 ms of its last `search_s` seconds, so a cut rarely falls inside a word.
    Damaged packets are skipped, as faster-whisper does; BadAudio if nothing is decodable.
    """
    import av
    import numpy as np

    chunk = int(chunk_s * sample_rate)
    search = min(int(search_s * sample_rate), chunk // 2)
    file = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
    pending: list[np.ndarray] = []
    size = 0
    try:
        with av.open(file, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise BadAudio("no audio stream")
            for frame in _valid_frames(container.decode(container.streams.audio[0])):
                for out in [*resampler.resample(frame)]:
                    pending.append(out.to_ndarray().reshape(-1))
                    size += pending[-1].size
                while size >= chunk:
                    buffer = np.concatenate(pending)
                    cut = _quiet_cut(buffer[:chunk], search, sample_rate)
                    yield buffer[:cut].astype(np.float32) / 32768.0
                    pending, size = [buffer[cut:]], buffer.size - cut
            for out in resampler.resample(None):
                pending.append(out.to_ndarray().reshape(-1))
    except BadAudio:
        raise
    except Exception as error:  # as in inspect_audio: untrusted bytes fail in many ways
        raise BadAudio(f"undecodable: {type(error).__name__}") from None
    rest = np.concatenate(pending) if pending else np.zeros(0, dtype=np.int16)
    if rest.size:
        yield rest.astype(np.float32) / 32768.0


def _valid_frames(frames: Iterator[Any]) -> Iterator[Any]:
    import av

    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.InvalidDataError:
            continue


def _quiet_cut(samples: np.ndarray, search: int, sample_rate: int) -> int:
    """Index just after the quietest 50 ms window in the last `search` samples."""
    import numpy as np

    window = max(sample_rate // 20, 1)
    tail = samples[samples.size - search :].astype(np.float32)
    usable = tail.size // window * window
    if usable == 0:
        return int(samples.size)
    energy = np.square(tail[tail.size - usable :]).reshape(-1, window).mean(axis=1)
    quietest = int(np.argmin(energy))
    return int(samples.size - usable + (quietest + 1) * window)


def disguise_voice(data: bytes, *, cents: int = DEFAULT_DISGUISE_CENTS) -> bytes:
    """A 16-bit WAV copy with pitch and formants shifted by `cents`, same sample rate and length.

    For anonymous callers: a voice can identify a person as surely as a number, so operators
    hear this copy by default. Rubber Band's pitch shifter (bundled in the pedalboard wheel, no
    system tool) moves the formants with the pitch. It stops recognition by ear; it is not a
    cryptographic guarantee (someone who knows the shift can partly undo it). Everything stays
    in memory, so no plaintext voice lands on disk, and the output is deterministic, so a
    retried job stores the very same copy.
    """
    try:
        import pedalboard
    except ImportError:
        raise VoiceDisguiseUnavailable("the pedalboard package is not installed (pip install -e .)") from None
    import numpy as np

    samples, rate = _decode_pcm16(data)
    shifted = pedalboard.PitchShift(semitones=cents / 100)(samples.astype(np.float32) / 32768.0, rate)
    pcm = np.clip(np.round(shifted * 32768.0), -32768, 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(samples.shape[0])
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm.T.tobytes())  # interleaved frames
    disguised = out.getvalue()
    inspect_audio(disguised)  # a last check that what operators will hear is whole audio
    return disguised


def _decode_pcm16(data: bytes) -> tuple[np.ndarray, int]:
    """All of `data` as int16 samples shaped (channels, frames) at its own rate; BadAudio if it is not audio."""
    import numpy as np

    info = inspect_audio(data)
    if info.format == "wav":
        with wave.open(io.BytesIO(data), "rb") as reader:
            if reader.getsampwidth() == 2:
                frames = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
                return frames.reshape(-1, info.channels).T.copy(), info.sample_rate
    import av

    layout = "mono" if info.channels == 1 else "stereo"
    resampler = av.AudioResampler(format="s16", layout=layout, rate=info.sample_rate)
    chunks: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            for frame in _valid_frames(container.decode(container.streams.audio[0])):
                chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    except Exception as error:  # inspect_audio passed it, so this is rare; the same verdict
        raise BadAudio(f"undecodable: {type(error).__name__}") from None
    channels = 1 if layout == "mono" else 2
    return np.concatenate(chunks).reshape(-1, channels).T.copy(), info.sample_rate
