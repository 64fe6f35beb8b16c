"""Twilio voice webhooks: translate Twilio's form to engine events and the engine's actions to TwiML.

Each webhook answers within milliseconds whatever else is down: the call state rides sealed in
the URL, the database is touched only where a recording must be made durable, and Redis only
to enqueue (a failure leaves the intake pending for the sweeper) or for best-effort tracking.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from flask import Response, abort, request, send_from_directory
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ivr import audio_stream, metrics, sids
from ivr.cases import followup, thread
from ivr.cases.recordings import Unavailable
from ivr.cases.reference import PIN_DIGITS
from ivr.crypto import DecryptionError
from ivr.flow import engine
from ivr.flow.engine import CallState, Lookup, Step
from ivr.flow.model import Flow
from ivr.flow.twiml import to_twiml
from ivr.intake import CallFacts, claim_for_enqueue, enqueue_claimed, ensure_call, record_call_end, record_intake
from ivr.models import Call
from ivr.queueing import enqueue_forget_call
from ivr.retakes import discard_replaced, send_held, send_held_of_call_sid
from ivr.services import Services, services
from ivr.settings import Settings
from ivr.voice import credentials, fallback
from ivr.voice.signature import require_twilio_signature
from ivr.voice.thread_audio import ThreadAudioTokens, TokenInvalid

log = logging.getLogger(__name__)
from ivr.voice import bp  # noqa: E402  (declared in the package; this module registers the views)

PHONE_KEYS = re.compile(r"[0-9*#]*")


def _settings() -> Settings:
    return services().settings


def timed(view: Callable[..., Response]) -> Callable[..., Response]:
    """Observe how long a webhook takes (ivr_webhook_seconds) and warn when it runs past the budget."""
    endpoint = view.__name__
    seconds = metrics.WEBHOOK_SECONDS.labels(endpoint)  # bound once: labels() locks and builds a key

    @functools.wraps(view)
    def timed_view(*args: Any, **kwargs: Any) -> Response:
        started = time.perf_counter()
        queued_s = queued_for(request.headers.get("X-Request-Start"))
        try:
            return view(*args, **kwargs)
        finally:
            elapsed_s = time.perf_counter() - started + queued_s
            seconds.observe(elapsed_s)
            if elapsed_s * 1000 > services().settings.webhook_budget_ms:
                # Twilio waits at most 15 s, but a caller hears every millisecond as silence.
                log.warning("webhook.slow", extra={"endpoint": endpoint, "elapsed_ms": round(elapsed_s * 1000),
                                                   "queued_ms": round(queued_s * 1000)})

    return timed_view


def queued_for(request_start: str | None, now: float | None = None) -> float:
    """Seconds a request waited before the app saw it, from the balancer's `X-Request-Start`.

    `t=` then epoch microseconds (nginx `${msec}` without the dot, Apache), milliseconds
    (HAProxy `%Ts%ms`, Heroku) or seconds with a fraction (nginx `$msec`); 0 when absent, not
    ASCII digits, or off by more than an hour (clocks apart), so a bad header never lies loudly.
    """
    raw = (request_start or "").strip().removeprefix("t=")
    whole, _, fraction = raw.partition(".")
    if not (whole.isascii() and whole.isdigit() and (not fraction or (fraction.isascii() and fraction.isdigit()))):
        return 0.0
    stamp = float(raw)
    for scale in (1e6, 1e3, 1.0):  # the first reading that is a plausible epoch (after 2001)
        if stamp / scale > 1e9:
            stamp /= scale
            break
    waited = (now if now is not None else time.time()) - stamp
    return waited if 0 <= waited < 3600 else 0.0


twilio_only = require_twilio_signature(_settings)


def webhook(view: Callable[..., Response]) -> Callable[..., Response]:
    """A Twilio webhook: refused with 403 unless signed by Twilio, and timed either way."""
    return timed(twilio_only(replaying(view)))


def replaying(view: Callable[..., Response]) -> Callable[..., Response]:
    """Before answering, move reports this host spooled while the database was down into it (one
    directory read when there are none), so the reference a caller heard works wherever they call."""

    @functools.wraps(view)
    def replaying_view(*args: Any, **kwargs: Any) -> Response:
        credentials.replay(services())
        return view(*args, **kwargs)

    return replaying_view


class FlaskVoiceUrls:
    """Absolute webhook URLs under the public base URL, with the sealed state in the query."""

    def __init__(self, svc: Services, call_sid: str, flow_version: str) -> None:
        self.svc = svc
        self.call_sid = call_sid
        self.flow_version = flow_version
        self.base = svc.settings.public_base_url or request.host_url.rstrip("/")
        self._sealed: dict[CallState, str] = {}

    def _token(self, state: CallState) -> str:
        if state not in self._sealed:
            self._sealed[state] = self.svc.call_states.seal(state, self.call_sid)
        return self._sealed[state]

    def step(self, state: CallState, event: str | None = None) -> str:
        """Where a Gather, Dial or no-input Redirect posts."""
        suffix = f"&e={event}" if event else ""
        return f"{self.base}/voice/step?s={self._token(state)}{suffix}"

    def recorded(self, state: CallState) -> str:
        """The Record action."""
        return f"{self.base}/voice/recorded?s={self._token(state)}"

    def recording_status(self, state: CallState) -> str:
        """The recordingStatusCallback; carries the state so it alone can still file the report."""
        return f"{self.base}/voice/recording-status?s={self._token(state)}"

    def prompt(self, path: str) -> str:
        """A prompt file, versioned by the call's flow so Twilio's cache never plays a stale one."""
        return f"{self.base}/voice/prompts/{quote(path)}?v={self.flow_version}"

    def line_number(self) -> str | None:
        """The number the caller dialled (ours), shown as caller ID on transfers."""
        return request.form.get("To") or None

    def thread_audio(self, message_id: int) -> str:
        """A message for the reporter as audio: a sealed, short-lived URL for this call only."""
        return f"{self.base}/voice/thread-audio/{_audio_tokens(self.svc).mint(message_id, self.call_sid)}"

    def recording(self, recording_sid: str) -> str:
        """The caller's recording at Twilio (still there: the worker deletes it after the call)."""
        settings = self.svc.settings
        return (
            f"{settings.twilio_api_base}/2010-04-01/Accounts/{settings.twilio_account_sid}"
            f"/Recordings/{recording_sid}.wav"
        )


