"""The conversation with the reporter: messages to them, their recordings back, in order.

Operators write a message (read by Twilio's voice in the message's own language, or rendered to
audio by the line where Twilio has no voice: Kazakh) or record one in the console. The reporter
hears every message not yet heard after their PIN, newest last, may hear them again and answer
at once; the answer is a follow-up recording like any other (stored, transcribed, the case
flagged) and shows under the message it answers.

Anonymity: the reporter's own times (a recording's arrival, when a message was heard) are
stored cut like every other time of an anonymous call (`ivr.call_times`).
"""

from __future__ import annotations

import io
import secrets
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.call_times import coarse_time
from ivr.cases.casework import REPORTER_MESSAGE_MAX_CHARS, Invalid, audit
from ivr.db import utc_now
from ivr.flow.engine import ThreadItem
from ivr.flow.model import Language
from ivr.models import (
    FROM_REPORTER,
    MACHINE_VOICE,
    OPERATOR_VOICE,
    TO_REPORTER,
    Call,
    Case,
    Intake,
    Operator,
    ThreadMessage,
    Transcript,
)
from ivr.plain_text import UnsafeText, checked_text
from ivr.storage import RecordingStore

LANGUAGES = ("kk", "ru", "en")
VOICE_MAX_BYTES = 8 * 1024 * 1024  # 16 kHz mono 16-bit for three minutes is 5.8 MB
VOICE_MAX_SECONDS = 180
VOICE_MIN_SECONDS = 1.0
VOICE_RATES = range(8000, 48001)
MAX_PLAYED = 20  # messages read out in one go; older unheard ones wait for the next call


@dataclass(frozen=True)
class Entry:
    """One message of the thread as the case page shows it."""

    message: ThreadMessage
    author: str | None  # the operator's name; None for the reporter
    transcript: Transcript | None = None  # of a reporter's recording
    replies: list[Entry] = field(default_factory=list)

    @property
    def is_to_reporter(self) -> bool:
        """An operator's message (not the reporter's recording)."""
        return self.message.direction == TO_REPORTER


# --------------------------------------------------------------------------- operators write


def _text(raw: str) -> str:
    try:
        text = checked_text(raw).strip()
    except UnsafeText:
        raise Invalid("form.invalid_text") from None
    if not text:
        raise Invalid("form.required")
    if len(text) > REPORTER_MESSAGE_MAX_CHARS:
        raise Invalid("form.too_long")
    return text


def _language(language: str | None, case: Case) -> str:
    chosen = language or case.language or "ru"
    if chosen not in LANGUAGES:
        raise Invalid("form.required")
    return chosen


def post_text(
    session: Session, principal: Principal, case: Case, text: str, language: str | None, *,
    voiced_languages: Iterable[str], store: RecordingStore | None = None,
    speak: Callable[[str, str], bytes] | None = None,
) -> ThreadMessage:
    """A text message for the reporter, in `language` (the case's by default).

    Where the line has no TTS voice for the language (`voiced_languages` lacks it), the text is
    rendered to audio now by `speak` (espeak-ng) and stored like a recording, marked as a
    machine voice; Invalid("thread.render_failed") if that cannot be done, so the operator can
    record the message instead.
    """
    text = _text(text)
    language = _language(language, case)
    message = ThreadMessage(call_id=case.call_id, direction=TO_REPORTER, operator_id=principal.id,
                            language=language, text=text, created_at=utc_now())
    if language not in set(voiced_languages):
        if store is None or speak is None:
            raise Invalid("thread.render_failed")
        try:
            audio = speak(language, text)
        except (RuntimeError, OSError):  # PromptError: espeak-ng or sox missing or failing
            raise Invalid("thread.render_failed") from None
        _attach_audio(message, store, audio)
        message.voice = MACHINE_VOICE
    session.add(message)
    session.flush()
    audit(session, principal, "thread.message_sent", case, message_id=message.id, language=language,
          length=len(text), voice=message.voice or "tts")
    return message


@dataclass(frozen=True)
class VoicedReport:
    """What `voice_unvoiced` did."""

    voiced: int
    failed: int


