"""The menu as a pure state machine: (flow, call state, caller's input) -> (next state, actions).

Nothing here does I/O. The voice blueprint turns Twilio's form into an `Event`, calls `step`,
and hands the `actions` to `twiml.to_twiml`; the state travels sealed in the next webhook URL.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from ivr.cases.reference import is_valid_reference
from ivr.flow.model import (
    CaseStatusRef,
    Choice,
    DialNode,
    DigitsNode,
    DigitsRef,
    Flow,
    HangupNode,
    Language,
    LookupNode,
    MenuNode,
    RecordingRef,
    RecordNode,
    RegionNode,
    RegionRef,
    ReporterMessageRef,
    SayItem,
    SayNode,
    SetNode,
)
from ivr.flow.rota import on_duty
from ivr.flow.speech import NO_WORDS, YES_WORDS, choose_by_speech, yes_or_no

MAX_HOPS = 64

# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class ThreadItem:
    """One message for the reporter: text read in its language's voice, or audio (`has_audio`) played."""

    message_id: int
    language: str | None
    text: str | None
    has_audio: bool = False


@dataclass(frozen=True)
class CallState:
    """Everything the line knows about one call between two webhooks."""

    flow_version: str
    node: str
    language: Language | None = None
    is_anonymous: bool | None = None
    is_urgent: bool = False
    region: str | None = None
    contact: str | None = None  # "caller" until the view swaps in the number; never set when anonymous
    tries: int = 0
    recording_sid: str | None = None
    reference: str | None = None
    pin: str | None = None  # the PIN to read out; in a follow-up, the one keyed in until it is checked
    is_followup: bool = False  # the caller proved reference and PIN: recordings join that case
    case_status: str | None = None
    reporter_message: str | None = None
    pin_tries: int = 0
    # New fields go last, with defaults: tokens sealed before them still unseal (call_state.py).
    region_heard: str | None = None  # a spoken region read back, waiting for the caller's yes
    reads_reference: bool = False  # this step reads the reference out: the next webhook means it was heard
    # The caller's own reference and PIN were read out in this call: from then on a "repeat" may
    # read only the pair that was read (credentials.py), never a pair another host drew.
    reference_read: bool = False
    # The thread with the reporter (ivr/cases/thread.py): the messages to say in this step (never
    # sealed into a URL), the ids of those said in this call ("12,15": a marker, no content), whether
    # this step says them (the next webhook means they were heard), and whether a recording answers them.
    thread: tuple[ThreadItem, ...] | None = None
    thread_ids: str | None = None
    reads_thread: bool = False
    is_reply: bool = False
    dial_attempt: int = 0  # which of the numbers on duty (ivr/flow/rota.py) is being rung


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Start:
    """A new call arrived."""


@dataclass(frozen=True)
class Digits:
    """Keys pressed on a Gather (finish key already removed by Twilio)."""

    value: str


@dataclass(frozen=True)
class Speech:
    """A spoken answer recognised by Twilio."""

    text: str
    confidence: float = 0.0


@dataclass(frozen=True)
class NoInput:
    """The caller said and pressed nothing (or recorded nothing) before the timeout."""


@dataclass(frozen=True)
class Recorded:
    """Twilio finished a recording and posted the Record action."""

    recording_sid: str
    duration_s: int


@dataclass(frozen=True)
class DialEnded:
    """A transfer ended; status is Twilio's DialCallStatus."""

    status: str


@dataclass(frozen=True)
class LookupDone:
    """The view did what a lookup node asked; `outcome` picks the way on."""

    outcome: str
    case_status: str | None = None
    reporter_message: str | None = None
    pin: str | None = None
    thread: tuple[ThreadItem, ...] = ()


Event = Start | Digits | Speech | NoInput | Recorded | DialEnded | LookupDone


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Say:
    """Text spoken by Twilio's TTS."""

    text: str
    voice: str
    tts_language: str


@dataclass(frozen=True)
class Play:
    """A prompt file under config/prompts, e.g. `kk/welcome.wav`."""

    prompt: str


@dataclass(frozen=True)
class PlayRecording:
    """The caller's own recording, played back for review."""

    recording_sid: str


