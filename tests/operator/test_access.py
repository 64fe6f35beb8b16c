"""Every console route, as every role, against a case of another region: 403 or 404, never the case.

Rules are enforced on each request (list, detail, audio, actions), not only hidden in menus.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.operator.console import Console, csrf_token, sign_in

# (method, path, data): {case}, {intake} are the other region's case and its recording.
CASE_ROUTES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/operator/cases/{case}", {}),
    ("GET", "/operator/cases/{case}/audit", {}),
    ("GET", "/operator/recordings/{intake}/audio", {}),
    ("GET", "/operator/recordings/{intake}/audio?v=original", {}),
    ("POST", "/operator/cases/{case}/claim", {}),
    ("POST", "/operator/cases/{case}/assign", {"assignee": ""}),
    ("POST", "/operator/cases/{case}/status", {"status": "in_review"}),
    ("POST", "/operator/cases/{case}/category", {"category": "bribery"}),
    ("POST", "/operator/cases/{case}/region", {"region": "02"}),
    ("POST", "/operator/cases/{case}/notes", {"text": "x"}),
    ("POST", "/operator/cases/{case}/reporter-message", {"text": "x"}),
    ("POST", "/operator/cases/{case}/contact", {}),
    ("POST", "/operator/recordings/{intake}/original", {}),
]


@pytest.fixture
def world(console: Console) -> dict[str, Any]:
    """Almaty and Karaganda operators, a supervisor, an admin; a named case in Karaganda."""
    console.add_user("almaty", regions=["02"])
    console.add_user("karaganda", regions=["13"])
    console.add_user("dana", role="supervisor")
    console.add_user("root", role="admin")
    case = console.add_case(region="13", is_anonymous=False, contact="77011112233")
    anonymous = console.add_case(region="13")
    return {"case": case, "anonymous": anonymous}


def _request(client: Any, method: str, path: str, data: dict[str, str]) -> Any:
    if method == "GET":
        return client.get(path)
    return client.post(path, data={**data, "csrf_token": _token(client)})


def _token(client: Any) -> str:
    # Any console page carries the session's CSRF token; the login page does for everyone.
    for page in ("/operator/", "/admin/users", "/operator/login"):
        response = client.get(page)
        if response.status_code == 200:
            return csrf_token(client, page)
    raise AssertionError("no page with a CSRF token")


@pytest.mark.parametrize("username", ["almaty", "root"])
def test_every_case_route_refuses_a_person_outside_the_case(app, console: Console, world, username: str) -> None:
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    before = len(console.audit())
    for ref in (world["case"], world["anonymous"]):
        for method, template, data in CASE_ROUTES:
            path = template.format(case=ref.id, intake=ref.intake_id)
            response = _request(client, method, path, data)
            assert response.status_code in (403, 404), f"{username} {method} {path}: {response.status_code}"
            body = response.get_data(as_text=True)
            assert ref.audio[0] not in response.get_data() and "77011112233" not in body
            assert "В акимате требовали" not in body  # the transcript
    case = console.case(world["case"].id)
    assert (case.status, case.assignee_id, case.category, case.region_code) == ("new", None, None, "13")
    people = [e for e in console.audit()[before:] if e.actor.startswith("operator:")]
    assert {e.action for e in people} <= {"operator.signed_in"}  # nothing was read or changed


def test_operator_of_another_region_sees_nothing_of_it_in_lists(app, console: Console, world) -> None:
    client = app.test_client()
    sign_in(client, "almaty")
    for path in ("/operator/", "/operator/queue/live", "/operator/?status=&region=13"):
        body = client.get(path).get_data(as_text=True)
        assert world["case"].id not in _case_ids(body)
        assert console.case(world["case"].id).reference not in body


def _case_ids(body: str) -> set[int]:
    import re

    return {int(found) for found in re.findall(r'data-case="(\d+)"', body)}


def test_people_of_the_region_and_supervisors_get_the_case(app, console: Console, world) -> None:
    for username in ("karaganda", "dana"):
        client = app.test_client()
        sign_in(client, username)
        assert world["case"].id in _case_ids(client.get("/operator/").get_data(as_text=True))
        assert client.get(f"/operator/cases/{world['case'].id}").status_code == 200
        assert client.get(f"/operator/recordings/{world['case'].intake_id}/audio").status_code == 200


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/operator/", {"karaganda", "dana"}),
        ("/operator/overview", {"dana"}),
        ("/operator/audit", {"dana"}),
        ("/admin/users", {"root"}),
        ("/admin/system", {"root"}),
    ],
)
def test_pages_by_role(app, console: Console, world, path: str, allowed: set[str]) -> None:
    for username in ("karaganda", "dana", "root"):
        client = app.test_client()
        sign_in(client, username)
        expected = 200 if username in allowed else 403
        assert client.get(path).status_code == expected, (username, path)


def test_signed_out_visitors_are_sent_to_sign_in(app, world) -> None:
    client = app.test_client()
    ref = world["case"]
    for path in ("/operator/", f"/operator/cases/{ref.id}", f"/operator/recordings/{ref.intake_id}/audio",
                 "/operator/overview", "/admin/users"):
        response = client.get(path)
        assert response.status_code == 302 and "/operator/login" in response.headers["Location"], path


def test_operator_cannot_assign_or_hear_originals_even_in_their_region(app, console: Console, world) -> None:
    client = app.test_client()
    sign_in(client, "karaganda")
    ref = world["anonymous"]
    token = _token(client)
    for path, data in ((f"/operator/cases/{ref.id}/assign", {"assignee": ""}),
                       (f"/operator/recordings/{ref.intake_id}/original", {}),
                       (f"/operator/cases/{ref.id}/region", {"region": "02"})):
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    assert client.get(f"/operator/recordings/{ref.intake_id}/audio?v=original").status_code == 403


# ---------------------------------------------------------------- the duty queue (issue 12.1)
# A regional operator may open, besides their regions' cases: every open urgent case (any region)
# and every case without a region - the duty queue every operator on duty sees - and a case they
# took from it, after it left the queue. A closed urgent case of another region is hidden again.


def _duty_world(console: Console) -> dict[str, Any]:
    console.add_user("almaty", regions=["02"])
    console.add_user("karaganda", regions=["13"])
    console.add_user("dana", role="supervisor")
    return {
        "urgent_elsewhere": console.add_case(region="13", is_urgent=True),
        "urgent_no_region": console.add_case(region=None, is_urgent=True),
        "no_region": console.add_case(region=None),
        "ordinary_elsewhere": console.add_case(region="13"),
    }


def test_a_regional_operator_sees_and_opens_the_duty_queue(app, console: Console) -> None:
    cases = _duty_world(console)
    client = app.test_client()
    sign_in(client, "almaty")
    listed = _case_ids(client.get("/operator/").get_data(as_text=True))
    for name in ("urgent_elsewhere", "urgent_no_region", "no_region"):
        ref = cases[name]
        assert ref.id in listed, name
        assert client.get(f"/operator/cases/{ref.id}").status_code == 200, name
        assert client.get(f"/operator/recordings/{ref.intake_id}/audio").status_code == 200, name
    assert cases["ordinary_elsewhere"].id not in listed
    # The waiting counts name the duty queue's regions too: one urgent report in Karaganda, two without a region.
    live = client.get("/operator/queue/live").get_data(as_text=True)
    assert 'data-testid="waiting-total">3<' in live
    assert "region=13" in live and "region=none" in live
    assert client.get("/operator/?region=13").status_code == 200
    assert _case_ids(client.get("/operator/?region=13").get_data(as_text=True)) == {cases["urgent_elsewhere"].id}
    assert client.get(f"/operator/cases/{cases['ordinary_elsewhere'].id}").status_code == 404
    # The disguised voice only: the duty queue gives no more than their own region's cases do.
    ref = cases["urgent_no_region"]
    assert client.get(f"/operator/recordings/{ref.intake_id}/audio?v=original").status_code == 403


def test_a_closed_urgent_case_goes_back_to_its_region_but_its_taker_keeps_it(app, console: Console) -> None:
    cases = _duty_world(console)
    ref = cases["urgent_elsewhere"]
    almaty, karaganda = app.test_client(), app.test_client()
    sign_in(almaty, "almaty")
    sign_in(karaganda, "karaganda")
    token = _token(almaty)
    assert almaty.post(f"/operator/cases/{ref.id}/claim", data={"csrf_token": token}).status_code == 302
    closed = almaty.post(f"/operator/cases/{ref.id}/status",
                         data={"status": "closed", "reason": "referred", "csrf_token": token})
    assert closed.status_code == 302 and console.case(ref.id).status == "closed"
    assert almaty.get(f"/operator/cases/{ref.id}").status_code == 200  # theirs: they took it
    assert karaganda.get(f"/operator/cases/{ref.id}").status_code == 200  # its region
    sign_in(other := app.test_client(), "dana")
    assert other.get(f"/operator/cases/{ref.id}").status_code == 200
    console.add_user("astana", regions=["01"])
    sign_in(stranger := app.test_client(), "astana")
    assert stranger.get(f"/operator/cases/{ref.id}").status_code == 404  # closed urgent, another region


def test_the_api_applies_the_same_duty_rule(app, console: Console) -> None:
    cases = _duty_world(console)
    token = console.token_for("almaty")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    for name, expected in (("urgent_elsewhere", 200), ("no_region", 200), ("ordinary_elsewhere", 404)):
        assert client.get(f"/api/cases/{cases[name].id}", headers=headers).status_code == expected, name


def test_the_urgent_list_for_background_tabs_keeps_to_the_same_rule(app, console: Console) -> None:
    cases = _duty_world(console)
    console.add_user("root", role="admin")
    almaty = app.test_client()
    sign_in(almaty, "almaty")
    listed = almaty.get("/operator/queue/urgent").get_json()
    expected = sorted([cases["urgent_elsewhere"].id, cases["urgent_no_region"].id])
    assert listed["count"] == 2 and sorted(c["id"] for c in listed["cases"]) == expected
    admin = app.test_client()
    sign_in(admin, "root")
    assert admin.get("/operator/queue/urgent").status_code == 403
    assert app.test_client().get("/operator/queue/urgent").status_code in (302, 401)