def voice_unvoiced(
    session: Session, *, voiced_languages: Iterable[str], store: RecordingStore,
    speak: Callable[[Language, str], bytes],
) -> VoicedReport:
    """Render to audio the unheard text messages in a language the line's TTS has no voice for.

    Messages written before the thread existed (migration 0011 moved them in) were never
    rendered, so an old Kazakh message would be read by the Russian voice; `post_text` renders
    new ones when they are sent. A message that cannot be rendered stays text and is counted.
    """
    voiced = set(voiced_languages)
    rows = session.scalars(
        select(ThreadMessage).where(
            ThreadMessage.direction == TO_REPORTER, ThreadMessage.audio_key.is_(None),
            ThreadMessage.heard_at.is_(None), ThreadMessage.text.is_not(None),
            ThreadMessage.language.is_not(None), ThreadMessage.language.not_in(voiced),
        ).order_by(ThreadMessage.id)
    )
    done = failed = 0
    for message in rows:
        try:
            audio = speak(cast(Language, message.language), str(message.text))
        except (RuntimeError, OSError):  # PromptError: espeak-ng or sox missing or failing
            failed += 1
            continue
        _attach_audio(message, store, audio)
        message.voice = MACHINE_VOICE
        done += 1
    session.flush()
    return VoicedReport(done, failed)


def post_voice(
    session: Session, principal: Principal, case: Case, audio: bytes, language: str | None, *, store: RecordingStore,
) -> ThreadMessage:
    """A message the operator recorded in the console: a WAV, checked, stored encrypted, audited."""
    language = _language(language, case)
    duration_s = check_voice(audio)
    message = ThreadMessage(call_id=case.call_id, direction=TO_REPORTER, operator_id=principal.id,
                            language=language, voice=OPERATOR_VOICE, created_at=utc_now())
    _attach_audio(message, store, audio)
    message.audio_duration_s = duration_s
    session.add(message)
    session.flush()
    audit(session, principal, "thread.voice_sent", case, message_id=message.id, language=language,
          size=len(audio), seconds=round(duration_s, 1))
    return message


def check_voice(audio: bytes) -> float:
    """Seconds of a recorded message; Invalid unless it is a PCM WAV a phone can play, of sane length."""
    if len(audio) > VOICE_MAX_BYTES:
        raise Invalid("thread.voice_too_big")
    try:
        with wave.open(io.BytesIO(audio)) as reader:
            frames, rate = reader.getnframes(), reader.getframerate()
            if reader.getsampwidth() != 2 or reader.getnchannels() not in (1, 2) or rate not in VOICE_RATES:
                raise Invalid("thread.voice_format")
    except (wave.Error, EOFError):
        raise Invalid("thread.voice_format") from None
    seconds = float(frames) / float(rate)
    if seconds < VOICE_MIN_SECONDS:
        raise Invalid("thread.voice_too_short")
    if seconds > VOICE_MAX_SECONDS:
        raise Invalid("thread.voice_too_long")
    return seconds


def _attach_audio(message: ThreadMessage, store: RecordingStore, audio: bytes) -> None:
    # An opaque, unguessable key: nothing about the case or the reporter in it.
    stored = store.put(f"thread/{secrets.token_hex(16)}.wav", audio)
    message.audio_key, message.audio_sha256, message.audio_size = stored.key, stored.sha256_plain, stored.size
    if message.audio_duration_s is None:
        try:
            with wave.open(io.BytesIO(audio)) as reader:
                message.audio_duration_s = reader.getnframes() / reader.getframerate()
        except (wave.Error, EOFError, ZeroDivisionError):
            message.audio_duration_s = None


def latest_text(session: Session, call_id: int) -> str | None:
    """The newest text message to the reporter (the API's old single `reporter_message`)."""
    return session.scalars(
        select(ThreadMessage.text).where(ThreadMessage.call_id == call_id, ThreadMessage.direction == TO_REPORTER,
                                         ThreadMessage.text.isnot(None)).order_by(ThreadMessage.id.desc()).limit(1)
    ).first()


# --------------------------------------------------------------------------- the reporter's side


def _reporter_time(call: Call, minutes: int, moment: datetime | None = None) -> datetime:
    moment = moment or utc_now()
    return coarse_time(moment, minutes) if call.is_anonymous else moment


def _item(message: ThreadMessage) -> ThreadItem:
    return ThreadItem(message.id, message.language, None if message.audio_key else message.text,
                      message.audio_key is not None)