@dataclass(frozen=True)
class PlayMessage:
    """A message for the reporter that is audio (an operator's voice, or rendered by the line)."""

    message_id: int


Speakable = Say | Play | PlayRecording | PlayMessage


@dataclass(frozen=True)
class Gather:
    """Wait for keys (and speech, where `speech_language` is set) while saying `prompts`."""

    prompts: tuple[Speakable, ...]
    timeout_s: int
    num_digits: int | None = None
    finish_on_key: str = ""
    speech_language: str | None = None
    hints: tuple[str, ...] = ()
    # True: prompts before a Record or Dial; no input steps on ("go", an empty Digits)
    # to that verb, as a key does. False: no input posts back as NoInput.
    falls_through: bool = False
    # The caller's reference and PIN end here: no input steps on with "heard", telling the line
    # the caller stayed to the end of them (a key steps on as pressed at the menu after them).
    after_numbers: bool = False


@dataclass(frozen=True)
class Record:
    """Record the report; Twilio posts the result, or nothing if it heard nothing."""

    max_length_s: int
    silence_timeout_s: int
    finish_on_key: str


@dataclass(frozen=True)
class Dial:
    """Transfer the call; Twilio posts how it ended."""

    number: str
    timeout_s: int


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class Lookup:
    """Not for Twilio: the view performs `op` (it needs the database) and steps on with LookupDone."""

    op: str


Action = Say | Play | PlayRecording | PlayMessage | Gather | Record | Dial | Hangup | Lookup


@dataclass(frozen=True)
class Step:
    """The next state and what the caller hears; the last action always waits or hangs up."""

    state: CallState
    actions: tuple[Action, ...]
    left_node: str | None = None  # the node the caller moved on from, for per-node metrics
    is_answer: bool = True  # False when the input was refused, or only asked for the region list


# --------------------------------------------------------------------------- engine


STEP_CACHE_SIZE = 20_000


def start(flow: Flow) -> Step:
    """The first answer to a new call."""
    return step(flow, CallState(flow_version=flow.version, node=flow.doc.start), Start())


def step(flow: Flow, state: CallState, event: Event) -> Step:
    """Apply the caller's input at the current node; invalid input re-prompts, never fails."""
    if not _is_shared(state, event):
        return _step_once(flow, state, event)
    key = (state, event)
    cached = flow.step_cache.get(key)
    if cached is None:
        if len(flow.step_cache) >= STEP_CACHE_SIZE:
            flow.step_cache.clear()  # crude, but bounded; early menu steps refill it at once
        read_clock = _READ_CLOCK.set(False)
        try:
            cached = _step_once(flow, state, event)
            if not _READ_CLOCK.get():  # who is on duty depends on the hour: never cache that step
                flow.step_cache[key] = cached
        finally:
            _READ_CLOCK.reset(read_clock)
    return cached


_READ_CLOCK: ContextVar[bool] = ContextVar("read_clock", default=False)


def _on_duty(flow: Flow, node: DialNode) -> tuple[str, ...]:
    """The numbers to ring now, in order (the rota, in Almaty time); marks the step as clock-dependent."""
    _READ_CLOCK.set(True)
    return on_duty(flow.doc.numbers.get(node.number, []), datetime.now(UTC))


def _is_shared(state: CallState, event: Event) -> bool:
    """Steps many callers take alike (the menus); nothing a caller keyed in or was given is kept."""
    personal = (state.contact, state.reference, state.pin, state.recording_sid, state.reporter_message,
                state.thread, state.thread_ids)
    if any(value is not None for value in personal):
        return False
    # Menu keys and region codes only: a number keyed in (phone, reference, PIN) is never kept.
    return isinstance(event, Start | NoInput) or (isinstance(event, Digits) and len(event.value) <= 2)


def _step_once(flow: Flow, state: CallState, event: Event) -> Step:
    if isinstance(event, Start):
        fresh = CallState(flow_version=flow.version, node=flow.doc.start)
        return _enter(flow, fresh, flow.doc.start, ())
    result = _step(flow, state, event)
    if not result.is_answer:
        return result
    return replace(result, left_node=state.node)


