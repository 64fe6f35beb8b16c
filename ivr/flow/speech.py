"""What a spoken answer at a menu means: whole words only, and nothing from a refusal or a doubt.

Twilio's recogniser hands us a sentence. A keyword inside it is not consent: "Я не хочу оставлять
контакты", "no contact please" and "байланыс қалдырғым келмейді" all contain a menu's keyword.
So a spoken answer picks an option only when the option's words stand in it as whole words, no
other option's words do, and nothing in it negates or questions (the caller is asked again, and
silence at the end of the retries takes the flow's safe path). Keys stay unambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal, TypeVar

from ivr.flow.model import normalize_words

T = TypeVar("T")

# Words that negate or refuse, folded as `normalize_words` folds them (Kazakh letters to Russian
# ones, as a Russian recogniser writes Kazakh speech). Every language's list applies to every
# call: a caller who chose Kazakh may well answer in Russian.
NEGATIONS = frozenset({
    # ru
    "не", "нет", "ни", "без", "нельзя", "незачем", "неохота", "ненадо", "никак", "никакие", "никаких",
    "никогда", "ничего", "против", "отказываюсь",
    # en ("don't" is split to "do not" first)
    "no", "not", "never", "without", "nope", "nothing", "none", "neither", "nor", "refuse", "rather",
    # kk
    "жок", "жокпын", "емес", "ешкандай", "ешкашан", "ештене",
})
# Kazakh question particles: "байланыс қалдыру керек пе?" asks, it does not agree.
QUESTION_PARTICLES = frozenset({"ма", "ме", "ба", "бе", "па", "пе", "ли"})
# Kazakh negates verbs with -ма/-ме/-ба/-бе/-па/-пе before the person ending:
# келмейді, қалдырмаймын, қаламаймын, бермеймін, айтпаймын, келмеді, қалдырмаған.
_KAZAKH_NEGATED_VERB = re.compile(r"^\w{2,}(?:ма|ме|ба|бе|па|пе)(?:й\w*|с|ды|ди|ган|ген|гын|гин|ныз|низ)$")
_CONTRACTED_NOT = re.compile(r"n[’']t\b")


def spoken_words(said: str) -> list[str]:
    """The words of a spoken answer, folded for matching; English "n't" becomes "not"."""
    return normalize_words(_CONTRACTED_NOT.sub(" not", said.lower())).split()


def is_refusal_or_doubt(words: Iterable[str]) -> bool:
    """True when any word negates, refuses or asks: such an answer chooses nothing."""
    return any(
        word in NEGATIONS or word in QUESTION_PARTICLES or _KAZAKH_NEGATED_VERB.match(word)
        for word in words
    )


def choose_by_speech(said: str, options: Mapping[str, T], words_of: Mapping[str, list[str]]) -> T | None:
    """The one option whose words the caller said as whole words; None if none, several, or negated.

    `options` maps a key to its choice; `words_of` maps the same key to its words in the call's language.
    """
    words = spoken_words(said)
    if not words or is_refusal_or_doubt(words):
        return None
    padded = f" {' '.join(words)} "
    matched = [
        key
        for key, candidates in words_of.items()
        if key in options and any(f" {' '.join(spoken_words(c))} " in padded for c in candidates if c.strip())
    ]
    if len(matched) != 1:
        return None  # nothing said that we offer, or two choices at once: ask again
    return options[matched[0]]



# A read-back ("Алматы облысы, дұрыс па?") is answered in a word. Every language's words count on
# every call, as above; the call's own language's words go to the recogniser as hints.
YES_WORDS: Mapping[str, tuple[str, ...]] = {
    "kk": ("иә", "ия", "иа", "әрине", "дұрыс", "солай"),
    "ru": ("да", "верно", "правильно", "точно", "конечно", "ага", "угу"),
    "en": ("yes", "yeah", "yep", "correct", "right", "sure"),
}
NO_WORDS: Mapping[str, tuple[str, ...]] = {
    "kk": ("жоқ", "қате"),
    "ru": ("нет", "неверно", "неправильно", "ошибка"),
    "en": ("no", "nope", "wrong", "incorrect"),
}
_YES = frozenset(w for words in YES_WORDS.values() for c in words for w in spoken_words(c))
_NO = frozenset(w for words in NO_WORDS.values() for c in words for w in spoken_words(c))


def yes_or_no(said: str) -> Literal["yes", "no"] | None:
    """A spoken answer to a yes/no question: "yes", "no", or None when unclear (ask again by key).

    Whole words only. A yes-word with a negation ("не верно", "not right", "жоқ, дұрыс емес") is a
    no; a question ("дұрыс па?") or a bare yes and no together ("да нет", "yes no") answer nothing.
    """
    words = spoken_words(said)
    if not words or any(word in QUESTION_PARTICLES for word in words):
        return None
    says_yes = any(word in _YES for word in words)
    says_no = any(word in _NO for word in words)
    # A negation other than the answer "no" itself turns a yes-word round: "не верно", "дұрыс емес".
    negates = any((word in NEGATIONS or _KAZAKH_NEGATED_VERB.match(word)) and word not in _NO for word in words)
    if says_yes and negates:
        return "no"
    if says_yes and says_no:
        return None  # "да нет", "yes no": ask again
    if says_no:
        return "no"
    return "yes" if says_yes else None
