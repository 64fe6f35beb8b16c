"""The console in a real browser, on a report that came in through the real voice path.

A call is made with the Twilio stand-in over real HTTP, the worker's job chain runs on it
(download from the fake Twilio API serving espeak-ng speech, encrypted store, voice disguise,
the bundled Whisper model, case), then people of three roles use the console in Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from ivr.models import Case, Transcript
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.operator.console import PASSWORD, Console
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.twilio_sim import HttpTransport, Press, Silence, Talk, TwilioSimulator
from tests.workers.test_jobs_support import espeak_wav, wav_seconds

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPEECH = (
    "A police officer demanded money from me at the hospital in Almaty. "
    "He said the certificate would cost fifty thousand tenge."
)


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/operator/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/operator/(\?.*)?$"))


def _report_through_the_voice_path(app: Any, base: str) -> int:
    """An anonymous English report from Almaty, from the first ring to an opened case; its case id."""
    from workers.deps import WorkerDeps, set_worker_deps

    settings = app.extensions["ivr"].settings
    with FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as fake:
        app.extensions["ivr"].settings = settings.model_copy(update={"twilio_api_base": fake.base_url})
        speech = espeak_wav(SPEECH)
        seconds = round(wav_seconds(speech))
        sim = TwilioSimulator(
            HttpTransport(base), auth_token=AUTH_TOKEN, public_base_url=base, account_sid=ACCOUNT_SID,
            api_base_url=fake.base_url, fake_api=fake,
        )
        result = sim.call([Press("3"), Press("1"), Press("02"), Talk(seconds), Press("3"), Silence()])
        assert result.ended_by == "hangup-verb", result.said()
        [sid] = result.recordings
        fake.add_recording(sid, speech, call_sid=result.call_sid, duration_s=seconds)  # what the caller said

        worker_settings = settings.model_copy(update={
            "twilio_api_base": fake.base_url, "transcriber": "faster-whisper", "transcribe_timeout_s": 180,
            "download_backoff_s": 0.05, "download_budget_s": 20.0,
        })
        deps = WorkerDeps.from_settings(worker_settings)
        set_worker_deps(deps)
        try:
            # Intake opens the case; the transcript is made on its own queue, after it.
            queues = [Queue(name, connection=deps.redis) for name in (settings.queue_name,
                                                                     settings.transcribe_queue_name)]
            SimpleWorker(queues, connection=deps.redis).work(burst=True)
        finally:
            set_worker_deps(None)
            deps.close()
        assert fake.requests_matching("DELETE", f"/Recordings/{sid}.json")  # our copy is safe, Twilio's gone
    with app.extensions["ivr"].sessions() as session:
        case = session.scalars(select(Case)).one()
        transcript = session.scalars(select(Transcript)).one()
        assert transcript.status == "done" and transcript.segments, transcript.error
        assert (case.region_code, case.is_anonymous, case.transcript_status) == ("02", True, "done")
        return case.id


def test_operator_works_a_real_report_and_the_supervisor_audits_it(
    browser: Any, live_server: Any, artifacts: Path
) -> None:
    app, base = live_server(transcriber="faster-whisper")
    console = Console(app)
    console.add_user("aigerim", regions=["02"], display_name="Айгерим Садыкова")
    console.add_user("bolat", regions=["13"], display_name="Болат Ахметов")
    console.add_user("dana", role="supervisor", display_name="Дана Нурланова")
    case_id = _report_through_the_voice_path(app, base)
    reference = console.case(case_id).reference
    audio_responses: list[tuple[int, str]] = []

    context = browser.new_context(locale="ru-RU", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.on("response", lambda r: audio_responses.append((r.status, r.url)) if "/audio" in r.url else None)

    # The operator of Almaty signs in and finds the report in the queue.
    _sign_in(page, base, "aigerim")
    row = page.locator(f"tr[data-case='{case_id}']")
    row.wait_for()
    assert reference in row.inner_text()
    assert "Анонимно" in row.inner_text() and "Алматы" in row.inner_text() and "Готова" in row.inner_text()
    assert page.locator("[data-testid=waiting-total]").inner_text() == "1"
    page.screenshot(path=str(artifacts / "queue.png"), full_page=True)

    # The case: the disguised recording plays and seeks; the transcript's segments seek it.
    row.locator("a.ref").click()
    page.wait_for_url(f"**/operator/cases/{case_id}")
    audio = page.locator("audio#player-" + str(_intake_id(app, case_id)))
    assert audio.get_attribute("data-version") == "disguised"
    assert audio.get_attribute("preload") == "none"  # opening the case fetches no audio: playing does
    audio.evaluate("a => a.play()")
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 0", arg=audio.element_handle(), timeout=15000)
    duration = audio.evaluate("a => a.duration")
    assert duration == pytest.approx(wav_seconds(espeak_wav(SPEECH)), abs=1.5)
    page.wait_for_function("a => !a.paused && a.currentTime > 0.2", arg=audio.element_handle(), timeout=15000)
    segments = page.locator("button.segment")
    assert segments.count() >= 1
    target = segments.last
    start = float(target.get_attribute("data-start") or 0)
    audio.evaluate("a => a.pause()")
    audio.evaluate("(a, t) => { a.currentTime = t; }", max(duration - 0.5, 0.1))  # a plain seek near the end
    page.wait_for_function("a => !a.seeking && a.currentTime > a.duration - 1", arg=audio.element_handle())
    target.click()  # and a seek by clicking the transcript
    page.wait_for_function(
        "([a, t]) => !a.seeking && Math.abs(a.currentTime - t) < 0.6", arg=[audio.element_handle(), start]
    )
    assert any(status == 206 for status, _ in audio_responses), audio_responses  # Range requests served

    # Status and a note.
    page.select_option("#status-select", "in_review")
    page.click(".status-form button[type=submit]")
    page.wait_for_selector(".flash.ok")
    page.fill("#note-text", "Проверить справки поликлиники за октябрь.")
    page.click("form[action$='/notes'] button[type=submit]")
    page.wait_for_selector(".notes li")
    assert "Проверить справки" in page.locator(".notes").inner_text()
    assert "На рассмотрении" in page.locator("h1").inner_text()
    page.screenshot(path=str(artifacts / "case.png"), full_page=True)

    # The same console in Kazakh.
    page.click("form.locale button[value=kk]")
    page.wait_for_selector("html[lang=kk]")
    assert "Қаралуда" in page.locator("h1").inner_text()
    page.screenshot(path=str(artifacts / "case-kk.png"), full_page=True)
    page.goto(f"{base}/operator/")
    assert "Өтініштер кезегі" in page.locator("h1").inner_text()
    page.screenshot(path=str(artifacts / "queue-kk.png"), full_page=True)
    context.close()

    # The supervisor sees the audit trail of the case: the listen, the status change, the note.
    context = browser.new_context(locale="ru-RU", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _sign_in(page, base, "dana")
    page.goto(f"{base}/operator/cases/{case_id}")
    audit = page.locator("#audit").inner_text()
    for entry in ("Прослушивание записи", "Изменён статус", "Добавлена заметка", "Айгерим Садыкова",
                  "Обращение открыто", "Запись сохранена"):
        assert entry in audit, audit
    page.locator("#audit").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "case-supervisor.png"), full_page=True)
    page.goto(f"{base}/operator/overview")
    assert page.locator("svg.chart").count() >= 2
    page.screenshot(path=str(artifacts / "overview.png"), full_page=True)
    context.close()

    # An operator of another region cannot open it, nor see it in the queue.
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    _sign_in(page, base, "bolat")
    assert page.locator(f"tr[data-case='{case_id}']").count() == 0
    response = page.goto(f"{base}/operator/cases/{case_id}")
    assert response is not None and response.status == 404
    response = page.goto(f"{base}/operator/recordings/{_intake_id(app, case_id)}/audio")
    assert response is not None and response.status == 404
    context.close()


def _intake_id(app: Any, case_id: int) -> int:
    from ivr.models import Intake

    with app.extensions["ivr"].sessions() as session:
        case = session.get_one(Case, case_id)
        return session.scalars(select(Intake.id).where(Intake.call_id == case.call_id)).one()