def _step(flow: Flow, state: CallState, event: Event) -> Step:
    node = flow.doc.nodes.get(state.node)
    if node is None:
        # The state names a node this flow lacks (hand-made URL): begin again rather than fail.
        return _step_once(flow, state, Start())
    if isinstance(node, MenuNode):
        return _menu(flow, state, node, event)
    if isinstance(node, DigitsNode):
        return _digits(flow, state, node, event)
    if isinstance(node, RegionNode):
        return _region(flow, state, node, event)
    if isinstance(node, RecordNode):
        return _record(flow, state, node, event)
    if isinstance(node, DialNode):
        return _dial(flow, state, node, event)
    if isinstance(node, LookupNode) and isinstance(event, LookupDone):
        return _lookup(flow, state, node, event)
    if isinstance(node, HangupNode) and isinstance(event, Digits):
        return Step(state, (Hangup(),), is_answer=False)  # a key skipped the goodbye
    if isinstance(node, SayNode) and (state.reads_reference or state.reads_thread):
        return _after_numbers(flow, state, node, event)
    # Input at a node that does not wait (a replayed webhook): say the node again.
    return replace(_enter(flow, state, state.node, ()), is_answer=False)


def _after_numbers(flow: Flow, state: CallState, node: SayNode, event: Event) -> Step:
    """The numbers (or messages) were read: go on; a key pressed during them is meant for the menu that follows."""
    following = flow.node(node.next)
    if isinstance(event, Digits) and event.value and isinstance(following, MenuNode | DigitsNode | RegionNode):
        # Whatever the key does there, the caller has moved on from the read-out.
        return replace(_step(flow, replace(state, node=node.next, tries=0, reads_reference=False, reads_thread=False),
                             event), is_answer=True)
    return _enter(flow, state, node.next, ())


def _menu(flow: Flow, state: CallState, node: MenuNode, event: Event) -> Step:
    choice: Choice | None = None
    if isinstance(event, Digits) and event.value[:1] in node.options:
        choice = node.options[event.value[:1]]
    elif isinstance(event, Speech):
        choice = _choice_for_speech(node, event.text, _language(flow, state))
    if choice is not None:
        return _follow(flow, state, choice)
    return _retry(flow, state, node, event)


def _choice_for_speech(node: MenuNode, said: str, language: Language) -> Choice | None:
    # Whole words, one option only, and never from a refusal: a spoken answer is not consent.
    words_of = {key: choice.words.get(language, []) for key, choice in node.options.items()}
    return choose_by_speech(said, node.options, words_of)


def _digits(flow: Flow, state: CallState, node: DigitsNode, event: Event) -> Step:
    if isinstance(event, Digits):
        value = event.value.strip().rstrip(node.finish_on_key)
        if (
            value.isascii()  # str.isdigit() is also true of "²" and "①"
            and value.isdigit()
            and node.min_digits <= len(value) <= node.max_digits
            and (node.pattern is None or re.fullmatch(node.pattern, value))
            and (not node.check_digit or is_valid_reference(value))
        ):
            if node.save_as == "contact":
                state = _keep_anonymous(replace(state, contact=value))
            elif node.save_as == "reference":
                state = replace(state, reference=value)
            else:
                state = replace(state, pin=value)
            return _enter(flow, replace(state, tries=0), node.next, ())
    return _retry(flow, state, node, event)


def _lookup(flow: Flow, state: CallState, node: LookupNode, event: LookupDone) -> Step:
    outcome = event.outcome
    if node.op == "verify_reference":
        if outcome == "ok":
            state = replace(state, is_followup=True, pin=None, pin_tries=0,
                            case_status=event.case_status, reporter_message=event.reporter_message)
            state = _with_thread(state, event.thread)
            if event.thread and "messages" in node.outcomes:
                outcome = "messages"  # new messages: the flow's way to hear and answer them
        else:
            # Three wrong PINs end the call, whatever the reason: guessing must stay hopeless.
            tries = state.pin_tries + 1
            state = replace(state, pin=None, pin_tries=tries)
            if tries >= flow.doc.limits.pin_tries_per_call:
                outcome = "ended"
    elif node.op == "issue_pin" and outcome == "ok":
        state = replace(state, pin=event.pin)
    elif node.op == "replay_messages":
        outcome = "ok" if event.thread else "failed"
        state = _with_thread(state, event.thread) if event.thread else state
    if outcome not in node.outcomes:
        # Never let an unexpected answer open the way: take the op's failure path.
        outcome = "failed" if node.op != "verify_reference" else ("ended" if outcome == "ended" else "wrong")
    target = node.outcomes[outcome]
    return _enter(flow, replace(state, tries=0), target, ())


