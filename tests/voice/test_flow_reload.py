"""A changed flow file is picked up without a restart; a bad edit never takes the line down."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, ROOT
from tests.support.twilio_sim import FlaskTransport, Press, Talk, TwilioSimulator


def make(tmp_path: Path, make_settings, database_url):  # type: ignore[no-untyped-def]
    from ivr.app import create_app

    flow = tmp_path / "flow.yaml"
    shutil.copy(ROOT / "config" / "flow.yaml", flow)
    app = create_app(make_settings(database_url=database_url, flow_path=flow, flow_check_interval_s=0))
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN,
                          public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)
    return app, sim, flow


def edit(flow: Path, old: str, new: str) -> None:
    text = flow.read_text(encoding="utf-8")
    assert old in text
    flow.write_text(text.replace(old, new), encoding="utf-8")
    stat = flow.stat()
    os.utime(flow, (stat.st_atime, stat.st_mtime + 5))  # a visibly newer file, even within one second


def test_valid_edit_is_served_to_new_calls(tmp_path, make_settings, database_url) -> None:
    app, sim, flow = make(tmp_path, make_settings, database_url)
    edit(flow, "Русский язык — 2.", "Русский язык — пожалуйста, 2.")
    result = sim.call([Press("2")])
    assert "Русский язык — пожалуйста, 2." in result.said()
    app.extensions["ivr"].close()


def test_invalid_edit_keeps_the_old_flow_and_reports_file_and_line(tmp_path, make_settings, database_url) -> None:
    app, sim, flow = make(tmp_path, make_settings, database_url)
    edit(flow, "goto: anonymity}", "goto: anonimity}")
    result = sim.call([Press("2"), Press("1")])
    assert "Русский язык — 2." in result.said()  # still the old flow
    error = app.extensions["ivr"].flows.last_error
    assert error is not None and "anonimity" in str(error) and f"{flow}:" in str(error)
    ready = app.test_client().get("/readyz").get_json()
    assert ready["status"] == "degraded" and ready["checks"]["flow"] != "ok"
    app.extensions["ivr"].close()


def test_call_in_progress_finishes_on_the_version_it_started_with(tmp_path, make_settings, database_url) -> None:
    app, sim, flow = make(tmp_path, make_settings, database_url)
    started = app.extensions["ivr"].flows.current.version

    result = sim.call([Press("2")])
    step_url = next(url for url, *_ in reversed(result.requests) if "/voice/step" in url)
    text = flow.read_text(encoding="utf-8")
    edit(flow, text, text.replace("Сообщить анонимно — 1.", "Анонимное сообщение — 1.")
         .replace("Русский язык — 2.", "Русский язык — пожалуйста, 2."))
    assert app.extensions["ivr"].flows.current.version != started
    # Post again to the old call's language menu with a key it does not know: the menu is asked
    # again, and must be the wording of the version the call started on, not the edited one.
    form = sim.voice_form(result.call_sid, "+77012345678", "+77172141424", None)
    form["Digits"] = "7"
    status, body = sim.post(step_url.split("&e=")[0], form)
    assert status == 200
    assert "Русский язык — 2." in body
    assert "пожалуйста, 2." not in body
    fresh = sim.call([Press("2")])
    assert any("Анонимное сообщение — 1." in s for s in fresh.said())
    app.extensions["ivr"].close()


def test_restarted_process_finishes_old_calls_from_the_archived_version(tmp_path, make_settings,
                                                                         database_url) -> None:
    from ivr.app import create_app

    app, _sim, flow = make(tmp_path, make_settings, database_url)
    old_version = app.extensions["ivr"].flows.current.version
    edit(flow, "Сообщить анонимно — 1.", "Анонимное сообщение — 1.")
    app.extensions["ivr"].close()
    # A new process (new registry) only knows the new file; the old version comes from the database.
    restarted = create_app(make_settings(database_url=database_url, flow_path=flow))
    registry = restarted.extensions["ivr"].flows
    assert registry.current.version != old_version
    old = registry.get(old_version)
    assert old.version == old_version
    assert "Сообщить анонимно — 1." in old.message("anonymity_menu", "ru").text
    restarted.extensions["ivr"].close()


def test_talk_is_possible_after_reload(tmp_path, make_settings, database_url) -> None:
    app, sim, flow = make(tmp_path, make_settings, database_url)
    edit(flow, "max_length_s: 300", "max_length_s: 600")
    result = sim.call([Press("2"), Press("1"), Press("02"), Talk(30), Press("3")])
    record = next(e for e in result.events if e[0] == "record")
    assert record[1]["maxLength"] == "600"
    app.extensions["ivr"].close()
