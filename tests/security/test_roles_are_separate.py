"""Issue 10.11: admins run accounts and flows; they never read cases, act as another account or raise their own role.

The attack reproduced: an admin issued an API token acting as a supervisor and listened to an
anonymous caller's original voice, and the audit log named the supervisor; an admin also made
itself a supervisor. Console and API, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ivr import accounts
from ivr.models import ApiToken
from tests.operator.console import Console, post_form

pytestmark = pytest.mark.usefixtures("fast_password_hashes")


@pytest.fixture
def people(console: Console) -> dict[str, int]:
    return {"root": console.add_user("root", role="admin"), "dana": console.add_user("dana", role="supervisor"),
            "aigerim": console.add_user("aigerim")}


def test_admin_cannot_issue_a_token_acting_as_another_account(console: Console, make_client, people) -> None:
    client = make_client("root")
    page = f"/admin/users/{people['dana']}"
    response = post_form(client, f"{page}/tokens", {"name": "registry"}, page=page)
    assert response.status_code == 403
    assert "ivr_" not in response.get_data(as_text=True)
    with console.svc.sessions() as session:
        assert list(session.scalars(select(ApiToken).where(ApiToken.operator_id == people["dana"]))) == []
        with pytest.raises(accounts.AccountError):
            accounts.issue_token(session, accounts.get_operator(session, "dana"), "x",
                                 actor=f"operator:{people['root']}")


def test_admin_reads_no_case_in_the_console_or_the_api(console: Console, make_client, people) -> None:
    case = console.add_case(is_anonymous=True)
    named = console.add_case(is_anonymous=False, contact="+77011234567")
    client = make_client("root")
    for path in (f"/operator/cases/{case.id}", f"/operator/recordings/{case.intake_id}/audio",
                 f"/operator/recordings/{case.intake_id}/audio?version=original", f"/operator/cases/{case.id}/audit"):
        assert client.get(path).status_code == 403, path
    assert post_form(client, f"/operator/cases/{named.id}/contact", page="/admin/users").status_code == 403
    assert post_form(client, f"/operator/recordings/{case.intake_id}/original",
                     page="/admin/users").status_code == 403
    # The admin's own token (the only one it may have) opens nothing either.
    own = post_form(client, f"/admin/users/{people['root']}/tokens", {"name": "mine"},
                    page=f"/admin/users/{people['root']}")
    token = next(word for word in own.get_data(as_text=True).replace("<", " ").replace(">", " ").split()
                 if word.startswith("ivr_"))
    api = console.app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/api/cases", f"/api/cases/{case.id}", f"/api/recordings/{case.intake_id}/audio?version=original"):
        assert api.get(path, headers=headers).status_code == 403, path
    assert api.post(f"/api/cases/{named.id}/contact", headers=headers).status_code == 403


def test_nobody_changes_their_own_role(console: Console, make_client, people) -> None:
    client = make_client("root")
    page = f"/admin/users/{people['root']}"
    post_form(client, page, {"display_name": "root", "role": "supervisor", "locale": "ru"}, page=page)
    with console.svc.sessions() as session:
        assert accounts.get_operator(session, "root").role == "admin"
    assert client.get("/operator/").status_code == 403  # still no case queue for it
    with console.svc.sessions.begin() as session, pytest.raises(accounts.AccountError):
        accounts.update_operator(session, accounts.get_operator(session, "root"), role="supervisor",
                                 actor=f"operator:{people['root']}")


def test_every_account_change_is_audited_with_the_real_actor(console: Console, make_client, people) -> None:
    client = make_client("root")
    page = f"/admin/users/{people['aigerim']}"
    before = len(console.audit())
    post_form(client, page, {"display_name": "Айгерим Б.", "role": "operator", "regions": ["02"], "locale": "kk"},
              page=page)
    post_form(client, page, {"display_name": "Айгерим Б.", "role": "operator", "regions": ["02", "07"],
                             "locale": "kk"}, page=page)
    post_form(client, f"{page}/password", {"password": "another long password"}, page=page)
    post_form(client, f"{page}/unlock", page=page)
    post_form(client, f"{page}/disable", page=page)
    events = console.audit()[before:]
    actions = [e.action for e in events if e.action.startswith("operator.")]
    assert actions == ["operator.profile_changed", "operator.access_changed", "operator.password_changed",
                       "operator.unlocked", "operator.disabled"]
    assert {e.actor for e in events if e.action.startswith("operator.")} == {f"operator:{people['root']}"}
    assert all(e.detail.get("operator_id") == people["aigerim"] for e in events if e.action.startswith("operator."))
