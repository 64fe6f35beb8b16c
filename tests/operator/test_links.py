"""Linked cases (issue 13.5): both ways, audited on both, region rules, the merged view, closing as a duplicate,
and a reporter's follow-up on the closed duplicate reaching the open case (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import update

from ivr.cases import followup
from ivr.cases.opening import open_case
from ivr.intake import record_intake
from ivr.models import Call, CaseDetail, Intake
from tests.operator.console import Console, post_form
from tests.support.twilio_sim import new_sid


def link(client, case_id: int, other: str, kind: str = "related"):  # type: ignore[no-untyped-def]
    return post_form(client, f"/operator/cases/{case_id}/links", {"other": other, "kind": kind},
                     page=f"/operator/cases/{case_id}")


def reference_of(console: Console, case_id: int) -> str:
    reference = console.case(case_id).reference
    assert reference
    return reference


def test_a_link_shows_on_both_cases_and_is_audited_on_both(console: Console, make_client) -> None:
    user_id = console.add_user("aigerim")
    first, second = console.add_case(), console.add_case()
    client = make_client("aigerim")

    link(client, first.id, reference_of(console, second.id))

    for this, that in ((first, second), (second, first)):
        page = client.get(f"/operator/cases/{this.id}").get_data(as_text=True)
        assert f'href="/operator/cases/{that.id}">{reference_of(console, that.id)}</a>' in page
        assert "связано" in page
    events = console.audit(action="case.linked")
    assert {(e.call_id, e.detail["linked_case_id"]) for e in events} == {
        (first.call_id, second.id), (second.call_id, first.id)}
    assert all(e.actor == f"operator:{user_id}" and e.detail["kind"] == "related" for e in events)

    link(client, second.id, reference_of(console, first.id), "duplicate")  # from the other side: one link
    assert len(console.audit(action="case.link_changed")) == 2
    assert "дубликат" in client.get(f"/operator/cases/{first.id}").get_data(as_text=True)

    post_form(client, f"/operator/cases/{first.id}/links/{second.id}/remove")
    assert len(console.audit(action="case.unlinked")) == 2
    assert "Связанных обращений нет." in client.get(f"/operator/cases/{second.id}").get_data(as_text=True)


def test_nobody_links_to_a_case_they_cannot_open(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"])
    console.add_user("dana", role="supervisor")
    mine, elsewhere = console.add_case(region="02"), console.add_case(region="07")
    operator = make_client("aigerim")

    refused = link(operator, mine.id, reference_of(console, elsewhere.id))

    assert "Обращение с таким номером не найдено." in operator.get(refused.headers["Location"]).get_data(as_text=True)
    assert not console.audit(action="case.linked")
    assert link(operator, elsewhere.id, reference_of(console, mine.id)).status_code == 404

    link(make_client("dana"), mine.id, reference_of(console, elsewhere.id))  # a supervisor sees both regions
    page = operator.get(f"/operator/cases/{mine.id}").get_data(as_text=True)
    assert reference_of(console, elsewhere.id) not in page
    assert "Ещё связанных обращений, недоступных вам: 1" in page
    merged = operator.get(f"/operator/cases/{mine.id}/linked").get_data(as_text=True)
    assert merged.count('data-testid="merged-case"') == 1 and reference_of(console, elsewhere.id) not in merged
    assert post_form(operator, f"/operator/cases/{mine.id}/links/{elsewhere.id}/remove").status_code == 302
    assert not console.audit(action="case.unlinked")  # refused: the other case is not theirs to open


def test_the_merged_view_shows_linked_cases_together_and_audits_each(console: Console, make_client) -> None:
    console.add_user("aigerim")
    first, second = console.add_case(), console.add_case(followups=1)
    client = make_client("aigerim")
    post_form(client, f"/operator/cases/{second.id}/notes", {"text": "Тот же акимат, другой заявитель."})
    link(client, first.id, reference_of(console, second.id), "duplicate")

    page = client.get(f"/operator/cases/{first.id}/linked").get_data(as_text=True)

    assert page.count('data-testid="merged-case"') == 2
    assert page.index(reference_of(console, first.id)) < page.index(reference_of(console, second.id))
    assert page.count("В акимате требовали деньги за справку.") == 3  # two reports and a follow-up
    assert "Тот же акимат, другой заявитель." in page and "Дополнение 1" in page
    viewed = [e for e in console.audit(action="case.viewed") if e.detail.get("via") == "linked"]
    assert {e.call_id for e in viewed} == {first.call_id, second.call_id}


def test_closing_as_a_duplicate_points_to_the_other_and_a_later_followup_reaches_it(
    console: Console, make_client
) -> None:
    console.add_user("aigerim")
    duplicate, original = console.add_case(), console.add_case()
    client = make_client("aigerim")
    post_form(client, f"/operator/cases/{duplicate.id}/claim")
    refused = post_form(client, f"/operator/cases/{duplicate.id}/status", {"status": "closed", "reason": "duplicate"})
    assert console.case(duplicate.id).status == "in_review"
    assert "Укажите, дубликатом какого обращения" in client.get(refused.headers["Location"]).get_data(as_text=True)

    post_form(client, f"/operator/cases/{duplicate.id}/status",
              {"status": "closed", "reason": "duplicate", "duplicate_of": str(original.id)})

    assert console.case(duplicate.id).status == "closed"
    with console.svc.sessions() as session:
        assert session.get_one(CaseDetail, duplicate.id).duplicate_of_case_id == original.id
    page = client.get(f"/operator/cases/{duplicate.id}").get_data(as_text=True)
    assert "Закрыто как дубликат обращения" in page and f'href="/operator/cases/{original.id}"' in page
    assert "дубликат" in client.get(f"/operator/cases/{original.id}").get_data(as_text=True)  # linked both ways
    refused = post_form(client, f"/operator/cases/{duplicate.id}/links/{original.id}/remove")
    assert "Сначала откройте снова" in client.get(refused.headers["Location"]).get_data(as_text=True)

    # The reporter of the closed duplicate calls back and leaves more: the open case hears of it.
    pin = "482913"
    with console.svc.sessions.begin() as session:
        session.execute(update(Call).where(Call.id == duplicate.call_id).values(pin_hash=console.svc.pins.hash(pin)))
        session.execute(update(Call).where(Call.id == original.call_id).values(status="completed"))
    heard = followup.verify_reference(console.svc.sessions, console.svc.pins, reference_of(console, duplicate.id),
                                      pin, limits=followup.GuessLimits())
    assert heard.outcome == "ok" and heard.case_status == "new"  # the open case's status, not "closed"
    with console.svc.sessions.begin() as session:
        call = session.get_one(Call, duplicate.call_id)
        intake = record_intake(session, call=call, recording_sid=new_sid("RE"), duration_s=4, is_ready=True,
                               kind="followup")
        open_case(session, session.get_one(Intake, intake.id), None)
        open_case(session, session.get_one(Intake, intake.id), None)  # a rerun writes nothing twice
    assert console.case(original.id).has_new_info and console.case(duplicate.id).has_new_info
    [event] = console.audit(action="case.followup_on_duplicate")
    assert event.call_id == original.call_id and event.detail == {"case_id": original.id,
                                                                 "duplicate_case_id": duplicate.id}
