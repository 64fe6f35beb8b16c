"""Words of report text turned into keyed search terms (a blind index): no plain word is stored.

Transcripts and notes are encrypted at rest, so the database cannot search them. Instead each
text is cut into words, each word is normalised and stemmed, and each stem is keyed with HMAC
under a key derived from the data key. A search does the same to the words typed and looks for
equal terms. Whoever holds a copy of the database without the data key sees only that two
cases share some 64-bit term, never which word it is (README "Report text at rest").

Normalisation: NFKC, casefold, ё→е, punctuation dropped; a word is a run of letters or digits,
at least two characters. Stemming, chosen by the word's letters so that a text and a query
always agree whatever language a note was written in:

- Latin letters: the Snowball English stemmer;
- Cyrillic with a letter only Kazakh uses (ә ғ қ ң ө ұ ү һ і): `kazakh_stem`, a short suffix
  rule (below); Snowball has no Kazakh;
- other Cyrillic: the Snowball Russian stemmer, then a surname's "-ов/-ев" cut (so that
  "Жанибеков", "Жанибекова" and "Жанибекову" agree).

Stems are cut further than a linguist would like (e.g. "требовали" and "требует" stay apart);
what matters here is that the same word form always gives the same term.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from weakref import WeakKeyDictionary

import snowballstemmer  # type: ignore[import-untyped]  # no stubs shipped
from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from ivr.crypto import derive_key

TERM_PURPOSE = "ivr search term hmac v1"
MIN_WORD_CHARS = 2
MAX_WORD_CHARS = 40  # longer runs are noise (a pasted link); they are cut, not dropped
MAX_QUERY_WORDS = 12
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_LATIN = re.compile(r"[a-z]")
_KAZAKH_ONLY = set("әғқңөұүһі")

# Kazakh endings, longest first: case endings, possessives and plurals, in the order they stack
# (plural + possessive + case, e.g. "ақша-лар-ы-н", "пара-сы-н"). Stripped at most three times
# and never below three letters of stem, which keeps short roots ("ақ", "ел") whole.
KAZAKH_SUFFIXES = tuple(
    sorted(
        {
            # plurals
            "лар", "лер", "дар", "дер", "тар", "тер",
            # possessives
            "ымыз", "іміз", "мыз", "міз", "ыңыз", "іңіз", "ңыз", "ңіз", "сы", "сі", "ым", "ім", "ың", "ің",
            # cases: genitive, dative, accusative, locative, ablative, instrumental
            "ның", "нің", "дың", "дің", "тың", "тің", "ға", "ге", "қа", "ке", "на", "не", "ны", "ні",
            "ды", "ді", "ты", "ті", "да", "де", "та", "те", "нда", "нде", "дан", "ден", "тан", "тен",
            "нан", "нен", "мен", "бен", "пен", "ын", "ін",
        },
        key=len,
        reverse=True,
    )
)  # fmt: skip
KAZAKH_MIN_STEM = 3
RU_SURNAME_MIN_STEM = 4


@lru_cache(maxsize=2)
def _snowball(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


def normalise(text: str) -> str:
    """Text as searching sees it: NFKC, case folded, ё as е."""
    return unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")


def words(text: str) -> list[str]:
    """The normalised words of a text, in order (punctuation and one-letter words dropped)."""
    return [w[:MAX_WORD_CHARS] for w in _WORD.findall(normalise(text)) if len(w) >= MIN_WORD_CHARS]


def kazakh_stem(word: str) -> str:
    """A Kazakh word without its case, possessive and plural endings (up to three of them)."""
    for _ in range(3):
        for suffix in KAZAKH_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= KAZAKH_MIN_STEM:
                word = word[: -len(suffix)]
                break
        else:
            break
    return word


def stem(word: str) -> str:
    """The stem of one normalised word, by the rule its letters choose (module docstring)."""
    if word.isdigit():
        return word
    if _LATIN.search(word):
        return str(_snowball("english").stemWord(word))
    if _KAZAKH_ONLY.intersection(word):
        return kazakh_stem(word)
    found = str(_snowball("russian").stemWord(word))
    # Snowball leaves "-ов/-ев" on a declined surname ("Жанибекова" -> "жанибеков") but strips it
    # from the plain one ("Жанибеков" -> "жанибек"); names matter most on a hotline, so cut it.
    if len(found) >= RU_SURNAME_MIN_STEM + 2 and found.endswith(("ов", "ев")):
        found = found[:-2]
    return found


def stems(text: str) -> set[str]:
    """The distinct stems of a text."""
    return {stem(word) for word in words(text)}


class TermKeys:
    """HMAC keys for search terms, one per data key id (the current one first).

    The terms are 64-bit integers: the first 8 bytes of HMAC-SHA256. Among the few hundred
    thousand distinct stems a hotline sees, two colliding is about a one in ten million chance,
    and a collision only adds a case to a result list, never hides one.
    """

    def __init__(self, data_keys: Mapping[str, bytes]) -> None:
        if not data_keys:
            raise ValueError("at least one key is needed")
        self.current_key_id = next(iter(data_keys))
        self._keys = {key_id: derive_key(key, TERM_PURPOSE) for key_id, key in data_keys.items()}

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id, the current one first."""
        return tuple(self._keys)

    def term(self, stem_: str, key_id: str | None = None) -> int:
        """The stored term of a stem under one key (the current one by default)."""
        digest = hmac.new(self._keys[key_id or self.current_key_id], stem_.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def terms_of_text(self, text: str) -> set[int]:
        """The distinct terms of a text under the current key: what is stored for it."""
        return {self.term(s) for s in stems(text)}

    def query_terms(self, query: str) -> list[set[int]]:
        """For each distinct word of a query (at most MAX_QUERY_WORDS), its term under every key.

        Every key, so that search keeps working while `ivr keys rotate` moves the index from an
        old key to the new one; a case matches when it holds one of each word's terms.
        """
        found: list[set[int]] = []
        for s in dict.fromkeys(stem(w) for w in words(query)):
            found.append({self.term(s, key_id) for key_id in self._keys})
            if len(found) == MAX_QUERY_WORDS:
                break
        return found


def terms_of_texts(keys: TermKeys, texts: Iterable[str | None]) -> set[int]:
    """The union of terms of several texts (a transcript's text and its segments, say)."""
    found: set[int] = set()
    for text in texts:
        if text:
            found |= keys.terms_of_text(text)
    return found


# The term keys travel with the engine, like the cipher of report text (ivr.encrypted_types):
# whoever can write a note through a session can index it.
_TERM_KEYS: WeakKeyDictionary[Dialect, TermKeys] = WeakKeyDictionary()


def use_term_keys(engine: Engine, data_keys: Mapping[str, bytes]) -> None:
    """Let sessions on `engine` index and search report text with keys derived from these data keys."""
    _TERM_KEYS[engine.dialect] = TermKeys(data_keys)


def term_keys_of(session: Session) -> TermKeys:
    """The term keys of the engine this session talks to; RuntimeError if it was built without keys."""
    keys = _TERM_KEYS.get(session.get_bind().dialect)
    if keys is None:
        raise RuntimeError("this engine holds no data key, so it can neither index nor search report text")
    return keys