def _with_thread(state: CallState, items: tuple[ThreadItem, ...]) -> CallState:
    """The messages to say now, and the marker of which they are (for heard, replay and replies)."""
    if not items:
        return replace(state, thread=None)
    return replace(state, thread=items, thread_ids=",".join(str(item.message_id) for item in items))


def thread_ids(state: CallState) -> list[int]:
    """The ids of the messages said to the reporter in this call (from the URL's marker)."""
    return [int(part) for part in (state.thread_ids or "").split(",") if part.isascii() and part.isdigit()]


def _region(flow: Flow, state: CallState, node: RegionNode, event: Event) -> Step:
    if state.region_heard is not None:
        return _confirm_region(flow, state, node, event)
    region = None
    if isinstance(event, Digits):
        if node.list_key in event.value and not event.value.strip().isdigit():
            listing = _say(flow, state, node.list_intro) + _region_list(flow, state)
            return Step(state, (_gather_for(flow, state, node, listing + _say(flow, state, node.say)),),
                        is_answer=False)
        region = flow.region_for_code(event.value.strip().zfill(2))
    elif isinstance(event, Speech):
        region = flow.region_for_speech(event.text)
        if region is not None and node.confirm:
            # A recogniser mishears; a keyed code needs no read-back, a spoken name does.
            state = replace(state, region_heard=region.code)
            prompts = _say(flow, state, node.confirm)
            # "Иә" / "да" / "yes" answer it as 1 and 2 do: the caller is already speaking.
            language = _language(flow, state)
            hints = (*YES_WORDS.get(language, ()), *NO_WORDS.get(language, ()))
            gather = Gather(_speakable(prompts), node.timeout_s, num_digits=1,
                            speech_language=flow.doc.languages[language].speech_language, hints=hints)
            return Step(state, (gather,), is_answer=False)
    if region is not None:
        return _enter(flow, replace(state, region=region.code, tries=0), node.next, ())
    return _retry(flow, state, node, event)


def _confirm_region(flow: Flow, state: CallState, node: RegionNode, event: Event) -> Step:
    """1, a spoken yes (or silence) keeps the region read back; 2, a spoken no or anything else asks again."""
    heard, state = state.region_heard, replace(state, region_heard=None)
    if isinstance(event, Speech):
        answer = yes_or_no(event.text)
        event = Digits("1" if answer == "yes" else "2" if answer == "no" else "")
    if isinstance(event, NoInput) or (isinstance(event, Digits) and event.value[:1] == "1"):
        # Silence keeps what the caller said: an exact name matched, and the report goes on.
        return _enter(flow, replace(state, region=heard, tries=0), node.next, ())
    if isinstance(event, Digits) and event.value[:1] == "2":
        # "No": ask for the region again (a try), without saying anything went wrong.
        if state.tries + 1 > node.retries:
            return _follow(flow, state, node.after_retries)
        state = replace(state, tries=state.tries + 1)
        ask = _say(flow, state, node.reprompt if node.reprompt is not None else node.say)
        return Step(state, (_gather_for(flow, state, node, ask),), is_answer=False)
    return _retry(flow, state, node, event)


def _record(flow: Flow, state: CallState, node: RecordNode, event: Event) -> Step:
    if isinstance(event, Digits):
        # A key during the guidance: straight to the beep.
        return Step(state, _record_actions(flow, state, node), is_answer=False)
    if isinstance(event, Recorded):
        state = replace(state, recording_sid=event.recording_sid)
        if event.duration_s < node.min_length_s and state.tries < node.retries:
            state = replace(state, tries=state.tries + 1)
            actions = (*_skippable(_say(flow, state, node.too_short)), *_record_actions(flow, state, node))
            return Step(state, actions, is_answer=False)
        return _enter(flow, replace(state, tries=0), node.next, ())
    if isinstance(event, NoInput) and state.recording_sid is None:
        return _retry(flow, state, node, event)
    if isinstance(event, NoInput):
        # Re-recording came back empty: the earlier recording still stands, so go on with it.
        return _enter(flow, replace(state, tries=0), node.next, ())
    return _enter(flow, state, state.node, ())


