"""The console speaks Russian, Kazakh and English: every key in all three, every template key known."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from ivr import i18n
from ivr.models import CASE_STATUSES
from ivr.operator.casework import CATEGORIES, CLOSE_REASONS

TEMPLATES = Path(i18n.__file__).parent / "operator" / "templates" / "operator"
KAZAKH_LETTERS = set("әғқңөұүһі")


def test_every_key_has_three_non_empty_texts_with_the_same_placeholders() -> None:
    for key, texts in i18n.catalogue().items():
        assert len(texts) == 3 and all(text.strip() for text in texts), key
        fields = [{name for _, name, _, _ in string.Formatter().parse(text) if name} for text in texts]
        assert fields[0] == fields[1] == fields[2], key


def test_kazakh_is_kazakh_not_a_copy_of_russian() -> None:
    texts = i18n.catalogue()
    differing = [key for key, (ru, kk, _) in texts.items() if ru != kk]
    assert len(differing) > 0.9 * len(texts)
    assert sum(1 for _, kk, _ in texts.values() if KAZAKH_LETTERS & set(kk.lower())) > 0.5 * len(texts)


def test_every_key_the_templates_use_exists() -> None:
    used: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""_\(\s*["']([a-z_.0-9-]+)["']""", path.read_text()))
    keys = {key for key in used if not key.endswith(".")}  # "status." ~ code: checked below
    assert keys and not [key for key in keys if not i18n.has_key(key)]


@pytest.mark.parametrize(
    "prefix, values",
    [("status.", CASE_STATUSES), ("reason.", CLOSE_REASONS), ("category.", CATEGORIES),
     ("role.", ("operator", "supervisor", "admin")), ("language.", ("kk", "ru", "en")),
     ("transcript.", ("pending", "done", "failed", "none"))],
)
def test_every_code_shown_to_people_has_a_name(prefix: str, values: tuple[str, ...]) -> None:
    assert [value for value in values if not i18n.has_key(prefix + value)] == []


def test_times_read_in_kazakhstan_time_and_waits_as_people_say_them() -> None:
    from datetime import UTC, datetime

    assert i18n.format_datetime(datetime(2026, 3, 1, 19, 30, tzinfo=UTC)) == "02.03.2026 00:30"
    assert i18n.format_datetime(datetime(2026, 3, 1, 19, 30)) == "02.03.2026 00:30"  # SQLite: naive UTC
    assert i18n.format_duration(65.4) == "1:05"
    assert i18n.format_wait(300, "ru") == "5 мин"
    assert i18n.format_wait(3 * 3600 + 300, "kk") == "3 сағ 5 мин"
    assert i18n.format_wait(5 * 86400, "en") == "5 d"


@pytest.mark.parametrize(("locale", "title"), [("ru", "Очередь обращений"), ("kk", "Өтініштер кезегі"),
                                               ("en", "Report queue")])
def test_pages_render_in_each_language(console, make_client, locale: str, title: str) -> None:
    console.add_user("dana", role="supervisor", locale=locale)
    ref = console.add_case(is_anonymous=False, contact="77010000000")
    client = make_client("dana")
    for path in ("/operator/", f"/operator/cases/{ref.id}", "/operator/overview", "/operator/audit"):
        body = client.get(path).get_data(as_text=True)
        assert f'lang="{locale}"' in body and not re.search(r">\s*[a-z_]+\.[a-z_.]+\s*<", body), path
    assert title in client.get("/operator/").get_data(as_text=True)
