"""The tables: calls, intakes (the outbox of recordings), flow versions and the audit trail.

Shared by the web app and the workers; imports nothing from Flask.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ivr.db import Base, UTCDateTime, utc_now
from ivr.encrypted_types import EncryptedJSON, EncryptedText

# Intake statuses, in the order a recording moves through them.
PENDING = "pending"  # written; no job on the queue yet (Redis down, or not ready)
QUEUED = "queued"  # a job is on the queue
PROCESSING = "processing"
DONE = "done"
FAILED = "failed"  # retries exhausted; a person must look (`ivr intake retry`)
INTAKE_STATUSES = (PENDING, QUEUED, PROCESSING, DONE, FAILED)


class Call(Base):
    """One phone call: the caller's answers, and the reference and PIN they heard.

    For anonymous calls nothing here identifies the caller: `contact_ciphertext` stays empty and
    no column ever holds Twilio's From, Caller or CallerName.
    """

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    flow_name: Mapped[str] = mapped_column(String(64), default="public")
    flow_version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(2))
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    region_code: Mapped[str | None] = mapped_column(String(2))
    # Encrypted with the data key (key id inside the blob); only for callers who chose to leave it.
    contact_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    reference: Mapped[str | None] = mapped_column(String(16), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    # The PIN this call's caller is hearing, encrypted with the data key, for "repeat" after later
    # webhooks (it never rides in a URL); cleared when the call ends.
    pending_pin_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Wrong PINs for this reference, across calls and numbers; past the limit it locks a while.
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_node: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="in-progress")
    duration_s: Mapped[int | None] = mapped_column(Integer)
    is_recovered: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When Twilio's log of this call (which holds the caller's number) was deleted, for calls that
    # leave no case of their own: dropped calls and follow-up calls.
    deleted_at_twilio: Mapped[datetime | None] = mapped_column(UTCDateTime())

    intakes: Mapped[list[Intake]] = relationship(back_populates="call", order_by="Intake.id")


class Intake(Base):
    """One recording to process: written before anything is enqueued (the outbox).

    Twilio may post a recording's callbacks in any order, more than once, or not at all; the
    unique RecordingSid makes every repeat a no-op.
    """

    __tablename__ = "intakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="report")  # report | followup | recovered
    # The call that made the recording: for a follow-up, not the call whose case it joins.
    source_call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    is_ready: Mapped[bool] = mapped_column(Boolean, default=False)  # Twilio said the media exists
    duration_s: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    call: Mapped[Call] = relationship(back_populates="intakes")


class FlowVersion(Base):
    """Every flow that ever served a call, so a call finishes on its version after a restart."""

    __tablename__ = "flow_versions"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class AuditEvent(Base):
    """An append-only record of something done to a report, by the line or by a person."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "voice", "worker", "operator:<id>", ...
    action: Mapped[str] = mapped_column(String(64))  # noun.past_verb, e.g. "intake.recorded"
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("intakes.id"), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ids and counts only


# Case statuses, as operators move a report along.
CASE_STATUSES = ("new", "in_review", "forwarded", "closed")
# Transcript statuses; a case summarises its recordings' transcripts with the same words,
# plus "none" when transcription is switched off.
TRANSCRIPT_STATUSES = ("pending", "done", "failed")


class Case(Base):
    """One report for operators: one per call, opened by the worker from the call's recordings.

    Holds no caller data: the contact, if any, stays encrypted on the call.
    """

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)  # racing workers: one case
    reference: Mapped[str | None] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    region_code: Mapped[str | None] = mapped_column(String(2), index=True)
    language: Mapped[str | None] = mapped_column(String(2))
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    has_new_info: Mapped[bool] = mapped_column(Boolean, default=False)
    is_recovered: Mapped[bool] = mapped_column(Boolean, default=False)
    transcript_status: Mapped[str] = mapped_column(String(16), default="pending")
    category: Mapped[str | None] = mapped_column(String(64))
    assignee_id: Mapped[int | None] = mapped_column(Integer, index=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)

    call: Mapped[Call] = relationship()


class StoredRecording(Base):
    """Our encrypted copy of one intake's recording; only once it exists may Twilio's be deleted."""

    __tablename__ = "stored_recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id"), unique=True)
    storage_key: Mapped[str] = mapped_column(String(255))
    disguised_key: Mapped[str | None] = mapped_column(String(255))  # anonymous callers: pitch-shifted copy
    key_id: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))  # of the plain audio, checked after reading it back
    size: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column()  # Mapped[float] maps to Float
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    deleted_at_twilio: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    intake: Mapped[Intake] = relationship()


TRANSCRIPT_VERDICTS = ("reliable", "unreliable", "no_speech")


class Transcript(Base):
    """The offline model's transcript of one intake, or why there is none yet."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    language: Mapped[str] = mapped_column(String(2))
    # Report text is encrypted at rest with the data key (ivr.encrypted_types); code sees plain values.
    text: Mapped[str | None] = mapped_column(EncryptedText("transcripts", "text"))
    segments: Mapped[list[dict[str, Any]]] = mapped_column(EncryptedJSON("transcripts", "segments"), default=list)
    confidence: Mapped[float | None] = mapped_column()
    engine: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128))
    is_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # How far to trust the text (workers.transcriber.verdict): TRANSCRIPT_VERDICTS, with reason codes.
    verdict: Mapped[str | None] = mapped_column(String(16))
    verdict_reasons: Mapped[list[str] | None] = mapped_column(JSON)
    speech_ratio: Mapped[float | None] = mapped_column()
    detected_language: Mapped[str | None] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)  # no caller data: exception class and our own words
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)

    intake: Mapped[Intake] = relationship()


# ---------------------------------------------------------------- operator console (migration 0003)

# Who may do what is decided in ivr.accounts; these are the words stored.
OPERATOR_ROLES = ("operator", "supervisor", "admin")


class Operator(Base):
    """A person who signs in to the console (or a system that calls the API with a token)."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16), default="operator")
    region_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # only what operators see
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(2), default="ru")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped when the password, role or regions change or the account is disabled: old sessions end.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is kept, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseNote(Base):
    """An operator's note on a case; notes are added, never edited."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    text: Mapped[str] = mapped_column(EncryptedText("case_notes", "text"))  # encrypted at rest
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class CaseDetail(Base):
    """What operators add to a case beyond the worker's columns: why it closed, the reporter's message."""

    __tablename__ = "case_details"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    status_reason: Mapped[str | None] = mapped_column(String(32))
    first_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # ends the wait
    # A short text for the caller, who hears or reads it when calling back with reference and PIN.
    reporter_message: Mapped[str | None] = mapped_column(EncryptedText("case_details", "reporter_message"))
    reporter_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reporter_message_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)


class PinFailureHour(Base):
    """Follow-up PIN checks on the whole line in one clock hour that did not succeed (issue 10.8).

    Past a cap (IVR_FOLLOWUP_MAX_FAILURES_PER_HOUR) every check is refused until the hour ends:
    one reference locks after a few wrong PINs, and this stops guessing spread over many.
    """

    __tablename__ = "pin_failure_hours"

    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # hours since 1970, UTC
    failures: Mapped[int] = mapped_column(Integer, default=0)
