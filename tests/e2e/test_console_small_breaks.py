"""The console's small breaks, mended and held in a real Chromium: the queue's refresh keeps focus and
announces only a changed count, "listened" is audited when playback starts, dates read as the locale
writes them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.operator.console import PASSWORD, Console

pytestmark = [pytest.mark.browser]


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/operator/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/operator/"))


def _refreshes(page: Any, count: int) -> None:
    """Wait until the queue has fetched its live part `count` more times, and the page has applied it."""
    for _ in range(count):
        with page.expect_response(lambda r: "/operator/queue/live" in r.url, timeout=15000):
            pass
    page.wait_for_function("() => window.__queueRefreshes !== undefined")
    page.wait_for_timeout(100)  # the response's body parsed and merged into the page


def test_refresh_keeps_focus_and_announces_only_a_changed_count(
    browser: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ivr.operator.routes.POLL_INTERVAL_S", 1)
    app, base = live_server()
    console = Console(app)
    console.add_user("aigerim", regions=["02"])
    first = console.add_case()
    console.add_case()
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    page.add_init_script(
        "document.addEventListener('queue:refreshed', "
        "() => { window.__queueRefreshes = (window.__queueRefreshes || 0) + 1; });"
    )
    _sign_in(page, base, "aigerim")
    assert page.locator("[data-testid=waiting-total]").inner_text() == "2"
    # The table itself is not a live region: a screen reader would read every row again.
    assert page.evaluate("() => document.querySelector('table.queue').closest('[aria-live]') === null")
    status = page.locator("#queue-announce")
    assert status.get_attribute("role") == "status" and status.inner_text() == ""

    link = page.locator(f"tr[data-case='{first.id}'] a.ref")
    link.focus()
    focused = link.element_handle()
    page.evaluate("""() => { window.__announced = [];
        const said = document.getElementById('queue-announce');
        new MutationObserver(() => window.__announced.push(said.textContent))
          .observe(said, {childList: true, characterData: true, subtree: true}); }""")
    _refreshes(page, 2)  # nothing changed: nothing is said
    assert page.evaluate("() => window.__announced") == []

    arrived = console.add_case()
    page.locator(f"tr[data-case='{arrived.id}']").wait_for(timeout=15000)
    _refreshes(page, 2)
    assert page.evaluate("el => document.activeElement === el", focused), page.evaluate(
        "() => document.activeElement.outerHTML")
    assert page.locator("[data-testid=waiting-total]").inner_text() == "3"
    assert page.evaluate("() => window.__announced.filter(t => t !== '')") == ["Ожидают рассмотрения: 3"]
    assert status.inner_text() == "Ожидают рассмотрения: 3"
    context.close()


def test_listened_is_audited_when_playback_starts_not_when_the_case_opens(browser: Any, live_server: Any) -> None:
    app, base = live_server()
    console = Console(app)
    console.add_user("aigerim", regions=["02"])
    ref = console.add_case(audio_s=3)
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/audio" in r.url else None)
    _sign_in(page, base, "aigerim")
    page.goto(f"{base}/operator/cases/{ref.id}")
    page.wait_for_load_state("networkidle")
    assert fetched == []  # nothing preloaded
    assert console.audit(action="recording.listened") == []

    audio = page.locator(f"audio#player-{ref.intake_id}")
    with page.expect_response(lambda r: r.url.endswith("/played?v=disguised") and r.request.method == "POST") as done:
        audio.evaluate("a => a.play()")
    assert done.value.status == 204
    page.wait_for_function("a => !a.paused && a.currentTime > 0", arg=audio.element_handle(), timeout=15000)
    [listen] = console.audit(action="recording.listened")
    assert listen.intake_id == ref.intake_id and listen.detail["version"] == "disguised"
    assert fetched  # the audio was fetched only now, for playing
    context.close()


@pytest.mark.parametrize(("browser_locale", "console_locale", "placeholder"),
                         [("ru-RU", "ru", "дд.мм.гггг"), ("kk-KZ", "kk", "кк.аа.жжжж")])
def test_date_filters_read_and_take_dates_as_the_locale_writes_them(
    browser: Any, live_server: Any, browser_locale: str, console_locale: str, placeholder: str
) -> None:
    from datetime import UTC, datetime

    app, base = live_server()
    console = Console(app)
    console.add_user("aigerim", regions=["02"], locale=console_locale)
    old = console.add_case(created_at=datetime(2026, 3, 5, 6, 0, tzinfo=UTC))
    recent = console.add_case(created_at=datetime(2026, 3, 20, 6, 0, tzinfo=UTC))
    context = browser.new_context(locale=browser_locale)
    page = context.new_page()
    _sign_in(page, base, "aigerim")
    assert page.locator("html").get_attribute("lang") == console_locale
    field = page.locator("input[name=from]")
    assert field.get_attribute("placeholder") == placeholder
    assert field.evaluate("f => f.type") == "text"  # not the browser's own date widget (mm/dd/yyyy)

    field.fill("15.03.2026")
    page.locator("input[name=to]").fill("31.03.2026")
    page.locator("form.filters button[type=submit].primary").click()
    page.wait_for_url(re.compile(r"from=15.03.2026"))
    assert page.locator(f"tr[data-case='{recent.id}']").count() == 1
    assert page.locator(f"tr[data-case='{old.id}']").count() == 0
    assert page.locator("input[name=from]").input_value() == "15.03.2026"  # shown back as written

    page.goto(f"{base}/operator/?status=&from=2026-03-01&to=2026-03-10")  # ISO (older links) still works
    assert page.locator(f"tr[data-case='{old.id}']").count() == 1
    assert page.locator(f"tr[data-case='{recent.id}']").count() == 0
    assert page.locator("input[name=from]").input_value() == "01.03.2026"
    context.close()
