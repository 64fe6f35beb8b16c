"""The tables: calls, intakes (the outbox of recordings), flow versions and the audit trail.

Shared by the web app and the workers; imports nothing from Flask.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
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
    # The stored pair was read out to this caller: a "repeat" reads only a pair read before, and a
    # pair another host spooled (never read) cannot replace it (ivr/voice/credentials.py).
    reference_spoken: Mapped[bool | None] = mapped_column(Boolean, default=False)
    # The caller stayed on the line to the end of the numbers; False on an ended call shows the
    # case as "the reporter did not hear the reference". NULL: calls from before it was known.
    reference_heard: Mapped[bool | None] = mapped_column(Boolean, default=False)
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
    # report | followup | recovered | discarded (a take the caller recorded again: deleted at
    # Twilio by the job, never a case; see ivr/retakes.py)
    kind: Mapped[str] = mapped_column(String(16), default="report")
    # The call that made the recording: for a follow-up, not the call whose case it joins.
    source_call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    is_ready: Mapped[bool] = mapped_column(Boolean, default=False)  # Twilio said the media exists
    # The caller may still record this take again (the review menu): nobody enqueues it until
    # they send it, record again, hang up, or the sweeper gives up waiting (migration 0013).
    is_held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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
    # When supervisors were told that nobody had claimed this urgent case (migration 0009).
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)  # oldest first
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
    # An operator's correction replaces `text` (segments stay the model's); every version is kept
    # in transcript_versions (migration 0010). `version` 1 is the model's own.
    version: Mapped[int] = mapped_column(Integer, default=1)
    corrected_by: Mapped[int | None] = mapped_column(Integer)  # an operator id
    corrected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)

    intake: Mapped[Intake] = relationship()


class TranscriptVersion(Base):
    """One version of a transcript's text: the model's (author None) and each operator's correction."""

    __tablename__ = "transcript_versions"
    __table_args__ = (UniqueConstraint("transcript_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(EncryptedText("transcript_versions", "text"))  # encrypted at rest
    author_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))  # None: the model
    model: Mapped[str | None] = mapped_column(String(128))  # the model's version names its model
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class SearchTerm(Base):
    """One keyed word of one text of a case (ivr.search_terms): the blind index that search reads.

    `term` is an HMAC of a stemmed word under a key derived from the data key `key_id`; no
    plain word is stored. The primary key leads with the term, so a search is an index lookup.
    """

    __tablename__ = "search_terms"
    __table_args__ = (Index("ix_search_terms_source", "source", "source_id"),)

    term: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(1), primary_key=True)  # "t" transcript, "n" note
    source_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key_id: Mapped[str] = mapped_column(String(32))


class SavedFilter(Base):
    """A named search of one operator's queue; name and query are encrypted (they may hold words of reports)."""

    __tablename__ = "saved_filters"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    name: Mapped[str] = mapped_column(EncryptedText("saved_filters", "name"))
    query: Mapped[str] = mapped_column(EncryptedText("saved_filters", "query"))  # a URL query string
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


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
    # Closed as a duplicate: the case that carries on (migration 0012; ivr.cases.links).
    duplicate_of_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # The receiving body opened an investigation: authorship proof is kept past retention (ivr.cases.authorship).
    investigation_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    investigation_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)


class PinFailureHour(Base):
    """Follow-up PIN checks on the whole line in one clock hour that did not succeed (issue 10.8).

    Past a cap (IVR_FOLLOWUP_MAX_FAILURES_PER_HOUR) every check is refused until the hour ends:
    one reference locks after a few wrong PINs, and this stops guessing spread over many.
    """

    __tablename__ = "pin_failure_hours"

    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # hours since 1970, UTC
    failures: Mapped[int] = mapped_column(Integer, default=0)


# ---------------------------------------------------------------- referrals and linked cases (migration 0012)


class CaseReferral(Base):
    """A forwarded case's receiving body (config/recipients.yaml), and whether its package names the reporter.

    The names are copied at forwarding, so renaming a body in the config does not rewrite history.
    """

    __tablename__ = "case_referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    recipient_code: Mapped[str] = mapped_column(String(64))
    recipient_names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # {kk, ru, en}
    forwarded_by: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    forwarded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # A supervisor's explicit, audited choice; only ever true for a named case.
    include_identity: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    identity_set_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    identity_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


CASE_LINK_KINDS = ("duplicate", "related")


class CaseLink(Base):
    """Two cases marked as reporting the same thing (duplicate) or connected (related).

    One row per pair, the smaller case id first; both cases show it.
    """

    __tablename__ = "case_links"
    __table_args__ = (UniqueConstraint("case_id", "linked_case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    linked_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


# ---------------------------------------------------------------- the thread with the reporter (0011)

TO_REPORTER, FROM_REPORTER = "to_reporter", "from_reporter"
# How a message to the reporter sounds: read by Twilio's voice at call time (None), recorded by
# an operator in the console, or rendered to audio by the line (Kazakh: Twilio has no voice).
OPERATOR_VOICE, MACHINE_VOICE = "operator", "machine"


class ThreadMessage(Base):
    """One turn of the conversation with the reporter: an operator's message or the reporter's recording.

    Keyed by the case's call (one case per call), so a follow-up recording joins its thread even
    before the worker has opened the case. For anonymous cases the reporter's own times
    (`created_at` of a recording, `heard_at`) are stored cut like every anonymous time.
    """

    __tablename__ = "thread_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    direction: Mapped[str] = mapped_column(String(16))  # TO_REPORTER | FROM_REPORTER
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))  # who wrote or spoke it
    language: Mapped[str | None] = mapped_column(String(2))
    text: Mapped[str | None] = mapped_column(EncryptedText("thread_messages", "text"))  # encrypted at rest
    # Audio of a message to the reporter, in the recording store (encrypted there like recordings).
    audio_key: Mapped[str | None] = mapped_column(String(255))
    audio_sha256: Mapped[str | None] = mapped_column(String(64))
    audio_size: Mapped[int | None] = mapped_column(Integer)
    audio_duration_s: Mapped[float | None] = mapped_column()
    voice: Mapped[str | None] = mapped_column(String(16))  # None | OPERATOR_VOICE | MACHINE_VOICE
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("intakes.id"), unique=True)  # a reporter's recording
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("thread_messages.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    heard_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the reporter heard it on the phone
    times_heard: Mapped[int] = mapped_column(Integer, default=0)