def _dial(flow: Flow, state: CallState, node: DialNode, event: Event) -> Step:
    numbers = _on_duty(flow, node)
    attempt = state.dial_attempt
    if isinstance(event, Digits) and numbers:
        # A key skipped "connecting": ring the one whose turn it is.
        return Step(state, (Dial(numbers[min(attempt, len(numbers) - 1)], node.timeout_s),), is_answer=False)
    answered = isinstance(event, DialEnded) and event.status in ("completed", "answered")
    if not answered and isinstance(event, DialEnded) and attempt + 1 < len(numbers):
        # No answer, busy or failed: the next officer on duty, while the caller keeps hearing the ring.
        state = replace(state, dial_attempt=attempt + 1)
        return Step(state, (Dial(numbers[attempt + 1], node.timeout_s),), is_answer=False)
    target = node.answered if answered else node.next if numbers else (node.voicemail or node.next)
    return _enter(flow, replace(state, dial_attempt=0), target, ())


def _retry(flow: Flow, state: CallState, node: Any, event: Event) -> Step:
    """Count a miss; say why and ask again, or take the node's after_retries path."""
    tries = state.tries + 1
    limit = node.retries
    silence_retries = getattr(node, "silence_retries", None)
    if isinstance(event, NoInput) and silence_retries is not None:
        limit = min(limit, silence_retries)
    if tries > limit:
        return _follow(flow, state, node.after_retries)
    state = replace(state, tries=tries)
    return replace(_ask_again(flow, state, node, event), is_answer=False)


def _ask_again(flow: Flow, state: CallState, node: Any, event: Event) -> Step:
    reason = node.no_input if isinstance(event, NoInput) else node.invalid
    before = _say(flow, state, reason)
    reprompt = getattr(node, "reprompt", None)
    if reprompt is None:
        return _enter(flow, state, state.node, before, keep_tries=True)
    # The short question only: a caller who missed the answer once does not need the explanation twice.
    return Step(state, (_gather_for(flow, state, node, before + _say(flow, state, reprompt)),))


def _follow(flow: Flow, state: CallState, choice: Choice) -> Step:
    state = _apply(state, choice.set)
    return _enter(flow, replace(state, tries=0), choice.goto, ())


def _apply(state: CallState, values: dict[str, Any]) -> CallState:
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name == "language":
            changes["language"] = value
        elif name == "anonymous":
            changes["is_anonymous"] = value
        elif name == "urgent":
            changes["is_urgent"] = value
        elif name == "contact":
            changes["contact"] = value
        elif name == "reply":
            changes["is_reply"] = bool(value)
    return _keep_anonymous(replace(state, **changes))


def _keep_anonymous(state: CallState) -> CallState:
    """An anonymous call never holds a contact, whatever order a flow sets things in."""
    return replace(state, contact=None) if state.is_anonymous and state.contact is not None else state


