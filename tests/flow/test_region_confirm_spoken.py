"""Issue 11, item 5: the region read-back ("Алматы облысы, дұрыс па? Иә — 1, жоқ — 2") takes a spoken
yes or no in Kazakh, Russian and English, as whole words and never from a negated or questioning
answer; the keys still work."""

from __future__ import annotations

import pytest

from ivr.flow.engine import CallState, Digits, Gather, NoInput, Speech, Step, step
from ivr.flow.model import Flow, Language
from ivr.flow.speech import yes_or_no

SPOKEN = {"kk": "Алматы облысы", "ru": "Алматинская область", "en": "Almaty Region"}  # code 07


def read_back(flow: Flow, language: Language) -> Step:
    state = CallState(flow_version=flow.version, node="region", language=language, is_anonymous=True)
    heard_back = step(flow, state, Speech(SPOKEN[language], 0.8))
    assert heard_back.state.region_heard == "07"
    return heard_back


@pytest.mark.parametrize(
    ("language", "said"),
    [("kk", "Иә"), ("kk", "иә, дұрыс"), ("kk", "Ия"), ("ru", "Да"), ("ru", "да, верно"), ("ru", "Правильно."),
     ("en", "Yes"), ("en", "yes, that's right"), ("en", "Correct"),
     ("kk", "да"), ("ru", "yes")],  # a caller may answer in another of the line's languages
)
def test_a_spoken_yes_keeps_the_region_read_back(flow: Flow, language: Language, said: str) -> None:
    result = step(flow, read_back(flow, language).state, Speech(said, 0.6))
    assert (result.state.node, result.state.region, result.state.region_heard) == ("record", "07", None)


@pytest.mark.parametrize(
    ("language", "said"),
    [("kk", "Жоқ"), ("kk", "жоқ, дұрыс емес"), ("kk", "дұрыс емес"), ("ru", "Нет"), ("ru", "не верно"),
     ("ru", "неправильно"), ("ru", "нет, город Алматы"), ("en", "No"), ("en", "that's not right"),
     ("en", "wrong")],
)
def test_a_spoken_no_asks_for_the_region_again(flow: Flow, language: Language, said: str) -> None:
    result = step(flow, read_back(flow, language).state, Speech(said, 0.6))
    assert (result.state.node, result.state.region, result.state.region_heard, result.state.tries) == (
        "region", None, None, 1)
    by_key = step(flow, read_back(flow, language).state, Digits("2"))
    assert result.actions == by_key.actions  # the same short re-ask as the key 2


@pytest.mark.parametrize("said", ["дұрыс па", "да нет", "yes no", "не знаю", "Алматы", "какая разница"])
def test_an_unclear_spoken_answer_keeps_nothing(flow: Flow, said: str) -> None:
    result = step(flow, read_back(flow, "ru").state, Speech(said, 0.6))
    assert result.state.region is None and result.state.node == "region"


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_the_read_back_listens_for_speech_and_keys_still_work(flow: Flow, language: Language) -> None:
    heard_back = read_back(flow, language)
    [ask] = heard_back.actions
    assert isinstance(ask, Gather)
    assert ask.num_digits == 1 and ask.speech_language == flow.doc.languages[language].speech_language
    assert {"kk": "иә", "ru": "да", "en": "yes"}[language] in ask.hints
    assert step(flow, heard_back.state, Digits("1")).state.region == "07"
    assert step(flow, heard_back.state, NoInput()).state.region == "07"  # silence keeps what was said


@pytest.mark.parametrize(
    ("said", "answer"),
    [("Иә", "yes"), ("YES!", "yes"), ("Верно", "yes"), ("неверно", "no"), ("don't think so, no", "no"),
     ("да, но не Алматы", "no"), ("не да", "no"), ("дана", None), ("нетто", None), ("yesterday", None), ("", None)],
)
def test_yes_or_no_reads_whole_words_and_negations(said: str, answer: str | None) -> None:
    assert yes_or_no(said) == answer
