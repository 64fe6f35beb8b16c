"""A new urgent case reaches a regional operator's open queue in Chromium within 5 s (issue 12.1):
a count in the tab title, a desktop notification and a sound.

The browser is observed, not our code replaced: an init script wraps window.Notification and
HTMLMediaElement.play to record what the page asked the browser to show and play. The case is
filed by the worker's own functions (intake rows, encrypted recording, `open_case`).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from ivr.accounts import Principal
from ivr.cases import casework
from ivr.models import Case, Operator
from tests.operator.console import PASSWORD, Console

pytestmark = [pytest.mark.browser]

OBSERVE = """
(() => {
  const seen = {notifications: [], played: []};
  window.__seen = seen;
  const Real = window.Notification;
  if (Real) {
    class Observed extends Real {
      constructor(title, options) {
        super(title, options);
        seen.notifications.push({title, body: (options || {}).body || "", tag: (options || {}).tag || ""});
      }
    }
    Object.defineProperty(Observed, "permission", {get: () => Real.permission});
    Observed.requestPermission = (...args) => Real.requestPermission(...args);
    window.Notification = Observed;
  }
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function (...args) {
    seen.played.push(this.currentSrc || this.src);
    return play.apply(this, args);
  };
})();
"""


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/operator/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/operator/(\?.*)?$"))


def test_a_new_urgent_case_without_a_region_alerts_a_regional_operator(browser: Any, live_server: Any) -> None:
    app, base = live_server()
    console = Console(app)
    console.add_user("karaganda", regions=["13"], locale="ru")
    console.add_case(region="13", created_at=None)  # an ordinary case of their region: no alert
    context = browser.new_context(locale="ru-RU")
    context.grant_permissions(["notifications"], origin=base)
    context.add_init_script(OBSERVE)
    page = context.new_page()
    try:
        _sign_in(page, base, "karaganda")
        page.wait_for_function("() => document.querySelector('[data-role=status]').textContent.length > 0")
        assert page.evaluate("Notification.permission") == "granted"
        assert page.get_by_test_id("enable-alerts").is_hidden()  # granted already: the button steps aside
        assert not page.title().startswith("(")
        assert page.evaluate("window.__seen") == {"notifications": [], "played": []}

        urgent = console.add_case(region=None, is_urgent=True, language="kk")  # "happening now", no region
        filed = time.monotonic()
        page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=5000)
        page.wait_for_function("() => window.__seen.notifications.length === 1", timeout=5000)
        assert time.monotonic() - filed < 5.0
        reference = console.case(urgent.id).reference
        seen = page.evaluate("window.__seen")
        [note] = seen["notifications"]
        assert note["title"] == "Срочное обращение" and reference in note["body"]
        assert note["tag"] == f"urgent-{urgent.id}"
        assert seen["played"] and all(src.endswith("/urgent.wav") for src in seen["played"])
        assert page.locator(f'tr[data-case="{urgent.id}"]').count() == 1  # it is in their list, on top
        assert page.locator("tr[data-case]").first.get_attribute("data-case") == str(urgent.id)
        assert page.get_by_test_id("urgent-waiting").inner_text() == "Срочных, не взятых: 1"

        # The case page opens for them (it was a 404 before the duty queue).
        assert page.request.get(f"{base}/operator/cases/{urgent.id}").status == 200

        # A reload in the same tab does not alert again for the same case; the count stays.
        page.reload()
        page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=5000)
        assert page.evaluate("window.__seen.notifications.length") == 0

        # Someone claims it: the count leaves the title at the next refresh.
        with app.extensions["ivr"].sessions.begin() as session:
            person = session.query(Operator).filter_by(username="karaganda").one()
            casework.claim(session, Principal.of(person), session.get_one(Case, urgent.id))
        page.wait_for_function("() => !document.title.startsWith('(')", timeout=5000)
    finally:
        context.close()


def test_the_button_asks_for_permission(browser: Any, live_server: Any) -> None:
    app, base = live_server()
    Console(app).add_user("almaty", regions=["02"], locale="en")
    context = browser.new_context(locale="en-US")
    context.add_init_script(OBSERVE)
    page = context.new_page()
    try:
        _sign_in(page, base, "almaty")
        button = page.get_by_test_id("enable-alerts")
        assert button.is_visible() and button.inner_text() == "Turn on urgent alerts"
        context.grant_permissions(["notifications"], origin=base)  # what the person answers in the prompt
        button.click()
        page.wait_for_function("() => document.querySelector('[data-role=status]').textContent.length > 0")
        assert button.is_hidden()
        assert "Urgent alerts are on" in page.locator("#urgent-alerts [data-role=status]").inner_text()
        assert page.evaluate("window.__seen.played.length") >= 1  # the click unlocks the sound
    finally:
        context.close()


HIDDEN = """
(() => {
  // A background tab, as the page sees it: document.hidden and visibilityState follow window.__hidden.
  Object.defineProperty(document, "hidden", {get: () => window.__hidden === true, configurable: true});
  Object.defineProperty(document, "visibilityState",
                        {get: () => (window.__hidden === true ? "hidden" : "visible"), configurable: true});
})();
"""


def test_a_background_tab_still_alerts(browser: Any, live_server: Any) -> None:
    """The table refresh pauses in a hidden tab (console.js); the urgent alert keeps asking."""
    app, base = live_server()
    console = Console(app)
    console.add_user("aktobe", regions=["04"], locale="kk")
    context = browser.new_context(locale="kk-KZ")
    context.grant_permissions(["notifications"], origin=base)
    context.add_init_script(OBSERVE)
    context.add_init_script(HIDDEN)
    page = context.new_page()
    try:
        _sign_in(page, base, "aktobe")
        page.evaluate("() => { window.__hidden = true; }")
        urgent = console.add_case(region="13", is_urgent=True)  # another region: the duty queue
        page.wait_for_function("() => window.__seen.notifications.length === 1", timeout=5000)
        [note] = page.evaluate("window.__seen.notifications")
        assert note["title"] == "Шұғыл өтініш" and console.case(urgent.id).reference in note["body"]
        assert page.title().startswith("(1) ")
        assert page.locator(f'tr[data-case="{urgent.id}"]').count() == 0  # the table itself waited
    finally:
        context.close()
