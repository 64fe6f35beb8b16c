"""The thread on the phone: new messages after the PIN in their own voices, audio played, heard, replayed, answered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ivr.models import Call, Case, Intake, ThreadMessage
from ivr.storage import make_recording_store
from ivr.twilio_standin.player import Hangup, Input, Press, Silence, Talk, TwilioSimulator, make_wav
from tests.voice.test_followup import msg, report


def _message(app, reference: str, **values: Any) -> int:  # type: ignore[no-untyped-def]
    with app.extensions["ivr"].sessions.begin() as session:
        case = session.scalars(select(Case).where(Case.reference == reference)).one()
        row = ThreadMessage(call_id=case.call_id, direction="to_reporter", **values)
        session.add(row)
        session.flush()
        return row.id


def _voice_message(app, reference: str, audio: bytes, language: str = "kk") -> int:  # type: ignore[no-untyped-def]
    stored = make_recording_store(app.extensions["ivr"].settings).put(f"thread/test{len(audio)}.wav", audio)
    return _message(app, reference, language=language, audio_key=stored.key, voice="operator")


def _thread(app, reference: str) -> list[ThreadMessage]:  # type: ignore[no-untyped-def]
    with app.extensions["ivr"].sessions() as session:
        call = session.scalars(select(Call).where(Call.reference == reference)).one()
        return list(session.scalars(select(ThreadMessage).where(ThreadMessage.call_id == call.id)
                                    .order_by(ThreadMessage.id)))


class FetchesPlays:
    """A caller whose phone fetches every <Play> of a message as Twilio does, while the call lasts."""

    def __init__(self, twilio: TwilioSimulator, client: Any, keys: list[Input]) -> None:
        self.twilio, self.client, self.keys = twilio, client, list(keys)
        self.fetched: list[tuple[str, int, bytes]] = []

    def answer(self, verb: str, attrs: dict[str, str]) -> Input:
        result = self.twilio.last_result
        assert result is not None
        for url in result.played():
            if "/voice/thread-audio/" in url and url not in [u for u, _, _ in self.fetched]:
                response = self.client.get(url.split("ivr.example.test", 1)[-1] if "://" in url else url)
                self.fetched.append((url, response.status_code, response.data))
        if verb == "Gather" and "e=heard" in attrs.get("action", "") and self.keys:
            return Silence()  # listens to the messages (or the numbers) to their end
        return self.keys.pop(0) if self.keys else Hangup()


def test_new_messages_are_said_each_in_its_own_voice_newest_last(app, twilio: TwilioSimulator, client) -> None:
    reference, pin = report(app, twilio)
    first = _message(app, reference, language="ru", text="Уточните, пожалуйста, номер кабинета.")
    second = _message(app, reference, language="en", text="Which day did this happen?")
    audio = make_wav(2.0)
    third = _voice_message(app, reference, audio)
    caller = FetchesPlays(twilio, client, [Press("2"), Press("9"), Press(reference), Press(pin), Press("3"),
                                           Press("3")])
    result = twilio.call(caller)

    says = [(s["text"], s["voice"]) for s in result.says]
    assert (msg(app, "new_messages_intro"), "Polly.Tatyana") in says
    texts = [text for text, _ in says]
    assert texts.index("Уточните, пожалуйста, номер кабинета.") < texts.index("Which day did this happen?")
    assert ("Уточните, пожалуйста, номер кабинета.", "Polly.Tatyana") in says  # Russian voice
    assert ("Which day did this happen?", "Polly.Joanna") in says  # its own language's voice
    plays = [url for url in result.played() if "/voice/thread-audio/" in url]
    assert len(plays) == 1  # the Kazakh voice message, newest, last
    assert result.played().index(plays[0]) > 0
    assert caller.fetched and caller.fetched[0][1] == 200 and caller.fetched[0][2] == audio
    path = plays[0].split("/voice/thread-audio/", 1)[1]
    assert "?" not in path and reference not in path and len(path) > 40  # one sealed token, nothing readable

    heard = _thread(app, reference)
    assert [m.id for m in heard] == [first, second, third]
    assert all(m.heard_at is not None and m.times_heard == 1 for m in heard)
    # Anonymous: when the reporter heard them is kept to the hour only.
    assert all(m.heard_at.minute == 0 and m.heard_at.second == 0 for m in heard if m.heard_at)

    # Once the call is over its links play nothing, and the next call hears no message again.
    assert client.get(plays[0].split("ivr.example.test", 1)[-1]).status_code == 410
    again = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("3")])
    assert msg(app, "new_messages_intro") not in again.said()
    assert msg(app, "case_status_in_review") in again.said()


def test_a_hang_up_during_the_messages_leaves_them_unheard(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio)
    _message(app, reference, language="ru", text="Перезвоните нам, пожалуйста.")
    twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Hangup()])
    assert all(m.heard_at is None for m in _thread(app, reference))
    again = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("3")])
    assert "Перезвоните нам, пожалуйста." in again.said()


def test_reporter_replays_the_messages_then_answers_at_once(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio)
    question = _message(app, reference, language="ru", text="Сколько денег у вас просили?")
    result = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("2"), Press("1"), Talk(12),
                          Press("3")])
    said = result.said()
    assert said.count("Сколько денег у вас просили?") == 2  # said, then said again on 2
    assert msg(app, "reply_received") in said
    thread = _thread(app, reference)
    assert thread[0].id == question and thread[0].times_heard == 2
    reply = thread[1]
    assert reply.direction == "from_reporter" and reply.reply_to_id == question and reply.intake_id is not None
    assert reply.created_at.minute == 0 and reply.created_at.second == 0  # anonymous: cut to the hour
    with app.extensions["ivr"].sessions() as session:
        intake = session.get(Intake, reply.intake_id)
        assert intake is not None and intake.kind == "followup"  # the normal pipeline takes it from here


def test_adding_information_from_the_menu_is_not_a_reply(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio)
    _message(app, reference, language="ru", text="Спасибо за обращение.")
    twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("3"), Press("1"), Talk(10), Press("3")])
    entries = _thread(app, reference)
    assert entries[-1].direction == "from_reporter" and entries[-1].reply_to_id is None


def test_audio_links_refuse_altered_and_expired_tokens(app, twilio: TwilioSimulator, client, monkeypatch) -> None:
    from ivr.voice import thread_audio

    reference, pin = report(app, twilio)
    _voice_message(app, reference, make_wav(1.5))
    result = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Silence(), Hangup()])
    url = next(u for u in result.played() if "/voice/thread-audio/" in u).split("ivr.example.test", 1)[-1]
    token = url.rsplit("/", 1)[1]
    altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get(url.rsplit("/", 1)[0] + "/" + altered).status_code == 404
    tokens = thread_audio.ThreadAudioTokens(app.extensions["ivr"].settings.session_secret)
    old = tokens.mint(1, result.call_sid, now=datetime(2020, 1, 1, tzinfo=UTC).timestamp())
    assert client.get(f"/voice/thread-audio/{old}").status_code == 404


def test_a_flow_without_a_messages_path_says_them_after_the_status(app, twilio: TwilioSimulator) -> None:
    from ivr.flow import engine

    flow = app.extensions["ivr"].flows.current
    node = flow.doc.nodes["followup_check"]
    outcomes = {k: v for k, v in node.outcomes.items() if k != "messages"}
    object.__setattr__(node, "outcomes", outcomes)
    try:
        state = engine.CallState(flow.version, "followup_check", language="ru", reference="1", pin="1")
        items = (engine.ThreadItem(7, "en", "Please call us back."),)
        step = engine.step(flow, state, engine.LookupDone("ok", case_status="new", thread=items))
    finally:
        object.__setattr__(node, "outcomes", {**outcomes, "messages": "followup_status_new"})
    spoken = [p for a in step.actions for p in (a.prompts if isinstance(a, engine.Gather) else (a,))]
    assert engine.Say("Please call us back.", "Polly.Joanna", "en-US") in spoken
    assert step.state.thread_ids == "7" and step.state.reads_thread


class PressesDuringMessages:
    """A reporter who presses 3 while the messages are being said (skipping them), then hangs up."""

    def __init__(self, keys: list[Input]) -> None:
        self.keys = list(keys)

    def answer(self, verb: str, attrs: dict[str, str]) -> Input:
        if verb == "Gather" and "e=heard" in attrs.get("action", ""):
            return Press("3")
        return self.keys.pop(0) if self.keys else Hangup()


def test_a_key_that_skips_the_messages_leaves_them_unheard(app, twilio: TwilioSimulator) -> None:
    reference, pin = report(app, twilio)
    _message(app, reference, language="ru", text="Перезвоните нам, пожалуйста.")
    result = twilio.call(PressesDuringMessages([Press("2"), Press("9"), Press(reference), Press(pin)]))
    assert "Перезвоните нам, пожалуйста." in result.said()  # it began, and the key cut it short
    assert all(m.heard_at is None and m.times_heard == 0 for m in _thread(app, reference))
