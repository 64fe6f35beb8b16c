"""The JSON API: bearer tokens, the console's role and region rules, the same audit trail."""

from __future__ import annotations

from typing import Any

import pytest

from tests.operator.console import Console

CASE_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/cases/{case}", None),
    ("GET", "/api/cases/{case}/audit", None),
    ("GET", "/api/recordings/{intake}/audio", None),
    ("GET", "/api/recordings/{intake}/audio?version=original", None),
    ("POST", "/api/cases/{case}/claim", {}),
    ("POST", "/api/cases/{case}/assign", {"assignee_id": None}),
    ("POST", "/api/cases/{case}/status", {"status": "in_review"}),
    ("POST", "/api/cases/{case}/category", {"category": "bribery"}),
    ("POST", "/api/cases/{case}/notes", {"text": "x"}),
    ("POST", "/api/cases/{case}/reporter-message", {"text": "x"}),
    ("POST", "/api/cases/{case}/contact", {}),
]


class Api:
    """A client that sends one account's bearer token."""

    def __init__(self, client: Any, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(path, json=body if body is not None else {}, headers=self.headers)


@pytest.fixture
def api(app, console: Console):  # type: ignore[no-untyped-def]
    """An Api for a username (tokens issued on the fly)."""
    return lambda username=None: Api(app.test_client(), console.token_for(username) if username else None)


@pytest.fixture
def world(console: Console) -> dict[str, Any]:
    console.add_user("almaty", regions=["02"])
    console.add_user("karaganda", regions=["13"])
    console.add_user("dana", role="supervisor")
    console.add_user("root", role="admin")
    return {"case": console.add_case(region="13", is_anonymous=False, contact="77011112233"),
            "anonymous": console.add_case(region="13")}


def test_requests_without_a_valid_token_get_401(api, world) -> None:  # type: ignore[no-untyped-def]
    anonymous = api()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YTpi"}):
        response = anonymous.client.get("/api/cases", headers=headers)
        assert response.status_code == 401 and response.json["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_session_cookies_do_not_open_the_api(app, world, make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client("dana")
    assert client.get("/operator/").status_code == 200
    assert client.get("/api/cases").status_code == 401


@pytest.mark.parametrize("username", ["almaty", "root"])
def test_every_case_route_refuses_a_token_outside_the_case(api, console: Console, world, username: str) -> None:  # type: ignore[no-untyped-def]
    client = api(username)
    for ref in (world["case"], world["anonymous"]):
        for method, template, body in CASE_ROUTES:
            path = template.format(case=ref.id, intake=ref.intake_id)
            response = client.get(path) if method == "GET" else client.post(path, body)
            assert response.status_code in (403, 404), f"{username} {method} {path}: {response.status_code}"
            assert b"77011112233" not in response.data and ref.audio[0] not in response.data
    case = console.case(world["case"].id)
    assert (case.status, case.assignee_id, case.category) == ("new", None, None)
    listed = client.get("/api/cases?status=")
    assert listed.status_code == (200 if username == "almaty" else 403)
    if username == "almaty":
        assert listed.json["cases"] == [] and listed.json["total"] == 0


def test_operator_lists_and_reads_cases_of_their_region(api, console: Console, world) -> None:  # type: ignore[no-untyped-def]
    client = api("karaganda")
    listed = client.get("/api/cases").json
    assert {row["id"] for row in listed["cases"]} == {world["case"].id, world["anonymous"].id}
    row = next(r for r in listed["cases"] if r["id"] == world["anonymous"].id)
    assert row["is_anonymous"] is True and row["region_code"] == "13" and row["received_at"].endswith("Z")
    detail = client.get(f"/api/cases/{world['case'].id}").json
    assert detail["has_contact"] is True and "77011112233" not in str(detail)
    [recording] = detail["recordings"]
    assert recording["transcript"]["segments"][1]["start_s"] == 1.2
    assert client.get("/api/queue/waiting").json == {"regions": {"13": 2}, "total": 2}
    assert console.audit(action="case.viewed")[-1].detail == {"case_id": world["case"].id, "via": "api"}


def test_actions_through_the_api_are_audited_like_the_console(api, console: Console, world) -> None:  # type: ignore[no-untyped-def]
    client = api("karaganda")
    ref = world["case"]
    assert client.post(f"/api/cases/{ref.id}/claim").json["status"] == "in_review"
    assert client.post(f"/api/cases/{ref.id}/status", {"status": "closed"}).status_code == 422
    no_original = client.post(f"/api/cases/{ref.id}/status", {"status": "closed", "reason": "duplicate"})
    assert no_original.status_code == 422  # a duplicate names the case that carries on
    closed = client.post(f"/api/cases/{ref.id}/status",
                         {"status": "closed", "reason": "duplicate", "duplicate_of": world["anonymous"].id})
    assert closed.status_code == 200 and closed.json["status_reason"] == "duplicate"
    assert client.post(f"/api/cases/{ref.id}/notes", {"text": "Дубликат обращения 123."}).json["notes"][0]["text"]
    assert client.post(f"/api/cases/{ref.id}/reporter-message", {"text": "Проверка завершена."}).status_code == 200
    assert client.post(f"/api/cases/{ref.id}/assign", {"assignee_id": None}).status_code == 403  # supervisors only
    contact = client.post(f"/api/cases/{ref.id}/contact")
    assert contact.json == {"contact": "77011112233"}
    assert client.post(f"/api/cases/{world['anonymous'].id}/contact").status_code == 404
    actions = [e.action for e in console.audit() if e.actor.startswith("operator:")]
    for action in ("case.claimed", "case.status_changed", "case.note_added", "thread.message_sent",
                   "contact.viewed"):
        assert action in actions


def test_audio_over_the_api(api, console: Console, world) -> None:  # type: ignore[no-untyped-def]
    operator, supervisor = api("karaganda"), api("dana")
    ref = world["anonymous"]
    disguised = operator.get(f"/api/recordings/{ref.intake_id}/audio", headers={"Range": "bytes=0-99"})
    assert disguised.status_code == 206 and len(disguised.data) == 100 and disguised.data != ref.audio[0][:100]
    assert operator.get(f"/api/recordings/{ref.intake_id}/audio?version=original").status_code == 403
    original = supervisor.get(f"/api/recordings/{ref.intake_id}/audio?version=original")
    assert original.status_code == 200 and original.data == ref.audio[0]
    assert [e.action for e in console.audit(action="recording.original_unlocked")] == ["recording.original_unlocked"]
    named = operator.get(f"/api/recordings/{world['case'].intake_id}/audio")
    assert named.data == world["case"].audio[0]


@pytest.mark.usefixtures("clock")  # dates: any hour of the UTC day
def test_supervisor_reads_audit_and_overview(api, console: Console, world) -> None:  # type: ignore[no-untyped-def]
    supervisor = api("dana")
    api("karaganda").post(f"/api/cases/{world['case'].id}/claim")
    events = supervisor.get(f"/api/cases/{world['case'].id}/audit").json["events"]
    assert "case.claimed" in [e["action"] for e in events] and "case.opened" in [e["action"] for e in events]
    overview = supervisor.get("/api/overview?days=7").json
    assert len(overview["reports_per_day"]) == 7 and overview["reports_per_region"] == [
        {"region_code": "13", "reports": 2}]
    assert api("karaganda").get("/api/overview").status_code == 403
    assert api("root").get("/api/audit/users/1").status_code == 200
    assert api("karaganda").get("/api/audit/users/1").status_code == 403
    assert supervisor.get("/api/me").json["role"] == "supervisor"