def _call_sid() -> str:
    call_sid = request.form.get("CallSid", "")
    if not sids.is_sid(call_sid, "call"):
        abort(400)
    return call_sid


def _twiml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


def _respond(svc: Services, flow: Flow, call_sid: str, previous: CallState | None, result: Step) -> Response:
    """Finish a step: lookups, a contact kept under the CallSid, metrics, tracking, TwiML."""
    result = _resolve_lookups(svc, flow, result)
    state = result.state
    if state.contact is not None and state.contact != credentials.STORED:
        state = _keep_contact(svc, flow, call_sid, state)
    if state is not result.state:
        result = replace(result, state=state)
    if result.left_node:
        metrics.node_answers(result.left_node, "left").inc()
    if previous is not None and previous.node == state.node and state.tries > previous.tries:
        metrics.node_answers(state.node, "retried").inc()
    metrics.node_answers(state.node, "entered").inc()
    svc.tracker.touch(call_sid, state.node, state.flow_version)
    if previous is not None and previous.reads_reference and not previous.is_followup and previous.reference \
            and request.args.get("e") == "heard" and not request.form.get("Digits"):
        credentials.mark_heard(svc, call_sid, previous.reference)  # the numbers played to their end
    if state.reads_reference and not state.is_followup and state.reference:
        credentials.mark_spoken(svc, call_sid, state.reference)
    if state.reads_reference and not state.is_followup:
        _send_takes(svc, call_sid)  # "your report is accepted": the kept take goes to work now
    # The TwiML speaks what it must now; the URLs in it carry choices and markers only (issue 10).
    sealed = credentials.for_url(svc, call_sid, state)
    if sealed is not state:
        result = replace(result, state=sealed)
    return _twiml(to_twiml(result, FlaskVoiceUrls(svc, call_sid, flow.version)))


