"""Search (issue 12.3): words of transcripts and notes through the keyed blind index, references,
categories, operators, the filters, region rules and saved searches, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import re
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select

from ivr.cases import search_index
from ivr.db import make_engine, make_sessionmaker
from ivr.models import Case, SearchTerm
from ivr.search_terms import kazakh_stem, stem, words
from tests.operator.console import Console, post_form


def _ids(body: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-case="(\d+)"', body)]


def _found(client: Any, **args: str) -> set[int]:
    response = client.get("/operator/", query_string=args)
    assert response.status_code == 200
    return set(_ids(response.get_data(as_text=True)))


def _note(client: Any, case_id: int, text: str) -> None:
    page = f"/operator/cases/{case_id}"
    assert post_form(client, f"{page}/notes", {"text": text}, page=page).status_code == 302


def test_words_are_normalised_and_stemmed_the_same_way_for_texts_and_queries() -> None:
    assert words("Ёлка, ВЗЯТКА!  а  e-mail") == ["елка", "взятка", "mail"]
    assert stem("взятку") == stem("взятки") == stem("взятка")
    assert stem("bribes") == stem("bribe")
    # Kazakh: a suffix rule (no Snowball stemmer for Kazakh); short roots stay whole.
    assert kazakh_stem("әкімдікте") == kazakh_stem("әкімдіктің") == "әкімдік"
    assert stem("ақшаларын") == stem("ақша") == "ақша"
    assert kazakh_stem("ақ") == "ақ"


def test_words_of_transcripts_and_notes_find_their_cases_in_any_form(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"])
    spoken = console.add_case()  # the transcript speaks of "взятке", "акимате", "справку"
    noted = console.add_case(transcript=None)
    english = console.add_case(transcript=None)
    other = console.add_case(transcript=None)
    client = make_client("aigerim")
    _note(client, noted.id, "Инспектор ГАИ вымогал деньги на трассе Алматы — Капшагай")
    _note(client, english.id, "The caller says the customs officer demanded bribes")
    _note(client, other.id, "Әкімдікте пара талап етті")

    assert _found(client, q="взятка") == {spoken.id}
    assert _found(client, q="ВЗЯТКУ акимат") == {spoken.id}  # every word, any form, any case
    assert _found(client, q="деньги") == {spoken.id, noted.id}
    assert _found(client, q="деньги гаи") == {noted.id}
    assert _found(client, q="вымогали") == {noted.id}
    assert _found(client, q="bribe demand") == {english.id}
    assert _found(client, q="әкімдіктің") == {other.id}
    assert _found(client, q="взятка трасса") == set()  # the words are in two different cases
    assert _found(client, q="!!!") == set()
    # The live fragment the page polls filters the same way.
    live = client.get("/operator/queue/live", query_string={"q": "гаи"}).get_data(as_text=True)
    assert set(_ids(live)) == {noted.id}


def test_a_reference_whole_or_its_first_digits(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"])
    first, second = console.add_case(), console.add_case()
    client = make_client("aigerim")
    reference = console.case(first.id).reference
    assert reference
    assert _found(client, q=reference) == {first.id}
    assert _found(client, q=f"{reference[:4]} {reference[4:]}") == {first.id}
    assert first.id in _found(client, q=reference[:5])
    assert second.id not in _found(client, q=reference)


def test_a_category_by_its_name_and_an_operator_by_name(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"], display_name="Айгерим Садыкова")
    console.add_user("boss", role="supervisor", display_name="Ерлан Нуров")
    extortion, assigned, plain = console.add_case(), console.add_case(), console.add_case()
    boss = make_client("boss")
    page = f"/operator/cases/{extortion.id}"
    assert post_form(boss, f"{page}/category", {"category": "extortion"}, page=page).status_code == 302
    page = f"/operator/cases/{assigned.id}"
    operator_id = console.add_user("dana", regions=["02"], display_name="Дана Омарова")
    assert post_form(boss, f"{page}/assign", {"assignee": str(operator_id)}, page=page).status_code == 302
    assert _found(boss, q="вымогательство") == {extortion.id}  # the Russian name of the category
    assert _found(boss, q="пара талап") == {extortion.id}  # the Kazakh name
    assert _found(boss, q="Омарова") == {assigned.id}
    assert _found(boss, q="дана") == {assigned.id}
    assert plain.id not in _found(boss, q="Омарова")


def test_filters_urgent_category_assignee_new_information_and_transcript(console: Console, make_client) -> None:
    console.add_user("boss", role="supervisor")
    urgent = console.add_case(is_urgent=True)
    with_followup = console.add_case(followups=1)
    failed = console.add_case(transcript="failed")
    bribery = console.add_case()
    boss = make_client("boss")
    page = f"/operator/cases/{bribery.id}"
    assert post_form(boss, f"{page}/category", {"category": "bribery"}, page=page).status_code == 302
    assert post_form(boss, f"{page}/claim", page=page).status_code == 302
    with console.svc.sessions.begin() as session:  # a follow-up arrived on a case
        session.get_one(Case, with_followup.id).has_new_info = True

    assert _found(boss, urgent="yes") == {urgent.id}
    assert urgent.id not in _found(boss, urgent="no")
    assert _found(boss, category="bribery") == {bribery.id}
    assert bribery.id not in _found(boss, category="none")
    assert _found(boss, assignee=str(console.add_user("xenia", regions=["02"]))) == set()
    boss_id = console.audit(action="case.claimed")[0].actor.split(":")[1]
    assert _found(boss, assignee=boss_id) == {bribery.id}
    assert bribery.id not in _found(boss, assignee="none")
    assert _found(boss, new_info="yes") == {with_followup.id}
    assert _found(boss, transcript="failed") == {failed.id}
    assert _found(boss, urgent="yes", q="взятка") == {urgent.id}  # filters and words together
    assert _found(boss, urgent="bogus") == _found(boss)  # an unknown value is ignored


def test_search_keeps_to_the_regions_a_person_may_see(console: Console, make_client) -> None:
    console.add_user("almaty", regions=["02"])
    console.add_user("boss", role="supervisor")
    mine, theirs = console.add_case(region="02"), console.add_case(region="05")
    client = make_client("almaty")
    assert _found(client, q="взятка") == {mine.id}
    assert _found(client, q=console.case(theirs.id).reference or "") == set()
    assert _found(make_client("boss"), q="взятка") == {mine.id, theirs.id}


def test_saved_searches_belong_to_one_person(console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"], locale="kk")
    console.add_user("dana", regions=["02"])
    case = console.add_case(is_urgent=True)
    client = make_client("aigerim")
    query = "q=%D0%B2%D0%B7%D1%8F%D1%82%D0%BA%D0%B0&urgent=yes"
    response = post_form(client, "/operator/searches", {"name": "Шұғыл пара", "query": query})
    assert response.status_code == 302 and response.headers["Location"].endswith("?" + query)
    body = client.get("/operator/").get_data(as_text=True)
    assert "Шұғыл пара" in body and "Сақталған іздеулер" in body
    link = re.search(r'href="(/operator/\?[^"]+)">Шұғыл пара', body)
    assert link is not None
    assert set(_ids(client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True))) == {case.id}
    assert "Шұғыл пара" not in make_client("dana").get("/operator/").get_data(as_text=True)
    # Saving the same name again replaces it; another person cannot delete it.
    post_form(client, "/operator/searches", {"name": "шұғыл ПАРА", "query": "urgent=yes"})
    body = client.get("/operator/").get_data(as_text=True)
    assert body.count("/operator/searches/") == 1
    saved_id = re.search(r"/operator/searches/(\d+)/delete", body).group(1)  # type: ignore[union-attr]
    assert post_form(make_client("dana"), f"/operator/searches/{saved_id}/delete").status_code == 404
    assert post_form(client, f"/operator/searches/{saved_id}/delete").status_code == 302
    assert "/operator/searches/" not in client.get("/operator/").get_data(as_text=True)


def test_reindex_rebuilds_the_index_and_search_survives_a_key_rotation(
    app: Flask, console: Console, make_client, make_settings, database_url: str
) -> None:
    console.add_user("aigerim", regions=["02"])
    spoken = console.add_case()
    client = make_client("aigerim")
    _note(client, spoken.id, "Свидетель Ермеков видел конверт")
    sessions = console.svc.sessions
    with sessions.begin() as session:
        before = session.scalar(select(func.count()).select_from(SearchTerm))
        session.execute(delete(SearchTerm))
    assert before and _found(client, q="взятка") == set()
    report = search_index.reindex(sessions)
    assert (report.transcripts, report.notes) == (1, 1) and report.terms == before
    assert _found(client, q="взятка конверт") == {spoken.id}

    # A new data key becomes current, the old one stays readable: the old index is still searched,
    # and a reindex moves every term to the new key.
    rotated = make_settings(database_url=database_url, data_key=base64.b64encode(b"n" * 32).decode(),
                            data_key_id="k2", old_data_keys=f"k1:{console.svc.settings.data_key.get_secret_value()}")
    engine = make_engine(database_url, data_keys=rotated.data_keys)
    new_sessions = make_sessionmaker(engine)
    from ivr.app import create_app

    new_app = create_app(rotated)
    try:
        new_client = new_app.test_client()
        from tests.operator.console import sign_in

        assert sign_in(new_client, "aigerim").status_code == 302
        assert _found(new_client, q="ермеков") == {spoken.id}
        report = search_index.reindex(new_sessions)
        assert report.key_id == "k2"
        with new_sessions() as session:
            assert set(session.scalars(select(SearchTerm.key_id))) == {"k2"}
        assert _found(new_client, q="ермеков") == {spoken.id}
    finally:
        new_app.extensions["ivr"].close()
        engine.dispose()


def test_the_api_searches_like_the_console(app: Flask, console: Console, make_client) -> None:
    console.add_user("aigerim", regions=["02"])
    spoken, other = console.add_case(), console.add_case(transcript=None, is_urgent=True)
    theirs = console.add_case(region="05")
    api = app.test_client()
    headers = {"Authorization": f"Bearer {console.token_for('aigerim')}"}

    def ids(**args: str) -> set[int]:
        response = api.get("/api/cases", query_string=args, headers=headers)
        assert response.status_code == 200
        return {row["id"] for row in response.json["cases"]}

    assert ids(q="взятку") == {spoken.id}
    assert theirs.id not in ids(q="взятку")
    assert ids(urgent="yes") == {other.id}
    assert ids(transcript="none") == set()