def _enter(
    flow: Flow,
    state: CallState,
    node_id: str,
    before: tuple[Action, ...],
    *,
    keep_tries: bool = False,
) -> Step:
    """Run nodes that do not wait (say, set, empty dial) until one waits or hangs up."""
    actions: list[Action] = list(before)
    state = replace(state, reads_reference=False) if state.reads_reference else state
    state = replace(state, reads_thread=False) if state.reads_thread else state
    for _ in range(MAX_HOPS):
        node = flow.node(node_id)
        state = replace(state, node=node_id) if keep_tries else replace(state, node=node_id, tries=0)
        keep_tries = False
        reads_thread = bool(state.thread) and any(isinstance(i, ReporterMessageRef) for i in getattr(node, "say", ()))
        if reads_thread:
            state = replace(state, reads_thread=True)
        if isinstance(node, SayNode):
            if node.no_reference is not None and not state.reference:
                node_id = node.no_reference  # nothing kept to read out: say so, never empty numbers
                continue
            actions += _say(flow, state, node.say)
            reads_numbers = bool(state.reference) and any(
                isinstance(i, DigitsRef) and i.digits == "reference" for i in node.say)
            if reads_numbers or reads_thread:
                # Stop right after the numbers (or the messages for the reporter): the "heard"
                # that follows tells the line the caller stayed on to their end (a hang-up during
                # them, or a key, sends none).
                if reads_numbers:
                    state = replace(state, reads_reference=True, reference_read=True)
                return Step(state, (Gather(_speakable(actions), SKIP_WAIT_S, num_digits=1, falls_through=True,
                                           after_numbers=True),))
            node_id = node.next
        elif isinstance(node, SetNode):
            state = _apply(state, node.set)
            node_id = node.goto
        elif isinstance(node, HangupNode):
            # Not in a Gather: nothing follows a goodbye that a key could skip to.
            return Step(state, (*actions, *_say(flow, state, node.say), Hangup()))
        elif isinstance(node, DialNode):
            state = _apply(state, node.set)
            numbers = _on_duty(flow, node)
            if not numbers:
                # Nobody on duty at this hour: straight to the urgent recording, with no "cannot answer".
                node_id = node.voicemail or node.next
                continue
            state = replace(state, dial_attempt=0)
            prompts = _skippable((*actions, *_say(flow, state, node.say)))
            return Step(state, (*prompts, Dial(numbers[0], node.timeout_s)))
        elif isinstance(node, RecordNode):
            prompts = _skippable((*actions, *_say(flow, state, node.say)))
            return Step(state, (*prompts, *_record_actions(flow, state, node)))
        elif isinstance(node, LookupNode):
            return Step(state, (*actions, *_say(flow, state, node.say), Lookup(node.op)))
        else:
            # Everything said on the way (the greeting, a reason) is inside the Gather: a key cuts it short.
            return Step(state, (_gather_for(flow, state, node, (*actions, *_say(flow, state, node.say))),))
    raise RuntimeError(f"flow {flow.version} loops without waiting at {node_id}")  # validation forbids it


def _record_actions(flow: Flow, state: CallState, node: RecordNode) -> tuple[Action, ...]:
    return (Record(node.max_length_s, node.silence_timeout_s, node.finish_on_key),)


SKIP_WAIT_S = 1  # Twilio's shortest Gather timeout: the pause after prompts nobody skipped


def _speakable(actions: tuple[Action, ...] | list[Action]) -> tuple[Speakable, ...]:
    return tuple(a for a in actions if isinstance(a, Say | Play | PlayRecording | PlayMessage))


def _skippable(actions: tuple[Action, ...] | list[Action]) -> tuple[Action, ...]:
    """Prompts before a Record, Dial or Hangup, inside a Gather so any key skips them."""
    prompts = _speakable(actions)
    if not prompts:
        return ()
    return (Gather(prompts, SKIP_WAIT_S, num_digits=1, falls_through=True),)


def _gather_for(flow: Flow, state: CallState, node: Any, prompts: tuple[Action, ...] | list[Action]) -> Gather:
    language = _language(flow, state)
    speech_language = flow.doc.languages[language].speech_language
    speakable = _speakable(prompts)
    if isinstance(node, MenuNode):
        hints = tuple(w for c in node.options.values() for w in c.words.get(language, []))
        return Gather(
            speakable,
            node.timeout_s,
            num_digits=1,
            speech_language=speech_language if node.speech else None,
            hints=hints,
        )
    if isinstance(node, RegionNode):
        # Every official name first: Twilio reads only the first 1000 characters of hints.
        names = [region.names.get(language, "") for region in flow.doc.regions]
        aliases = [alias for region in flow.doc.regions for alias in region.aliases.get(language, [])]
        hints = tuple(dict.fromkeys(hint for hint in (*names, *aliases) if hint))
        return Gather(
            speakable, node.timeout_s, num_digits=2, speech_language=speech_language, hints=hints
        )
    return Gather(speakable, node.timeout_s, num_digits=node.max_digits, finish_on_key=node.finish_on_key)


def _language(flow: Flow, state: CallState) -> Language:
    return state.language or flow.doc.default_language