def _keep_contact(svc: Services, flow: Flow, call_sid: str, state: CallState) -> CallState:
    """Store the contact a caller chose to leave, at the step that takes it; the URL only says "kept"."""
    # "caller": the number they call from; only now is From read. Anonymous callers never get
    # here: the engine clears contact for them.
    number = _normalise_number(request.form.get("From", "")) if state.contact == "caller" else state.contact
    facts = CallFacts(flow_name=flow.name, flow_version=state.flow_version, language=state.language,
                      is_anonymous=False, is_urgent=state.is_urgent, region_code=state.region, contact=number)
    if number and credentials.store_contact(svc, call_sid, facts):
        return replace(state, contact=credentials.STORED)
    # Nowhere to keep it: the report stays anonymous rather than carry the number in a URL.
    log.error("contact.not_kept", extra={"call_sid": call_sid})
    return replace(state, contact=None, is_anonymous=True)


def _resolve_lookups(svc: Services, flow: Flow, result: Step) -> Step:
    """Do what lookup nodes ask (they need the database) and step on, within this one webhook."""
    for _ in range(4):
        if not result.actions or not isinstance(result.actions[-1], Lookup):
            return result
        op, state = result.actions[-1].op, result.state
        settings = svc.settings
        try:
            if op == "verify_reference":
                # Its own short transactions: the slow PIN hash runs between them, holding no lock.
                done = followup.verify_reference(svc.sessions, svc.pins, state.reference, state.pin, limits=(
                    followup.GuessLimits(settings.followup_max_failures, settings.followup_lock_minutes,
                                         settings.followup_max_failures_per_hour)))
            elif op == "replay_messages":
                with svc.sessions() as session:
                    case_call = followup.original_call(session, state.reference or "") if state.is_followup else None
                    items = thread.items(session, case_call.id, engine.thread_ids(state)) if case_call else ()
                done = engine.LookupDone("ok" if items else "failed", thread=items)
            else:
                with svc.sessions.begin() as session:
                    done = followup.issue_new_pin(session, svc.pins, state.reference, flow.doc.limits.pin_digits)
        except SQLAlchemyError:
            log.exception("followup.lookup_failed", extra={"op": op})
            done = engine.LookupDone("wrong" if op == "verify_reference" else "failed")
        following = engine.step(flow, state, done)
        result = replace(following, actions=(*result.actions[:-1], *following.actions))
    raise RuntimeError("lookups chained without waiting for the caller")


def _normalise_number(raw: str) -> str | None:
    digits = re.sub(r"[^0-9]", "", raw)  # ASCII digits only: \D would keep other scripts' digits
    return digits or None


def _load_state(svc: Services, call_sid: str) -> CallState | None:
    token = request.args.get("s", "")
    try:
        return credentials.hydrate(svc, call_sid, svc.call_states.unseal(token, call_sid))
    except DecryptionError:
        # Signed by Twilio, yet not ours to read: a rotated secret or a hand-made URL.
        log.warning("call_state.unreadable", extra={"call_sid": call_sid})
        return None


def _event(form: Mapping[str, str], kind: str | None, state: CallState | None = None) -> engine.Event:
    if kind == "noinput":
        return engine.NoInput()
    if kind == "heard":
        keys = form.get("Digits", "")
        if state is not None and (state.reads_reference or state.reads_thread) and keys and PHONE_KEYS.fullmatch(keys):
            return engine.Digits(keys)  # a key during the numbers is meant for the menu after them
        return engine.Digits("")  # the numbers were read to their end
    if kind == "go":
        return engine.Digits("")  # prompts before a Record, Dial or Hangup ended: go on to it
    if kind == "dial":
        return engine.DialEnded(form.get("DialCallStatus", "failed"))
    if form.get("SpeechResult"):
        try:
            confidence = float(form.get("Confidence", "0") or 0)
        except ValueError:
            confidence = 0.0
        return engine.Speech(form["SpeechResult"], confidence)
    if "Digits" in form:
        digits = form["Digits"]
        # Phone keys are ASCII; other scripts' digits ("²", "①", "８") are no answer, never a 500.
        return engine.Digits(digits if PHONE_KEYS.fullmatch(digits) else "")
    return engine.NoInput()


