"""The thread on the case page: text in the language picked, Kazakh rendered by the line, voice uploads checked."""

from __future__ import annotations

import io
import json
import wave
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ivr.models import ThreadMessage
from ivr.storage import make_recording_store
from tests.operator.console import Console, csrf_token, post_form
from tests.support.twilio_sim import make_wav


def _thread(console: Console, call_id: int) -> list[ThreadMessage]:
    with console.svc.sessions() as session:
        return list(session.scalars(select(ThreadMessage).where(ThreadMessage.call_id == call_id)
                                    .order_by(ThreadMessage.id)))


def _upload(client: Any, case_id: int, audio: bytes, *, mimetype: str = "audio/wav", token: str | None = None,
            language: str = "ru") -> Any:
    token = token if token is not None else csrf_token(client, f"/operator/cases/{case_id}")
    return client.post(f"/operator/cases/{case_id}/thread/voice", headers={"X-CSRFToken": token},
                       data={"language": language, "audio": (io.BytesIO(audio), "message.wav", mimetype)},
                       content_type="multipart/form-data")


def test_text_messages_keep_their_language_and_kazakh_is_rendered_by_the_line(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"])
    case = console.add_case(language="kk")
    client = make_client("aigerim")
    page = f"/operator/cases/{case.id}"
    post_form(client, f"{page}/thread/text", {"text": "Пожалуйста, перезвоните в понедельник.", "language": "ru"},
              page=page)
    post_form(client, f"{page}/thread/text", {"text": "Оқиға қай күні болды?", "language": "kk"}, page=page)

    russian, kazakh = _thread(console, case.call_id)
    assert (russian.language, russian.voice, russian.audio_key) == ("ru", None, None)  # Twilio's Russian voice
    assert (kazakh.language, kazakh.voice) == ("kk", "machine") and kazakh.audio_key
    # espeak-ng's Kazakh voice, 8 kHz for the phone.
    with make_recording_store(console.svc.settings).open(kazakh.audio_key) as handle, wave.open(handle) as audio:
        assert audio.getframerate() == 8000 and audio.getnframes() / 8000 > 0.8
    html = client.get(page).get_data(as_text=True)
    assert "Пожалуйста, перезвоните в понедельник." in html and "Оқиға қай күні болды?" in html
    assert 'data-testid="machine-voice"' in html
    assert client.get(f"{page}/thread/{kazakh.id}/audio").data[:4] == b"RIFF"
    assert [e.action for e in console.audit(action="thread.message_sent")] == ["thread.message_sent"] * 2


def test_the_old_message_form_posts_into_the_thread(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"])
    case = console.add_case(language="ru")
    client = make_client("aigerim")
    page = f"/operator/cases/{case.id}"
    post_form(client, f"{page}/reporter-message", {"text": "Первое сообщение."}, page=page)
    post_form(client, f"{page}/reporter-message", {"text": "Второе сообщение."}, page=page)
    assert [m.text for m in _thread(console, case.call_id)] == ["Первое сообщение.", "Второе сообщение."]


def test_a_voice_message_is_checked_stored_encrypted_and_audited(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"])
    console.add_user("other", regions=["05"])
    case = console.add_case(language="ru")
    client = make_client("aigerim")
    audio = make_wav(3.0, sample_rate=16000)

    assert _upload(client, case.id, audio, token="").status_code == 400  # no CSRF token
    assert _upload(client, case.id, audio, mimetype="video/webm").status_code == 415
    assert _upload(client, case.id, b"RIFF" + b"\0" * 100).status_code == 422
    assert _upload(client, case.id, make_wav(0.3)).status_code == 422  # too short to be a question
    assert _upload(client, case.id, make_wav(200.0)).status_code == 413  # past the upload limit
    assert _upload(make_client("other"), case.id, audio).status_code == 404  # another region's case
    assert _thread(console, case.call_id) == []

    sent = _upload(client, case.id, audio)
    assert sent.status_code == 201, sent.get_data(as_text=True)
    [message] = _thread(console, case.call_id)
    assert (message.voice, message.language, message.operator_id is not None) == ("operator", "ru", True)
    assert round(message.audio_duration_s or 0) == 3
    root = console.svc.settings.recordings_dir
    stored = (root / message.audio_key).read_bytes()
    assert audio[44:1000] not in stored  # encrypted at rest
    assert client.get(f"/operator/cases/{case.id}/thread/{message.id}/audio").data == audio
    [event] = console.audit(action="thread.voice_sent")
    assert event.detail["message_id"] == message.id and "text" not in event.detail


def test_old_kazakh_messages_moved_into_the_thread_are_voiced_by_the_command(console: Console, ivr) -> None:
    """Migration 0011 moved the old single message in as text; `ivr cases voice-messages` renders the
    unheard Kazakh ones, so the phone plays the Kazakh machine voice instead of reading with the Russian one."""
    from ivr.cases import thread
    from ivr.models import TO_REPORTER

    kazakh_case = console.add_case(language="kk")
    russian_case = console.add_case(language="ru")
    with console.svc.sessions.begin() as session:
        for call_id, language, text, heard in (
            (kazakh_case.call_id, "kk", "Өтінішіңіз қаралып жатыр.", None),
            (kazakh_case.call_id, "kk", "Бұл хабар тыңдалды.", datetime.now(UTC)),  # heard: nothing to voice
            (russian_case.call_id, "ru", "Ваше обращение рассматривается.", None),  # Twilio's voice reads it
        ):
            session.add(ThreadMessage(call_id=call_id, direction=TO_REPORTER, language=language, text=text,
                                      heard_at=heard, created_at=datetime.now(UTC)))
    with console.svc.sessions() as session:
        [before] = thread.unheard(session, kazakh_case.call_id)
        assert not before.has_audio and before.text  # would be read by the Russian voice

    settings = console.svc.settings
    done = ivr("cases", "voice-messages", DATABASE_URL=settings.database_url,
               recordings_dir=str(settings.recordings_dir))
    assert done.code == 0 and json.loads(done.out.splitlines()[-1]) == {"voiced": 1, "failed": 0}, done

    unheard_kk, heard_kk = _thread(console, kazakh_case.call_id)
    [russian] = _thread(console, russian_case.call_id)
    assert unheard_kk.voice == "machine" and unheard_kk.audio_key
    with make_recording_store(settings).open(unheard_kk.audio_key) as handle, wave.open(handle) as audio:
        assert audio.getframerate() == 8000 and audio.getnframes() / 8000 > 0.8
    assert heard_kk.audio_key is None and russian.audio_key is None
    with console.svc.sessions() as session:
        [after] = thread.unheard(session, kazakh_case.call_id)
        assert after.has_audio and after.text is None  # played, not read
    again = ivr("cases", "voice-messages", DATABASE_URL=settings.database_url,
                recordings_dir=str(settings.recordings_dir))
    assert json.loads(again.out.splitlines()[-1]) == {"voiced": 0, "failed": 0}


def test_voice_messages_names_a_broken_flow_instead_of_failing(ivr, tmp_path) -> None:
    broken = tmp_path / "flow.yaml"
    broken.write_text("name: public\nnodes: [\n", encoding="utf-8")
    done = ivr("cases", "voice-messages", flow_path=str(broken))
    assert done.code == 1 and str(broken) in done.err and "ivr flow check" in done.err
