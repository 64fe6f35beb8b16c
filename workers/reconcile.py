"""Reconciliation with Twilio: every recording Twilio holds becomes an intake, even if no callback came.

If our server was down for a whole call, or both recording callbacks were lost, the only
trace of the report is the recording in the account. This job lists the account's recordings
for a window, and files each RecordingSid the database does not know as a call and an intake
of kind "recovered", which then goes through the normal chain (its case is marked recovered;
language and region are unknown). It reads the recording list only, never a Call resource:
that would hold the caller's number.

A recording whose report this host spooled while the database was down (ivr/spool.py) is filed
with the spooled facts first (reference, PIN, region, language, anonymity, contact), so the
reference the caller heard works; it is then enqueued as the webhooks would have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ivr.cases.opening import record_event
from ivr.crypto import Cipher
from ivr.db import utc_now
from ivr.intake import CallFacts, claim_for_enqueue, enqueue_claimed, ensure_call, record_intake
from ivr.logging import get_logger
from ivr.models import Call, Intake
from ivr.settings import PLACEHOLDER_ACCOUNT_SIDS
from ivr.spool import ReportSpool
from ivr.spool import replay_quietly as replay_spool
from workers import download
from workers.deps import WorkerDeps, worker_deps

log = get_logger(__name__)

TWILIO_API = "https://api.twilio.com"
# Recovered calls are treated as anonymous: we cannot know what the caller chose, and anonymity
# is the promise we must never break by mistake.
RECOVERED_FACTS = CallFacts(
    flow_name="recovered",
    flow_version="recovered",
    language=None,
    is_anonymous=True,
    is_urgent=False,
    region_code=None,
    contact=None,
)


@dataclass
class ReconcileReport:
    """What one reconciliation found."""

    listed: int = 0
    recovered: list[int] = field(default_factory=list)  # new intake ids
    spooled: list[int] = field(default_factory=list)  # filed from this host's spool with their facts
    too_recent: int = 0  # left for their callbacks, which may still be on the way
    skipped: str = ""  # why nothing was asked of Twilio, if it was not


def reconcile(hours: int | None = None, *, now: datetime | None = None) -> ReconcileReport:
    """File every recording of the last `hours` (default: the setting) that the database lacks."""
    deps = worker_deps()
    settings = deps.settings
    if settings.twilio_account_sid in PLACEHOLDER_ACCOUNT_SIDS and settings.twilio_api_base == TWILIO_API:
        # `ivr up`'s made-up account: Twilio would refuse every try, holding a worker for minutes.
        reason = "TWILIO_ACCOUNT_SID is a placeholder; set your account's SID to reconcile with Twilio"
        log.info("reconcile.skipped", reason=reason)
        return ReconcileReport(skipped=reason)
    now = now or utc_now()
    since = now - timedelta(hours=hours or settings.reconcile_window_h)
    # Callbacks of a call that just ended may still be arriving: leave young recordings to them.
    youngest = now - timedelta(seconds=settings.unready_after_s)
    report = ReconcileReport()
    policy = download.RetryPolicy.for_settings(settings)
    listed = list(download.list_recordings(settings, since=since, session=deps.http, retry=policy))
    report.listed = len(listed)
    # Before anything is recovered: a spooled report must become its own case, not an anonymous one.
    spooled = _replay_spool(deps)
    known = _known_sids(deps, [r.sid for r in listed])
    for recording in listed:
        if recording.sid in spooled and recording.date_created <= youngest:
            if _enqueue_spooled(deps, spooled[recording.sid]):
                report.spooled.append(spooled[recording.sid])
            continue
        if recording.sid in known:
            continue
        if recording.date_created > youngest:
            report.too_recent += 1
            continue
        if not download.CALL_SID.match(recording.call_sid):
            log.warning("recording.unrecoverable", recording_sid=recording.sid)
            continue
        intake_id = _file_recovered(deps, recording)
        if intake_id is not None:
            report.recovered.append(intake_id)
    log.info(
        "reconcile.finished", listed=report.listed, recovered=len(report.recovered), too_recent=report.too_recent,
        spooled=len(report.spooled),
    )
    return report


def _replay_spool(deps: WorkerDeps) -> dict[str, int]:
    """File what this host spooled while the database was down: RecordingSid -> intake id."""
    from ivr.cases.reference import PinHasher  # only when there is something to file: it hashes at start

    settings = deps.settings
    spool = ReportSpool(settings.spool_dir, Cipher(settings.data_keys))
    if not spool.has_records():
        return {}
    filed = replay_spool(spool, deps.sessions, PinHasher(settings.data_keys)) or []
    if not filed:
        return {}
    with deps.sessions() as session:
        rows = session.execute(select(Intake.recording_sid, Intake.id).where(Intake.id.in_(filed))).all()
    return {recording_sid: intake_id for recording_sid, intake_id in rows}


def _enqueue_spooled(deps: WorkerDeps, intake_id: int) -> bool:
    """A spooled report's recording is at Twilio: ready; claim and enqueue it. False if another did."""
    with deps.sessions.begin() as session:
        session.execute(update(Intake).where(Intake.id == intake_id, Intake.is_ready.is_(False))
                        .values(is_ready=True, updated_at=utc_now()))
        claimed = claim_for_enqueue(session, intake_id)
    if claimed:
        enqueue_claimed(deps.sessions, deps.queue, intake_id)
        log.info("intake.spool_joined", intake_id=intake_id)
    return claimed


def _known_sids(deps: WorkerDeps, sids: list[str]) -> set[str]:
    known: set[str] = set()
    with deps.sessions() as session:
        for start in range(0, len(sids), 500):
            chunk = sids[start : start + 500]
            known.update(session.scalars(select(Intake.recording_sid).where(Intake.recording_sid.in_(chunk))))
    return known


def _file_recovered(deps: WorkerDeps, recording: download.RecordingInfo) -> int | None:
    """Write call (if unknown) and intake for a recording, then enqueue it like a webhook would."""
    with deps.sessions.begin() as session:
        call = session.scalars(select(Call).where(Call.call_sid == recording.call_sid)).first()
        if call is None:
            call = ensure_call(session, recording.call_sid, RECOVERED_FACTS, Cipher(deps.settings.data_keys))
            call.is_recovered = True
            # Twilio's date for the recording stands in for the call's start: it dates the report,
            # and lets the worker treat a call heard of this late as over.
            call.started_at = recording.date_created - timedelta(seconds=recording.duration_s or 0)
        # An existing call keeps what it knows (its contact, if the caller left one).
        intake = record_intake(
            session,
            call=call,
            recording_sid=recording.sid,
            duration_s=recording.duration_s,
            is_ready=True,
            kind="recovered",
            actor="worker",
        )
        if intake.kind != "recovered":
            return None  # a webhook filed it between our listing and now
        intake_id = intake.id
        record_event(session, "intake.recovered", call_id=call.id, intake_id=intake_id)
        claimed = claim_for_enqueue(session, intake_id)
    if claimed:
        enqueue_claimed(deps.sessions, deps.queue, intake_id)
    log.info("intake.recovered", intake_id=intake_id)
    return intake_id