@bp.post("/incoming")
@webhook
def incoming() -> Response:
    """A new call (the number's Voice URL)."""
    svc = services()
    call_sid = _call_sid()
    flow = svc.flows.for_number(request.form.get("To"))  # each number plays its line's flow (lines.yaml)
    metrics.CALLS.labels(flow.name).inc()
    log.info("call.answered", extra={"call_sid": call_sid, "flow_version": flow.version})
    return _respond(svc, flow, call_sid, None, engine.start(flow))


@bp.post("/step")
@webhook
def step() -> Response:
    """The caller answered a Gather or Dial, or gave no input."""
    svc = services()
    call_sid = _call_sid()
    state = _load_state(svc, call_sid)
    if state is None:
        return _twiml(fallback.record_twiml(svc, call_sid))
    flow = svc.flows.get(state.flow_version)
    if state.reads_thread and request.args.get("e") == "heard" and not request.form.get("Digits"):
        state = _messages_heard(svc, state)  # the pause after the messages came: heard to the end
    result = engine.step(flow, state, _event(request.form, request.args.get("e"), state))
    return _respond(svc, flow, call_sid, state, result)


def _messages_heard(svc: Services, state: CallState) -> CallState:
    """The reporter stayed on to the end of the messages: they were heard."""
    if state.is_followup:
        try:
            with svc.sessions.begin() as session:
                call = followup.original_call(session, state.reference or "")
                if call is not None:
                    thread.mark_heard(session, call, engine.thread_ids(state),
                                      svc.settings.anonymous_time_resolution_minutes)
        except SQLAlchemyError:
            log.warning("thread.heard_not_recorded")  # they are said again next time: no harm
    return state  # the engine goes on from the messages, past them


def _audio_tokens(svc: Services) -> ThreadAudioTokens:
    tokens = _tokens.get(id(svc))
    if tokens is None:
        tokens = _tokens[id(svc)] = ThreadAudioTokens(svc.settings.session_secret)
    return tokens


_tokens: dict[int, ThreadAudioTokens] = {}


@bp.post("/recorded")
@webhook
def recorded() -> Response:
    """The Record action: make the report durable first, then go on with the menu."""
    svc = services()
    call_sid = _call_sid()
    state = _load_state(svc, call_sid)
    recording_sid = request.form.get("RecordingSid", "")
    if state is None:
        return _twiml(fallback.record_twiml(svc, call_sid))
    if not sids.is_sid(recording_sid, "recording"):
        # Twilio posts the action without a recording only if nothing was recorded.
        result = engine.step(svc.flows.get(state.flow_version), state, engine.NoInput())
        return _respond(svc, svc.flows.get(state.flow_version), call_sid, state, result)
    duration_s = _int(request.form.get("RecordingDuration"))
    state = _file_report(svc, call_sid, state, recording_sid, duration_s, is_ready=False)
    flow = svc.flows.get(state.flow_version)
    result = engine.step(flow, state, engine.Recorded(recording_sid, duration_s or 0))
    return _respond(svc, flow, call_sid, state, result)


@bp.post("/recording-status")
@webhook
def recording_status() -> Response:
    """Twilio's recordingStatusCallback: the media exists now, so the workers may fetch it."""
    svc = services()
    call_sid = _call_sid()
    recording_sid = request.form.get("RecordingSid", "")
    if request.form.get("RecordingStatus", "completed") != "completed" or not sids.is_sid(recording_sid, "recording"):
        return Response(status=204)
    state = _load_state(svc, call_sid) or fallback.anonymous_state(svc)
    duration_s = _int(request.form.get("RecordingDuration"))
    _file_report(svc, call_sid, state, recording_sid, duration_s, is_ready=True)
    return Response(status=204)