def _say(flow: Flow, state: CallState, items: list[SayItem]) -> tuple[Action, ...]:
    """What a list of say items sounds like in the call's language."""
    actions: list[Action] = []
    for item in items:
        if isinstance(item, RecordingRef):
            if state.recording_sid:
                actions.append(PlayRecording(state.recording_sid))
            continue
        if isinstance(item, CaseStatusRef):
            key = f"case_status_{state.case_status}"
            key = key if key in flow.doc.messages else "case_status_new"
            actions.append(_message(flow, key, _language(flow, state)))
            continue
        if isinstance(item, RegionRef):
            region = flow.region_for_code(state.region_heard or state.region or "")
            if region is not None:
                actions.append(_region_name(flow, _language(flow, state), region.code))
            continue
        if isinstance(item, ReporterMessageRef):
            if state.thread:
                actions += _thread(flow, state, state.thread)
            elif state.reporter_message:
                if "reporter_message_intro" in flow.doc.messages:
                    actions.append(_message(flow, "reporter_message_intro", _language(flow, state)))
                actions.append(_free_text(flow, _language(flow, state), state.reporter_message))
            continue
        if isinstance(item, DigitsRef):
            value = getattr(state, item.digits)
            if value and value != "caller":
                actions += _digits_spoken(flow, _language(flow, state), value)
            continue
        key, language = (item, _language(flow, state)) if isinstance(item, str) else (
            item.message,
            item.language or _language(flow, state),
        )
        actions.append(_message(flow, key, language))
    return tuple(actions)


def _message(flow: Flow, key: str, language: Language) -> Say | Play:
    config = flow.doc.languages[language]
    message = flow.message(key, language)
    if message.audio or config.audio_only:
        return Play(message.audio or f"{language}/{key}.wav")
    assert config.voice and config.tts_language  # validated on load
    return Say(message.text, config.voice, config.tts_language)


def _thread(flow: Flow, state: CallState, items: tuple[ThreadItem, ...]) -> tuple[Action, ...]:
    """The messages, oldest first so the newest is said last, each in its own language's voice."""
    actions: list[Action] = []
    call_language = _language(flow, state)
    intro = "new_messages_intro" if len(items) > 1 else "reporter_message_intro"
    if intro in flow.doc.messages:
        actions.append(_message(flow, intro, call_language))
    for item in items:
        if item.has_audio:
            actions.append(PlayMessage(item.message_id))
        elif item.text:
            language = item.language if item.language in flow.doc.languages else call_language
            actions.append(_free_text(flow, cast(Language, language), item.text))
    return tuple(actions)


def _free_text(flow: Flow, language: Language, text: str) -> Say:
    """Text no one recorded (an operator's note): TTS in the language, or the first TTS voice."""
    config = flow.doc.languages[language]
    if config.voice and config.tts_language:
        return Say(text, config.voice, config.tts_language)
    # No Kazakh voice exists at Twilio; the Russian voice reads Kazakh Cyrillic understandably.
    spoken = next(c for c in flow.doc.languages.values() if c.voice and c.tts_language)
    assert spoken.voice and spoken.tts_language
    return Say(text, spoken.voice, spoken.tts_language)


def _digits_spoken(flow: Flow, language: Language, value: str) -> tuple[Action, ...]:
    """Digits one by one, so a caller can write them down: "4, 8, 1, 5"."""
    config = flow.doc.languages[language]
    if config.audio_only:
        return tuple(Play(f"{language}/digits/{d}.wav") for d in value if d.isdigit())
    assert config.voice and config.tts_language
    return (Say(", ".join(value) + ".", config.voice, config.tts_language),)


def _region_list(flow: Flow, state: CallState) -> tuple[Action, ...]:
    language = _language(flow, state)
    actions: list[Action] = []
    for region in flow.doc.regions:
        actions += _digits_spoken(flow, language, region.code)
        actions.append(_region_name(flow, language, region.code))
    return tuple(actions)


def _region_name(flow: Flow, language: Language, code: str) -> Say | Play:
    """A region's name as the caller hears it: the prompt file, or TTS."""
    config = flow.doc.languages[language]
    if config.audio_only:
        return Play(f"{language}/regions/{code}.wav")
    assert config.voice and config.tts_language
    region = flow.regions_by_code[code]
    return Say(region.names[language] + ".", config.voice, config.tts_language)
