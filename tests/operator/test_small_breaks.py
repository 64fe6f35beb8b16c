"""The console's small breaks (issue 12, item 5), server side: the status control shows the current
status, and opening a case is not a listen (the player's `play` event is; see tests/e2e too)."""

from __future__ import annotations

import re

from tests.operator.console import Console, csrf_token, post_form

SELECT = re.compile(r'<select name="status" id="status-select">(.*?)</select>', re.S)


def _status_options(body: str) -> list[tuple[str, bool]]:
    found = SELECT.search(body)
    assert found, "no status control"
    return [(value, bool(selected)) for value, selected in
            re.findall(r'<option value="([a-z_]+)"( selected)?>', found.group(1))]


def test_the_status_control_preselects_the_current_status(console: Console, make_client) -> None:
    console.add_user("aigerim")
    ref = console.add_case()
    client = make_client("aigerim")
    options = _status_options(client.get(f"/operator/cases/{ref.id}").get_data(as_text=True))
    assert options[0] == ("new", True) and [v for v, chosen in options if chosen] == ["new"]
    assert "in_review" in [v for v, _ in options]

    post_form(client, f"/operator/cases/{ref.id}/claim", page=f"/operator/cases/{ref.id}")
    post_form(client, f"/operator/cases/{ref.id}/status", {"status": "in_review"}, page=f"/operator/cases/{ref.id}")
    assert console.case(ref.id).status == "in_review"
    options = _status_options(client.get(f"/operator/cases/{ref.id}").get_data(as_text=True))
    assert [v for v, chosen in options if chosen] == ["in_review"]
    changes = len(console.audit(action="case.status_changed"))

    # Saving the form as it stands changes nothing and records nothing.
    saved = post_form(client, f"/operator/cases/{ref.id}/status", {"status": "in_review"},
                      page=f"/operator/cases/{ref.id}")
    assert saved.status_code == 302
    assert console.case(ref.id).status == "in_review"
    assert len(console.audit(action="case.status_changed")) == changes


def test_opening_a_case_is_not_a_listen_but_playing_is(console: Console, make_client) -> None:
    console.add_user("aigerim")
    console.add_user("bolat", regions=["13"])
    ref = console.add_case()
    client = make_client("aigerim")
    body = client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)
    players = re.findall(r'<audio [^>]*class="player"[^>]*>', body)  # the recordings, not a preview
    assert players and all('preload="none"' in tag and "data-played=" in tag for tag in players)
    assert console.audit(action="recording.listened") == []

    played = f"/operator/recordings/{ref.intake_id}/played?v=disguised"
    assert client.post(played).status_code == 400  # no CSRF token: refused
    token = csrf_token(client, f"/operator/cases/{ref.id}")
    assert client.post(played, headers={"X-CSRFToken": token}).status_code == 204  # as console.js sends it
    [listen] = console.audit(action="recording.listened")
    assert listen.intake_id == ref.intake_id and listen.detail["version"] == "disguised"

    # Only someone who may hear the recording can have heard it.
    assert post_form(make_client("bolat"), played).status_code == 404
    assert post_form(client, f"/operator/recordings/{ref.intake_id}/played?v=original",
                     page=f"/operator/cases/{ref.id}").status_code == 403
    assert len(console.audit(action="recording.listened")) == 1


def test_the_audit_log_shows_case_references_and_links_only_where_the_viewer_may_open(
    console: Console, make_client
) -> None:
    aigerim = console.add_user("aigerim", display_name="Айгерим Садыкова")
    console.add_user("dana", role="supervisor")
    console.add_user("root", role="admin")
    ref = console.add_case(followups=1)
    reference = console.case(ref.id).reference
    assert reference
    supervisor = make_client("dana")
    post_form(supervisor, f"/operator/cases/{ref.id}/assign", {"assignee": str(aigerim)},
              page=f"/operator/cases/{ref.id}")
    operator = make_client("aigerim")
    operator.get(f"/operator/recordings/{ref.intake_ids[1]}/audio")  # the follow-up, fetched

    log = supervisor.get("/operator/audit").get_data(as_text=True)
    assert f'<a href="/operator/cases/{ref.id}">{reference}</a>' in log
    assert f"#{ref.id}<" not in log and f">#{aigerim}" not in log  # no internal ids
    assert "→ Айгерим Садыкова" in log
    trail = supervisor.get(f"/operator/audit/users/{aigerim}").get_data(as_text=True)
    assert "Дополнение 1" in trail and f"запись {ref.intake_ids[1]}" not in trail  # which recording, not its id

    # An admin reads what a person did, with the references, but cannot open cases: no links.
    admin_view = make_client("root").get(f"/operator/audit/users/{aigerim}").get_data(as_text=True)
    assert reference in admin_view and f"/operator/cases/{ref.id}" not in admin_view


def test_dates_are_taken_as_people_in_kazakhstan_write_them() -> None:
    from datetime import date

    from ivr.display_time import format_date, parse_date

    assert parse_date("05.03.2026") == parse_date("5.3.2026") == parse_date(" 2026-03-05 ") == date(2026, 3, 5)
    assert format_date(date(2026, 3, 5)) == "05.03.2026" and format_date(None) == ""
    for wrong in ("", "03/05/2026", "31.02.2026", "5.3.26", "2026-3-5", "yesterday"):
        assert parse_date(wrong) is None, wrong
