"""The console speaks Russian, Kazakh and English: every key in all three, every template key known.

The words are gettext catalogues (ivr/translations); these tests read the .po files and the
compiled catalogues the app uses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr import catalogues, display_time, i18n
from ivr.cases.casework import CATEGORIES, CLOSE_REASONS
from ivr.models import CASE_STATUSES

TEMPLATES = Path(i18n.__file__).parent / "operator" / "templates" / "operator"
ADMIN_TEMPLATES = Path(i18n.__file__).parent / "admin" / "templates" / "admin"
KAZAKH_LETTERS = set("әғқңөұүһі")


def test_every_key_has_three_non_empty_texts_with_the_same_placeholders() -> None:
    for key, texts in i18n.catalogue().items():
        assert len(texts) == 3 and all(text.strip() for text in texts), key
        fields = [set(re.findall(r"%\((\w+)\)s", text)) for text in texts]
        assert fields[0] == fields[1] == fields[2], key
        assert not re.search(r"\{\w+\}", "".join(texts)), key  # gettext's %(name)s, not str.format's


def test_kazakh_is_kazakh_not_a_copy_of_russian() -> None:
    texts = i18n.catalogue()
    differing = [key for key, (ru, kk, _) in texts.items() if ru != kk]
    assert len(differing) > 0.9 * len(texts)
    assert sum(1 for _, kk, _ in texts.values() if KAZAKH_LETTERS & set(kk.lower())) > 0.5 * len(texts)


def test_every_key_the_templates_use_exists() -> None:
    used: set[str] = set()
    for path in [*TEMPLATES.glob("*.html"), *ADMIN_TEMPLATES.glob("*.html")]:
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

    assert display_time.format_datetime(datetime(2026, 3, 1, 19, 30, tzinfo=UTC)) == "02.03.2026 00:30"
    assert display_time.format_datetime(datetime(2026, 3, 1, 19, 30)) == "02.03.2026 00:30"  # SQLite: naive UTC
    assert display_time.format_duration(65.4) == "1:05"
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


def _template_ids() -> set[str]:
    from babel.messages.pofile import read_po

    with (catalogues.TRANSLATIONS / "messages.pot").open("rb") as handle:
        return {str(message.id) for message in read_po(handle) if message.id}


@pytest.mark.parametrize("locale", ["kk", "ru", "en"])
def test_every_msgid_has_its_own_translation_and_the_app_uses_it(locale: str) -> None:
    # An untranslated or fuzzy entry would show the key (or, in English, nothing) on an operator screen.
    ids = _template_ids()
    texts = i18n.catalogue()
    assert len(ids) > 250 and set(texts) == ids
    position = i18n.LOCALES.index(locale)
    assert [key for key in sorted(ids) if not texts[key][position].strip()] == []
    compiled = i18n.translations(locale)
    assert [key for key in sorted(ids) if compiled.gettext(key) != texts[key][position]] == []


def test_the_catalogue_template_holds_every_key_the_code_and_templates_name() -> None:
    # `pybabel extract` (README, "Translations") run on today's code gives today's messages.pot.
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    root = catalogues.TRANSLATIONS.parent.parent
    with (root / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "translate": None}
    extracted = {message for _, _, message, _, _ in extract_from_dir(root, method_map, options_map, keywords)}
    assert extracted == _template_ids()