def unheard(session: Session, call_id: int) -> tuple[ThreadItem, ...]:
    """Messages to the reporter not yet heard, oldest first (so the newest is said last)."""
    rows = session.scalars(
        select(ThreadMessage).where(ThreadMessage.call_id == call_id, ThreadMessage.direction == TO_REPORTER,
                                    ThreadMessage.heard_at.is_(None)).order_by(ThreadMessage.id).limit(MAX_PLAYED)
    )
    return tuple(_item(row) for row in rows)


def items(session: Session, call_id: int, ids: Iterable[int]) -> tuple[ThreadItem, ...]:
    """These messages of this call's case, in order, to be said again."""
    wanted = list(ids)[:MAX_PLAYED]
    if not wanted:
        return ()
    rows = session.scalars(
        select(ThreadMessage).where(ThreadMessage.call_id == call_id, ThreadMessage.direction == TO_REPORTER,
                                    ThreadMessage.id.in_(wanted)).order_by(ThreadMessage.id)
    )
    return tuple(_item(row) for row in rows)


def mark_heard(session: Session, call: Call, ids: Iterable[int], minutes: int) -> int:
    """The reporter went on past these messages: heard now (first time kept); how many were new."""
    wanted = list(ids)
    if not wanted:
        return 0
    mine = (ThreadMessage.call_id == call.id, ThreadMessage.direction == TO_REPORTER, ThreadMessage.id.in_(wanted))
    session.execute(update(ThreadMessage).where(*mine).values(times_heard=ThreadMessage.times_heard + 1)
                    .execution_options(synchronize_session=False))
    result = session.execute(
        update(ThreadMessage).where(*mine, ThreadMessage.heard_at.is_(None))
        .values(heard_at=_reporter_time(call, minutes)).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def file_reporter_recording(session: Session, call: Call, intake: Intake, reply_to_id: int | None,
                            minutes: int) -> ThreadMessage:
    """The reporter's follow-up recording joins the thread (once per recording), as a reply if it is one."""
    existing = session.scalars(select(ThreadMessage).where(ThreadMessage.intake_id == intake.id)).first()
    if existing is not None:
        return existing
    if reply_to_id is not None:
        target = session.get(ThreadMessage, reply_to_id)
        if target is None or target.call_id != call.id or target.direction != TO_REPORTER:
            reply_to_id = None  # never a reply to another case's message
    entry = ThreadMessage(call_id=call.id, direction=FROM_REPORTER, intake_id=intake.id, reply_to_id=reply_to_id,
                          language=call.language, created_at=_reporter_time(call, minutes))
    session.add(entry)
    session.flush()
    return entry


# --------------------------------------------------------------------------- the case page


def thread_of(session: Session, case: Case) -> list[Entry]:
    """The case's thread in order; a reporter's answer sits under the message it answers."""
    rows = list(session.scalars(select(ThreadMessage).where(ThreadMessage.call_id == case.call_id)
                                .order_by(ThreadMessage.created_at, ThreadMessage.id)))
    operator_ids = {row.operator_id for row in rows if row.operator_id is not None}
    names = {operator_id: name for operator_id, name in session.execute(
        select(Operator.id, Operator.display_name).where(Operator.id.in_(operator_ids)))} if operator_ids else {}
    intake_ids = [row.intake_id for row in rows if row.intake_id is not None]
    transcripts = {t.intake_id: t for t in session.scalars(select(Transcript).where(
        Transcript.intake_id.in_(intake_ids)))} if intake_ids else {}
    entries = {row.id: Entry(row, names.get(row.operator_id) if row.operator_id else None,
                             transcripts.get(row.intake_id) if row.intake_id else None) for row in rows}
    top: list[Entry] = []
    for row in rows:
        parent = entries.get(row.reply_to_id) if row.reply_to_id is not None else None
        (parent.replies if parent is not None else top).append(entries[row.id])
    return top


def audio_key(session: Session, message_id: int) -> str | None:
    """Where a message for the reporter keeps its audio, if it has any."""
    return session.scalar(select(ThreadMessage.audio_key).where(ThreadMessage.id == message_id,
                                                                ThreadMessage.direction == TO_REPORTER))


def message_of_case(session: Session, case: Case, message_id: int) -> ThreadMessage | None:
    """One message of this case's thread (for its audio), or None."""
    message = session.get(ThreadMessage, message_id)
    return message if message is not None and message.call_id == case.call_id else None
