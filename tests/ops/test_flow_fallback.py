"""A bad flow edit never becomes an outage at the next restart (issue 18).

A process that starts while the flow file is invalid serves the last good version stored in the
database, says so loudly, and /readyz reports it; with nothing stored it still refuses to start.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from xml.etree import ElementTree as etree

import pytest

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, ROOT
from tests.support.twilio_sim import FlaskTransport, TwilioSimulator, new_sid


def _call(app) -> bytes:  # type: ignore[no-untyped-def]
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN,
                          public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)
    status, body = sim.post("/voice/incoming", sim.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None))
    assert status == 200
    return body


def test_restart_with_a_bad_flow_serves_the_last_good_version(make_settings, database_url, tmp_path: Path,
                                                              caplog) -> None:
    from ivr.app import create_app

    flow = tmp_path / "flow.yaml"
    shutil.copy(ROOT / "config" / "flow.yaml", flow)
    settings = make_settings(database_url=database_url, flow_path=flow)
    first = create_app(settings)
    good_version = first.extensions["ivr"].flows.current.version
    first.extensions["ivr"].close()

    flow.write_text(flow.read_text().replace("nodes:", "nodez:", 1))  # an edit that breaks the file
    caplog.set_level(logging.INFO)
    restarted = create_app(settings)  # a gunicorn worker restarting, or a new host
    try:
        assert restarted.extensions["ivr"].flows.current.version == good_version
        assert etree.fromstring(_call(restarted)).tag == "Response"  # calls are answered
        loud = [r for r in caplog.records if r.levelno >= logging.ERROR and "flow.invalid_at_start" in r.getMessage()]
        assert loud and good_version in loud[0].getMessage()
        body = restarted.test_client().get("/readyz").get_json()
        assert body["status"] == "degraded" and body["flow_version"] == good_version
        assert "invalid" in body["checks"]["flow"] and good_version in body["checks"]["flow"]

        flow.write_text((ROOT / "config" / "flow.yaml").read_text())  # fixed: served again as usual
        restarted.extensions["ivr"].flows.reload_if_changed()
        assert restarted.test_client().get("/readyz").get_json()["checks"]["flow"] == "ok"
    finally:
        restarted.extensions["ivr"].close()


def test_a_bad_flow_with_nothing_stored_still_refuses_to_start(make_settings, sqlite_url, tmp_path: Path) -> None:
    from ivr.app import create_app
    from ivr.flow.problems import FlowError

    flow = tmp_path / "flow.yaml"
    flow.write_text((ROOT / "config" / "flow.yaml").read_text().replace("nodes:", "nodez:", 1))
    with pytest.raises(FlowError):
        create_app(make_settings(database_url=sqlite_url, flow_path=flow))