@bp.post("/status")
@webhook
def call_status() -> Response:
    """The number's call status callback: when and where each call ended."""
    svc = services()
    call_sid = _call_sid()
    status = request.form.get("CallStatus", "")
    if status not in ("completed", "busy", "failed", "no-answer", "canceled"):
        return Response(status=204)
    seen = svc.tracker.last_seen(call_sid)
    svc.tracker.forget(call_sid)
    version = seen.get("flow") or svc.flows.for_number(request.form.get("To")).version
    flow_name = "fallback" if version == fallback.FALLBACK_VERSION else svc.flows.get(version).name
    forget: int | None = None
    try:
        with svc.sessions.begin() as session:
            call = record_call_end(
                session,
                call_sid=call_sid,
                status=status,
                duration_s=_int(request.form.get("CallDuration")),
                last_node=seen.get("node"),
                flow_version=version,
                flow_name=flow_name,
                anonymous_time_resolution_minutes=svc.settings.anonymous_time_resolution_minutes,
            )
            # Twilio's log of the call holds the number. Calls with a case of their own are
            # forgotten by the workers once their recordings are safe; the rest (dropped
            # calls, follow-ups) are forgotten here.
            if call.is_anonymous and not call.intakes and not svc.settings.keep_on_twilio:
                forget = call.id
            sent = send_held(session, call.id)  # a caller who hangs up at the review menu has sent it
    except SQLAlchemyError:
        log.exception("call.end_not_recorded", extra={"call_sid": call_sid})
        sent = []
    for intake_id in sent:
        _enqueue(svc, intake_id)
    if forget is not None:
        try:
            enqueue_forget_call(svc.queue, forget)
        except RedisError:
            log.warning("call.forget_not_queued", extra={"call_id": forget})  # the sweeper will
    return Response(status=204)


@bp.post("/fallback")
@webhook
def fallback_incoming() -> Response:
    """The number's fallback URL: whatever failed, the caller can still leave a report."""
    svc = services()
    call_sid = _call_sid()
    log.error("call.fallback", extra={"call_sid": call_sid, "error_code": request.form.get("ErrorCode")})
    return _twiml(fallback.record_twiml(svc, call_sid))


@bp.post("/fallback/recorded")
@webhook
def fallback_recorded() -> Response:
    """The fallback's Record action: file the report, read the reference and PIN, say goodbye."""
    svc = services()
    call_sid = _call_sid()
    state = _load_state(svc, call_sid) or fallback.anonymous_state(svc)
    recording_sid = request.form.get("RecordingSid", "")
    if sids.is_sid(recording_sid, "recording"):
        state = _file_report(
            svc, call_sid, state, recording_sid, _int(request.form.get("RecordingDuration")), is_ready=False
        )
    return _twiml(fallback.thanks_twiml(svc, state))


