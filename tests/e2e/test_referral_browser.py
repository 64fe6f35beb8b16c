"""Forwarding in a real Chromium (issue 13.4): the status form asks for the receiving body only when forwarding,
the referral appears, and its package downloads as a PDF whose text is read back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest

from tests.operator.console import PASSWORD, Console

pytestmark = [pytest.mark.browser]


def test_forwarding_through_the_case_page_and_downloading_the_package(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    app, base = live_server()
    console = Console(app)
    console.add_user("aigerim", regions=["02"], locale="kk")
    ref = console.add_case()
    context = browser.new_context(locale="kk-KZ", accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/operator/login")
    page.fill("input[name=username]", "aigerim")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/operator/"))
    page.goto(f"{base}/operator/cases/{ref.id}")
    page.click("form[action$='/claim'] button")

    recipient = page.locator("#recipient-select")
    duplicate = page.locator("#duplicate-select")
    assert not recipient.is_visible() and not duplicate.is_visible()
    page.select_option("#status-select", "forwarded")
    assert recipient.is_visible() and not duplicate.is_visible()
    first_option = recipient.locator("option").nth(1).inner_text()
    assert "Алматы қаласы бойынша" in first_option  # the case's own region comes first
    page.select_option("#recipient-select", "agency-02")
    page.click(".status-form button[type=submit]")
    page.wait_for_load_state()

    assert console.case(ref.id).status == "forwarded"
    card = page.locator("[data-testid=referral]")
    assert "Сыбайлас жемқорлыққа қарсы іс-қимыл агенттігінің Алматы қаласы бойынша департаменті" in card.inner_text()
    with page.expect_download() as download_info:
        card.locator("a[download]").click()
    path = tmp_path / "package.pdf"
    download_info.value.save_as(path)
    document = pdfium.PdfDocument(path)
    text = " ".join(" ".join(p.get_textpage().get_text_range() for p in document).split())
    assert "жолдау пакеті" in text and "В акимате требовали деньги за справку." in text
    assert console.audit(action="referral.downloaded")
    context.close()
