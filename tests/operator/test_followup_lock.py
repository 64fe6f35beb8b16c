"""Operators see a reference locked by wrong PINs on the case page and can unlock it."""

from __future__ import annotations

from datetime import timedelta

from ivr.db import utc_now
from ivr.models import Call
from tests.operator.console import Console, post_form


def lock(console: Console, call_id: int) -> None:
    with console.svc.sessions.begin() as session:
        session.get_one(Call, call_id).locked_until = utc_now() + timedelta(minutes=30)


def test_locked_reference_is_shown_and_can_be_unlocked(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"])
    ref = console.add_case(region="02")
    lock(console, ref.call_id)
    client = make_client("aigerim")
    assert "unlock-reference" in client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)
    response = post_form(client, f"/operator/cases/{ref.id}/unlock-reference", page=f"/operator/cases/{ref.id}")
    assert response.status_code == 302
    with console.svc.sessions() as session:
        assert session.get_one(Call, ref.call_id).locked_until is None
    assert console.audit(action="followup.unlocked")
    assert "unlock-reference" not in client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)


def test_operator_of_another_region_cannot_unlock(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"])
    console.add_user("bolat", regions=["07"])
    ref = console.add_case(region="02")
    lock(console, ref.call_id)
    client = make_client("bolat")
    response = post_form(client, f"/operator/cases/{ref.id}/unlock-reference")
    assert response.status_code in (403, 404)
    with console.svc.sessions() as session:
        assert session.get_one(Call, ref.call_id).locked_until is not None