@bp.get("/prompts/<path:name>")
@timed
def prompt_audio(name: str) -> Response:
    """Prompt audio for <Play>; public and cacheable (it holds nothing secret)."""
    response = send_from_directory(services().settings.prompts_dir.resolve(), name, max_age=86400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/thread-audio/<token>")
@timed
def thread_audio(token: str) -> Response:
    """An audio message for the reporter, for Twilio's <Play> in the follow-up call it was minted for."""
    svc = services()
    try:
        message_id, call_sid = _audio_tokens(svc).read(token)
    except TokenInvalid:
        abort(404)
    with svc.sessions() as session:
        ended = session.scalar(select(Call.status).where(Call.call_sid == call_sid))
        if ended is not None and ended != "in-progress":
            abort(410)  # that call is over: its links play nothing any more
        key = thread.audio_key(session, message_id)
    if key is None:
        abort(404)
    try:
        audio = audio_stream.read_audio(key)
    except Unavailable:
        abort(404)
    return audio_stream.audio_response(request, audio)


def _file_report(
    svc: Services, call_sid: str, state: CallState, recording_sid: str, duration_s: int | None, *, is_ready: bool
) -> CallState:
    """Write call and intake (idempotent), then enqueue if ready. Returns state with the stored reference."""
    if state.is_followup and state.reference:
        _file_followup(svc, call_sid, state, recording_sid, duration_s, is_ready=is_ready)
        return state
    flow = svc.flows.get(state.flow_version) if state.flow_version != fallback.FALLBACK_VERSION else None
    # The state was sealed when this Record was asked for: its recording is the take this one
    # replaces ("record again", or a take too short), never one this recording's callbacks name.
    replaced = state.recording_sid if state.recording_sid not in (None, recording_sid) else None
    facts = CallFacts(
        flow_name=flow.name if flow else "fallback",
        flow_version=state.flow_version,
        language=state.language,
        is_anonymous=state.is_anonymous is not False,
        is_urgent=state.is_urgent,
        region_code=state.region,
        # A contact is kept under the CallSid at the step that took it; the state only says so.
        contact=None,
    )
    pin_digits = flow.doc.limits.pin_digits if flow else PIN_DIGITS
    try:
        with svc.sessions.begin() as session:
            # The first writer draws the reference and the PIN; every later callback reads them.
            call = ensure_call(session, call_sid, facts, svc.cipher, reference=state.reference)
            pin = credentials.issue_pin_once(svc, call, pin_digits)
            # A menu's take waits for the caller to send it (ivr.retakes); the fallback has no review.
            intake = record_intake(
                session, call=call, recording_sid=recording_sid, duration_s=duration_s, is_ready=is_ready,
                is_held=flow is not None and call.status == "in-progress",
            )
            intake_id, reference = intake.id, call.reference
            claimed = is_ready and claim_for_enqueue(session, intake.id)
            discarded = discard_replaced(session, call, replaced, intake) if replaced else None
            # Its only job is deleting it at Twilio; a take not ready yet is claimed by its callback.
            discarded_claimed = discarded is not None and claim_for_enqueue(session, discarded)
    except SQLAlchemyError:
        # Never read out a reference that is not durably kept: this host's spool keeps the
        # report until the database is back; if even that fails, the caller hears no reference.
        log.exception("intake.write_failed", extra={"call_sid": call_sid, "recording_sid": recording_sid})
        spooled_reference, spooled_pin = credentials.spool_report(
            svc, call_sid, facts, recording_sid, duration_s, is_ready=is_ready, pin_digits=pin_digits,
            replaces=replaced)
        return replace(state, reference=spooled_reference, pin=spooled_pin)
    metrics.INTAKES_RECORDED.inc()
    log.info("intake.recorded", extra={"call_sid": call_sid, "intake_id": intake_id, "is_ready": is_ready})
    if claimed:
        _enqueue(svc, intake_id)
    if discarded is not None:
        log.info("intake.discarded", extra={"call_sid": call_sid, "intake_id": discarded})
    if discarded_claimed and discarded is not None:
        _enqueue(svc, discarded)
    return replace(state, reference=reference, pin=pin)


def _send_takes(svc: Services, call_sid: str) -> None:
    """Enqueue the call's held take now that the caller has sent it; on a database error the call
    end (or the sweeper) sends it instead."""
    try:
        with svc.sessions.begin() as session:
            sent = send_held_of_call_sid(session, call_sid)
    except SQLAlchemyError:
        log.warning("intake.send_failed", extra={"call_sid": call_sid})
        return
    for intake_id in sent:
        _enqueue(svc, intake_id)


def _file_followup(
    svc: Services, call_sid: str, state: CallState, recording_sid: str, duration_s: int | None, *, is_ready: bool
) -> None:
    """A verified reporter's new recording joins the original call's case; this call stays unlinked."""
    try:
        with svc.sessions.begin() as session:
            call = followup.original_call(session, state.reference or "")
            if call is None:
                log.error("followup.case_missing", extra={"call_sid": call_sid})
                return
            intake = record_intake(
                session, call=call, recording_sid=recording_sid, duration_s=duration_s, is_ready=is_ready,
                kind="followup", actor="voice:followup", source_call_sid=call_sid,
            )
            ids = engine.thread_ids(state)
            thread.file_reporter_recording(session, call, intake, ids[-1] if state.is_reply and ids else None,
                                           svc.settings.anonymous_time_resolution_minutes)
            intake_id = intake.id
            claimed = is_ready and claim_for_enqueue(session, intake.id)
    except SQLAlchemyError:
        log.exception("intake.write_failed", extra={"call_sid": call_sid, "recording_sid": recording_sid})
        return
    log.info("followup.recorded", extra={"intake_id": intake_id, "is_ready": is_ready})
    if claimed:
        _enqueue(svc, intake_id)


def _enqueue(svc: Services, intake_id: int) -> None:
    if not enqueue_claimed(svc.sessions, svc.queue, intake_id):
        metrics.ENQUEUE_FAILED.inc()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None

