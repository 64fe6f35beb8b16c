"""How far to trust a transcript: reliable, unreliable (with reasons) or no speech.

Models do not say "I don't know": Whisper base turns garbled Kazakh into fluent-looking text,
and on noise it loops ("Но это не может быть" eleven times). So every transcript is judged on
what does not depend on the model's self-assessment alone:

- speech ratio from an energy VAD over the same PCM the model heard (numpy, no model);
- the decoder's mean token probability (`Transcript.confidence`);
- loops: one phrase repeated back to back, or a few words making up most of the text;
- words per second of speech: far too many is invention, far too few is speech missed;
- the language the engine detected, where it tells one, against the one the caller chose;
- a time budget that ran out (`is_truncated`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from workers.transcriber import Transcript

Label = Literal["reliable", "unreliable", "no_speech"]
LABELS: tuple[Label, ...] = ("reliable", "unreliable", "no_speech")
REASONS = (
    "no_speech", "text_without_speech", "no_text", "low_confidence", "repetition",
    "too_many_words", "too_few_words", "language_mismatch", "truncated",
)

FRAME_S = 0.03
MIN_SPEECH_S = 0.5
MIN_SPEECH_RATIO = 0.03
MIN_CONFIDENCE = 0.55  # clear speech through Whisper base scores ~0.7; garbled audio ~0.45
MAX_WORDS_PER_SPEECH_S = 5.0  # fast speech is about 3 words a second
MIN_WORDS_PER_SPEECH_S = 0.25
MIN_LANGUAGE_PROBABILITY = 0.5
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Verdict:
    """The label and why (reason codes from REASONS), with the figures it rests on."""

    label: Label
    reasons: tuple[str, ...]
    speech_ratio: float | None


def speech_seconds(pcm: np.ndarray, sample_rate: int) -> float:
    """Seconds of `pcm` (float, -1..1) that carry speech-like energy.

    A 30 ms frame counts when it is above -45 dBFS and 12 dB above the chunk's quietest tenth
    (its noise floor): steady noise and silence count as nothing, a voice over a line hum does.
    """
    frame = max(int(FRAME_S * sample_rate), 1)
    usable = pcm.size // frame * frame
    if usable == 0:
        return 0.0
    power = np.square(pcm[:usable].astype(np.float64)).reshape(-1, frame).mean(axis=1)
    level_db = 10 * np.log10(power + 1e-12)
    floor_db = float(np.percentile(level_db, 10))
    voiced = (level_db > -45.0) & (level_db > floor_db + 12.0)
    return float(voiced.sum()) * frame / sample_rate


def words_of(text: str) -> list[str]:
    """Lower-case words, punctuation dropped."""
    return [word.lower() for word in _WORD.findall(text)]


def has_loop(words: list[str]) -> bool:
    """Whether a phrase repeats back to back (3+ times for 2–8 words, 5+ for one word), or the
    commonest 3-word phrase covers over half of a long text."""
    for size in range(1, 9):
        needed = 5 if size == 1 else 3
        if len(words) < size * needed:
            break
        for offset in range(size):
            run = 1
            for start in range(offset + size, len(words) - size + 1, size):
                if words[start : start + size] == words[start - size : start]:
                    run += 1
                    if run >= needed:
                        return True
                else:
                    run = 1
    if len(words) >= 12:
        trigrams = Counter(tuple(words[i : i + 3]) for i in range(len(words) - 2))
        _, count = trigrams.most_common(1)[0]
        if count * 3 > len(words) / 2:
            return True
    return False


def judge(
    *,
    text: str,
    confidence: float | None,
    duration_s: float,
    speech_s: float | None,
    is_truncated: bool,
    expected_language: str,
    detected_language: str | None = None,
    language_probability: float | None = None,
) -> Verdict:
    """The verdict on one transcript."""
    words = words_of(text)
    ratio = None if speech_s is None or duration_s <= 0 else round(min(speech_s / duration_s, 1.0), 3)
    if speech_s is not None and (speech_s < MIN_SPEECH_S or (ratio is not None and ratio < MIN_SPEECH_RATIO)):
        reasons = ("no_speech", "text_without_speech") if words else ("no_speech",)
        return Verdict("no_speech", reasons, ratio)
    found: list[str] = []
    if not words:
        found.append("no_text")
    if confidence is not None and confidence < MIN_CONFIDENCE:
        found.append("low_confidence")
    if has_loop(words):
        found.append("repetition")
    if speech_s:
        rate = len(words) / speech_s
        if rate > MAX_WORDS_PER_SPEECH_S:
            found.append("too_many_words")
        elif words and speech_s >= 5.0 and rate < MIN_WORDS_PER_SPEECH_S:
            found.append("too_few_words")
    if (
        detected_language is not None
        and detected_language != expected_language
        and (language_probability is None or language_probability >= MIN_LANGUAGE_PROBABILITY)
    ):
        found.append("language_mismatch")
    if is_truncated:
        found.append("truncated")
    return Verdict("unreliable" if found else "reliable", tuple(found), ratio)


def judge_transcript(transcript: Transcript) -> Verdict:
    """The verdict on a Transcript as an engine returned it."""
    return judge(
        text=transcript.text,
        confidence=transcript.confidence,
        duration_s=transcript.duration_s,
        speech_s=transcript.speech_s,
        is_truncated=transcript.is_truncated,
        expected_language=transcript.language,
        detected_language=transcript.detected_language,
        language_probability=transcript.language_probability,
    )
