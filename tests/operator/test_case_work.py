"""Working a case in the console: claim, assign, status with reasons, category, notes, the contact,
the message for the caller; each change audited with actor "operator:<id>" (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from sqlalchemy import select

from ivr.models import CaseDetail, CaseNote, ThreadMessage
from tests.operator.console import Console, post_form


def test_case_page_shows_transcript_segments_and_followups_in_order(console: Console, make_client) -> None:
    console.add_user("aigerim")
    ref = console.add_case(followups=2)
    body = make_client("aigerim").get(f"/operator/cases/{ref.id}").get_data(as_text=True)
    assert body.index("Сообщение") < body.index("Дополнение 1") < body.index("Дополнение 2")
    assert [f"player-{i}" for i in ref.intake_ids] == re.findall(r'<audio id="(player-\d+)"', body)
    starts = re.findall(rf'class="segment" data-player="player-{ref.intake_id}" data-start="([\d.]+)"', body)
    assert starts == ["0.0", "1.2", "2.4"]
    assert "В акимате требовали деньги за справку." in body
    assert "Голос изменён для защиты заявителя" in body


def test_anonymous_case_never_shows_a_number(console: Console, make_client) -> None:
    console.add_user("dana", role="supervisor")
    ref = console.add_case(is_anonymous=True, contact="77012345678")
    client = make_client("dana")
    body = client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)
    assert "7012345678" not in body and "Показать контакт" not in body
    assert post_form(client, f"/operator/cases/{ref.id}/contact").status_code == 404
    assert not console.audit(action="contact.viewed")


def test_named_contact_is_decrypted_only_on_request_and_audited(console: Console, make_client) -> None:
    user_id = console.add_user("aigerim")
    ref = console.add_case(is_anonymous=False, contact="77012345678")
    client = make_client("aigerim")
    page = client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)
    assert "77012345678" not in page and "Показать контакт" in page
    shown = post_form(client, f"/operator/cases/{ref.id}/contact", page=f"/operator/cases/{ref.id}")
    assert shown.status_code == 200 and "77012345678" in shown.get_data(as_text=True)
    [event] = console.audit(action="contact.viewed")
    assert event.actor == f"operator:{user_id}" and event.call_id == ref.call_id
    assert event.detail == {"case_id": ref.id}
    assert "77012345678" not in client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)


def test_claim_then_statuses_to_closed_with_a_reason(console: Console, make_client) -> None:
    user_id = console.add_user("aigerim")
    ref = console.add_case()
    client = make_client("aigerim")
    assert post_form(client, f"/operator/cases/{ref.id}/claim").status_code == 302
    case = console.case(ref.id)
    assert (case.assignee_id, case.status) == (user_id, "in_review")
    post_form(client, f"/operator/cases/{ref.id}/status", {"status": "forwarded", "recipient": "agency-02"})
    refused = post_form(client, f"/operator/cases/{ref.id}/status", {"status": "closed"})
    assert refused.status_code == 302 and console.case(ref.id).status == "forwarded"  # no reason given
    assert "Укажите причину закрытия" in client.get(refused.headers["Location"]).get_data(as_text=True)
    post_form(client, f"/operator/cases/{ref.id}/status", {"status": "closed", "reason": "inquiry_done"})
    assert console.case(ref.id).status == "closed"
    post_form(client, f"/operator/cases/{ref.id}/status", {"status": "in_review"})  # operators cannot reopen
    assert console.case(ref.id).status == "closed"
    changes = [(e.detail["status_from"], e.detail["status_to"], e.detail.get("reason"))
               for e in console.audit(action="case.status_changed")]
    assert changes == [("in_review", "forwarded", None), ("forwarded", "closed", "inquiry_done")]
    assert all(e.actor == f"operator:{user_id}" for e in console.audit(action="case.status_changed"))
    with console.svc.sessions() as session:
        detail = session.get_one(CaseDetail, ref.id)
        assert detail.status_reason == "inquiry_done" and detail.first_handled_at is not None
    assert [e.action for e in console.audit(action="case.claimed")] == ["case.claimed"]


def test_new_case_cannot_jump_to_forwarded(console: Console, make_client) -> None:
    console.add_user("aigerim")
    ref = console.add_case()
    post_form(make_client("aigerim"), f"/operator/cases/{ref.id}/status",
              {"status": "forwarded", "recipient": "agency-02"})
    assert console.case(ref.id).status == "new" and not console.audit(action="case.status_changed")


def test_operator_cannot_take_a_case_someone_else_holds(console: Console, make_client) -> None:
    first = console.add_user("aigerim")
    console.add_user("aliya")
    ref = console.add_case()
    post_form(make_client("aigerim"), f"/operator/cases/{ref.id}/claim")
    response = post_form(make_client("aliya"), f"/operator/cases/{ref.id}/claim")
    assert response.status_code == 403 and console.case(ref.id).assignee_id == first


def test_supervisor_assigns_only_to_people_who_may_see_the_case(console: Console, make_client) -> None:
    console.add_user("dana", role="supervisor")
    almaty = console.add_user("aigerim", regions=["02"])
    karaganda = console.add_user("bolat", regions=["13"])
    ref = console.add_case(region="02")
    client = make_client("dana")
    page = client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)
    assert f'<option value="{almaty}"' in page and f'<option value="{karaganda}"' not in page
    post_form(client, f"/operator/cases/{ref.id}/assign", {"assignee": str(karaganda)})
    assert console.case(ref.id).assignee_id is None
    post_form(client, f"/operator/cases/{ref.id}/assign", {"assignee": str(almaty)})
    assert console.case(ref.id).assignee_id == almaty
    [event] = console.audit(action="case.assigned")
    assert event.detail["assignee_id"] == almaty and event.detail["previous_assignee_id"] is None


def test_supervisor_routes_a_case_without_region(console: Console, make_client) -> None:
    console.add_user("dana", role="supervisor")
    ref = console.add_case(region=None)
    post_form(make_client("dana"), f"/operator/cases/{ref.id}/region", {"region": "05"})
    assert console.case(ref.id).region_code == "05"
    assert console.audit(action="case.region_changed")[0].detail["region_to"] == "05"


def test_category_notes_and_message_for_the_caller(console: Console, make_client) -> None:
    user_id = console.add_user("aigerim")
    ref = console.add_case()
    client = make_client("aigerim")
    post_form(client, f"/operator/cases/{ref.id}/category", {"category": "extortion"})
    post_form(client, f"/operator/cases/{ref.id}/category", {"category": "no-such"})
    assert console.case(ref.id).category == "extortion"
    post_form(client, f"/operator/cases/{ref.id}/notes", {"text": "Позвонить в акимат."})
    post_form(client, f"/operator/cases/{ref.id}/notes", {"text": "   "})
    post_form(client, f"/operator/cases/{ref.id}/reporter-message", {"text": "Ваше обращение передано на проверку."})
    with console.svc.sessions() as session:
        notes = list(session.scalars(select(CaseNote)))
        # The message for the caller joins the case's thread with the reporter (issue 13).
        messages = list(session.scalars(select(ThreadMessage)))
    assert [(n.text, n.operator_id) for n in notes] == [("Позвонить в акимат.", user_id)]
    assert [(m.text, m.operator_id) for m in messages] == [("Ваше обращение передано на проверку.", user_id)]
    page = client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)
    assert "Позвонить в акимат." in page and "Вымогательство взятки" in page
    actions = [e.action for e in console.audit(actor=f"operator:{user_id}")]
    for action in ("case.category_changed", "case.note_added", "thread.message_sent", "case.viewed"):
        assert action in actions
    assert "Позвонить" not in repr([e.detail for e in console.audit()])  # notes stay out of the audit detail


def test_forms_without_a_csrf_token_are_refused(console: Console, make_client) -> None:
    console.add_user("aigerim")
    ref = console.add_case()
    client = make_client("aigerim")
    for path in (f"/operator/cases/{ref.id}/claim", f"/operator/cases/{ref.id}/notes", "/operator/logout"):
        assert client.post(path, data={"text": "x"}).status_code == 400, path
        assert client.post(path, data={"text": "x", "csrf_token": "forged"}).status_code == 400, path
    assert console.case(ref.id).assignee_id is None


def test_supervisor_reads_the_audit_per_case_and_per_user(console: Console, make_client) -> None:
    user_id = console.add_user("aigerim", display_name="Айгерим")
    console.add_user("dana", role="supervisor")
    ref = console.add_case()
    post_form(make_client("aigerim"), f"/operator/cases/{ref.id}/claim")
    client = make_client("dana")
    per_case = client.get(f"/operator/cases/{ref.id}/audit").get_data(as_text=True)
    assert "Взято в работу" in per_case and "Айгерим" in per_case and "Обращение открыто" in per_case
    per_user = client.get(f"/operator/audit/users/{user_id}").get_data(as_text=True)
    assert "Вход в систему" in per_user and "Взято в работу" in per_user
    assert "Вход в систему" in client.get("/operator/audit").get_data(as_text=True)
