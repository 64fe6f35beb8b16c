"""Proof of authorship without identity (issue 13.6): a supervisor checks a reference and PIN, with the phone's
lock-out and an audited record; the fingerprint matches the referral package (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from sqlalchemy import update

from ivr.cases import followup
from ivr.models import Call
from tests.operator.console import Console, post_form
from tests.operator.test_referrals import forward, pdf_text_and_pages

PIN = "305718"


def give_pin(console: Console, call_id: int, pin: str = PIN) -> None:
    with console.svc.sessions.begin() as session:
        session.execute(update(Call).where(Call.id == call_id).values(pin_hash=console.svc.pins.hash(pin)))


def check(client, reference: str, pin: str) -> str:  # type: ignore[no-untyped-def]
    response = post_form(client, "/operator/authorship", {"reference": reference, "pin": pin},
                         page="/operator/authorship")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def test_a_supervisor_verifies_reference_and_pin_and_the_check_is_audited(console: Console, make_client) -> None:
    dana = console.add_user("dana", role="supervisor")
    ref = console.add_case(is_anonymous=True)
    give_pin(console, ref.call_id)
    reference = console.case(ref.id).reference or ""
    client = make_client("dana")
    forward(client, ref.id, "agency-02")
    post_form(client, f"/operator/cases/{ref.id}/investigation", {"opened": "1"})
    assert console.audit(action="case.investigation_marked")

    page = check(client, reference, PIN)

    assert 'data-testid="authorship-verified"' in page and "анонимно (личность не устанавливалась)" in page
    assert "Департамент Агентства по противодействию коррупции по городу Алматы" in page
    [record] = console.audit(action="authorship.verified")
    assert record.actor == f"operator:{dana}" and record.call_id == ref.call_id
    assert re.search(rf"№ {record.id}, .*, проверил\(а\)", page)
    fingerprint = record.detail["fingerprint"]
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint) and fingerprint in page
    assert PIN not in str(record.detail) and PIN not in page  # the PIN is neither kept nor echoed
    # The same fingerprint is on the referral package the investigating body received.
    referral_url = re.search(r'href="(/operator/cases/\d+/referrals/\d+/package\.pdf)"',
                             client.get(f"/operator/cases/{ref.id}").get_data(as_text=True))
    assert referral_url
    printed = pdf_text_and_pages(client.get(referral_url.group(1)).data)[0]
    assert fingerprint in printed.replace(" ", "")  # it may wrap in its column


def test_wrong_pins_count_with_the_phone_and_lock_the_reference(console: Console, make_client) -> None:
    console.add_user("dana", role="supervisor")
    ref = console.add_case()
    give_pin(console, ref.call_id)
    reference = console.case(ref.id).reference or ""
    client = make_client("dana")
    limits = followup.GuessLimits()

    # Two wrong PINs by phone, three at the console: the reference locks after five in all.
    for _ in range(2):
        assert followup.verify_reference(console.svc.sessions, console.svc.pins, reference, "000000",
                                         limits=limits).outcome == "wrong"
    for _ in range(3):
        assert 'data-testid="authorship-failed"' in check(client, reference, "111111")
    locked = check(client, reference, PIN)  # the right PIN, but locked: the same answer as a wrong one

    assert 'data-testid="authorship-failed"' in locked and 'data-testid="authorship-verified"' not in locked
    assert [e.detail["outcome"] for e in console.audit(action="authorship.failed")] == [
        "wrong", "wrong", "locked_now", "locked"]
    assert followup.verify_reference(console.svc.sessions, console.svc.pins, reference, PIN,
                                     limits=limits).outcome == "wrong"  # the phone is locked too
    unknown = check(client, "12345674", PIN)
    assert 'data-testid="authorship-failed"' in unknown
    assert console.audit(action="authorship.failed")[-1].detail == {"outcome": "unknown"}
    assert not console.audit(action="authorship.verified")


def test_only_supervisors_check_authorship_or_mark_investigations(console: Console, make_client) -> None:
    console.add_user("aigerim")
    console.add_user("root", role="admin")
    ref = console.add_case()
    operator = make_client("aigerim")
    assert operator.get("/operator/authorship").status_code == 403
    assert make_client("root").get("/operator/authorship").status_code == 403
    assert post_form(operator, f"/operator/cases/{ref.id}/investigation", {"opened": "1"}).status_code == 403
    assert not console.audit(action="authorship.failed") and not console.audit(action="case.investigation_marked")


def test_parallel_guesses_at_the_console_get_exactly_the_allowed_checks(console: Console) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ivr.accounts import Principal
    from ivr.cases import authorship
    from ivr.models import Operator

    dana = console.add_user("dana", role="supervisor")
    ref = console.add_case()
    give_pin(console, ref.call_id)
    reference = console.case(ref.id).reference or ""
    with console.svc.sessions() as session:
        person = Principal.of(session.get_one(Operator, dana))
    limits = followup.GuessLimits(max_failures=5)

    def guess(n: int) -> object:
        return authorship.verify(console.svc.sessions, console.svc.pins, person, reference, f"{n:06d}",
                                 limits=limits)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(guess, range(100000, 100020)))

    assert results == [None] * 20
    outcomes = sorted(e.detail["outcome"] for e in console.audit(action="authorship.failed"))
    assert outcomes == sorted(["wrong"] * 4 + ["locked_now"] + ["locked"] * 15)
    assert guess(int(PIN)) is None  # locked: even the right PIN waits
