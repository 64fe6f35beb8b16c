"""Spoken regions as a speech recogniser writes them (ru-RU for Kazakh and Russian callers, en-US), matched to codes."""

from __future__ import annotations

import pytest

from ivr.flow.model import Flow, normalize_words

# What Twilio's recogniser returns: any case, hyphens or not, "обл." for "область", old names.
SAID = [
    # ru
    ("Алма-Ата область", "07"), ("алма-атинская обл.", "07"), ("Алматинская область", "07"), ("Алматы обл", "07"),
    ("Алматы", "02"), ("АЛМАТЫ", "02"), ("г. Алматы", "02"), ("город Алма-Ата", "02"), ("алма ата", "02"),
    ("Целиноград", "01"), ("Нур-Султан", "01"), ("нурсултан", "01"), ("Астана", "01"),
    ("Целиноградская область", "05"), ("Кокчетав", "05"), ("Акмолинская обл.", "05"),
    ("Шымкент", "03"), ("Чимкент", "03"), ("Чимкентская область", "19"), ("Южно-Казахстанская область", "19"),
    ("Семипалатинск", "04"), ("Семей", "04"), ("Гурьев", "08"), ("Гурьевская область", "08"),
    ("Актюбинск", "06"), ("Усть-Каменогорск", "09"), ("восточно-казахстанская обл.", "09"), ("ВКО", "09"),
    ("Джамбул", "10"), ("Тараз", "10"), ("Талды-Курган", "11"), ("Уральск", "12"), ("ЗКО", "12"),
    ("Караганда", "13"), ("Кустанай", "14"), ("Кзыл-Орда", "15"), ("Шевченко", "16"), ("Мангышлак", "16"),
    ("Павлодарская обл.", "17"), ("Петропавловск", "18"), ("СКО", "18"), ("Туркестан", "19"),
    ("Джезказган", "20"), ("область Улытау", "20"),
    # kk, as the Russian recogniser writes Kazakh speech (and as a Kazakh keyboard would)
    ("Алматы облысы", "07"), ("алматы облысы", "07"), ("Алматы қаласы", "02"), ("Нұр-Сұлтан", "01"),
    ("Қарағанды", "13"), ("Караганды", "13"), ("Өскемен", "09"), ("Оскемен", "09"), ("Шығыс Қазақстан", "09"),
    ("Орал", "12"), ("Жезқазған", "20"), ("Түркістан", "19"), ("Оңтүстік Қазақстан", "19"), ("Ақтөбе", "06"),
    # Latin, as an en-US recogniser writes them
    ("Almaty region", "07"), ("Almaty oblast", "07"), ("almaty oblysy", "07"), ("Almaty", "02"),
    ("Alma-Ata", "02"), ("Nur-Sultan", "01"), ("Semipalatinsk", "04"), ("Guryev", "08"), ("Kzyl-Orda", "15"),
]


@pytest.mark.parametrize(("said", "code"), SAID, ids=[s for s, _ in SAID])
def test_spoken_region_reaches_its_code(flow: Flow, said: str, code: str) -> None:
    region = flow.region_for_speech(said)
    assert region is not None and region.code == code, (said, region and region.code)


def test_every_region_has_aliases_in_kazakh_russian_and_english(flow: Flow) -> None:
    for region in flow.doc.regions:
        assert all(region.aliases.get(language) for language in ("kk", "ru", "en")), region.code


def test_no_alias_names_two_regions(flow: Flow) -> None:
    seen: dict[str, str] = {}
    for region in flow.doc.regions:
        for spoken in (*region.names.values(), *(a for names in region.aliases.values() for a in names)):
            key = normalize_words(spoken)
            assert seen.setdefault(key, region.code) == region.code, (spoken, seen[key], region.code)
