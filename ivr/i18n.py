"""The operator console's words in Russian, Kazakh and English: gettext catalogues and the locale choice.

The words live in ivr/translations/<locale>/LC_MESSAGES/messages.po, one msgid per dotted key
(`queue.title`, `status.closed`); en.po holds the English wording. Keys rather than English
sentences as msgids because about half of them are looked up from codes that travel as data
(statuses, close reasons, audit actions, the case rules' refusals), and because the English text can
then change without unsettling the Russian and Kazakh. Inside a request the views and templates
translate through Flask-Babel (ivr.operator.auth._); `translate` serves a locale named outright.
Callers' prompts are not here: they live in config/flow.yaml, where admins edit them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

from ivr import catalogues

LOCALES = ("ru", "kk", "en")
DEFAULT_LOCALE = "ru"
LOCALE_NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}


@cache
def _translations(directory: Path, locale: str) -> NullTranslations:
    return Translations.load(str(directory), [locale], catalogues.DOMAIN)


def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of `locale` (Russian if the locale is unknown)."""
    return _translations(catalogues.ready(), locale if locale in LOCALES else DEFAULT_LOCALE)


def translate(key: str, locale: str, **params: Any) -> str:
    """The text of `key` in `locale` (Russian if the locale is unknown), with %(params)s filled in."""
    text = translations(locale).gettext(key)
    return text % params if params else text


def has_key(key: str) -> bool:
    """Whether the catalogues hold `key` (the English one has every key the others have)."""
    return translations("en").gettext(key) != key


def catalogue(directory: Path = catalogues.TRANSLATIONS) -> dict[str, tuple[str, str, str]]:
    """Every key and its texts (ru, kk, en) as the .po files hold them, for tests; fuzzy ones count as empty."""
    from babel.messages.pofile import read_po

    texts: dict[str, list[str]] = {}
    for position, locale in enumerate(LOCALES):
        with (directory / locale / "LC_MESSAGES" / f"{catalogues.DOMAIN}.po").open("rb") as handle:
            for message in read_po(handle, locale=locale):
                if message.id:
                    string = "" if message.fuzzy else str(message.string or "")
                    texts.setdefault(str(message.id), ["", "", ""])[position] = string
    return {key: (ru, kk, en) for key, (ru, kk, en) in texts.items()}


def negotiate(accept_language: Any, preferred: str | None = None) -> str:
    """The console's language: the person's choice, else the browser's best match, else Russian."""
    if preferred in LOCALES:
        return preferred  # type: ignore[return-value,unused-ignore]
    if accept_language is not None:
        match = accept_language.best_match(LOCALES)
        if match:
            return str(match)
    return DEFAULT_LOCALE


def format_wait(seconds: float | None, locale: str) -> str:
    """A waiting time as people say it: 12 min, 3 h 5 min, 2 d."""
    if seconds is None:
        return "—"
    minutes = max(0, round(seconds / 60))
    if minutes < 60:
        return translate("unit.min", locale, n=minutes)
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return translate("unit.h_min", locale, h=hours, m=rest) if rest else translate("unit.h", locale, n=hours)
    return translate("unit.d", locale, n=round(hours / 24))
