"""The anonymity promise, end to end: after an anonymous report has gone through the webhooks AND
the workers (download, store, transcribe, case, Twilio deletions), the caller's number and name are
nowhere we control: database, Redis (jobs, results, failures), logs, recordings folder, file names."""

from __future__ import annotations

import logging
from pathlib import Path

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.twilio_sim import FlaskTransport, Press, Silence, Speak, Talk, TwilioSimulator
from tests.voice.test_anonymity import FORMS, NAME, NUMBER, everything_in_redis, everything_in_the_database
from tests.workers.test_jobs_support import run_jobs
from workers.deps import WorkerDeps


def test_anonymous_report_leaves_the_number_nowhere_after_the_workers(
    app, fake_api: FakeTwilioApi, deps: WorkerDeps, caplog, capfd, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL,
                          account_sid=ACCOUNT_SID, fake_api=fake_api, api_base_url=fake_api.base_url)
    result = sim.call([Press("2"), Press("1"), Speak("Шымкент"), Talk(6), Press("3"), Silence()],
                      from_=NUMBER, caller_name=NAME)
    dropped = sim.call([Press("2")], from_=NUMBER, caller_name=NAME)  # a second call that hangs up in the menu
    run_jobs(deps.queue, until=lambda: bool(fake_api.requests_matching("DELETE", f"/Calls/{result.call_sid}")))

    from sqlalchemy import select

    from ivr.models import Call
    from workers.twilio_cleanup import forget_call

    with deps.sessions() as session:
        dropped_id = session.scalars(select(Call.id).where(Call.call_sid == dropped.call_sid)).one()
    assert forget_call(dropped_id)

    assert fake_api.requests_matching("DELETE", "/Recordings/")  # Twilio's copy is gone
    assert not fake_api.has_recording(result.recordings[0])
    stores = {
        "database": everything_in_the_database(app),
        "redis": everything_in_redis(app),
        "logs": caplog.text + "".join(capfd.readouterr()),
    }
    files = b"".join(p.name.encode() + p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for form in FORMS:
        for name, text in stores.items():
            assert form not in text, f"{form!r} found in {name}"
        assert form.encode() not in files, f"{form!r} found in a file under {tmp_path}"
