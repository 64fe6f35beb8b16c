"""Issue 10.4 with issue 12.3: searching report text stores no word of it.

The blind index holds keyed 64-bit terms, and saved searches are encrypted: after words were
indexed (a transcript, a note, a correction), searched for and saved as a named search, a copy
of the database holds neither the words nor their stems, in any encoding. The terms of one word
are the same in every case (that is what makes search work, and what the README says the index
reveals), and they change with the data key.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ivr.models import SearchTerm
from ivr.search_terms import TermKeys, stem
from ivr.settings import Settings
from tests.operator.console import Console, post_form
from tests.security.test_report_text_encrypted_at_rest import dump_database

pytestmark = pytest.mark.usefixtures("fast_password_hashes")

NOTE = "Свидетель Ермеков видел, как аким Толегенов взял конверт, witness Yermekov"
CORRECTION = "Заместитель Жанибеков требовал откат, kickback demanded by Zhanibekov"
WORDS = ("Ермеков", "Толегенов", "конверт", "Yermekov", "witness", "Жанибеков", "откат", "kickback", "Zhanibekov")


def needles() -> list[bytes]:
    """Each word and its stem, as UTF-8, as JSON escapes, as UTF-16, in upper and lower case."""
    found: list[bytes] = []
    for word in WORDS:
        for form in {word, word.lower(), stem(word.lower())}:
            if len(form) >= 4:
                found += [form.encode(), json.dumps(form)[1:-1].encode(), form.encode("utf-16-le")]
    return found


def test_search_holds_no_plaintext(app: Flask, console: Console, make_client: Any, settings: Settings) -> None:
    console.add_user("aigerim", regions=["02"])
    case = console.add_case()
    other = console.add_case()
    client = make_client("aigerim")
    page = f"/operator/cases/{case.id}"
    assert post_form(client, f"{page}/notes", {"text": NOTE}, page=page).status_code == 302
    path = f"{page}/recordings/{case.intake_id}/transcript"
    assert post_form(client, path, {"text": CORRECTION}, page=page).status_code == 302
    other_page = f"/operator/cases/{other.id}"
    assert post_form(client, f"{other_page}/notes", {"text": "Толегенов снова"}, page=other_page).status_code == 302

    # Search works on the words, in other forms too, and a search is saved by name.
    for query, expected in (("Ермекова", {case.id}), ("толегенова конверт", {case.id}),
                            ("Толегенов", {case.id, other.id}), ("kickbacks", {case.id})):
        body = client.get("/operator/", query_string={"q": query}).get_data(as_text=True)
        assert {int(i) for i in re.findall(r'data-case="(\d+)"', body)} == expected, query
    assert post_form(client, "/operator/searches",
                     {"name": "Жанибеков откат", "query": "q=%D0%96%D0%B0%D0%BD%D0%B8%D0%B1%D0%B5%D0%BA%D0%BE%D0%B2"}
                     ).status_code == 302

    # The terms of a word are equal across cases (what the index reveals), and keyed: another
    # data key gives other terms, so a dictionary of terms cannot be built without the key.
    keys = TermKeys(settings.data_keys)
    term = keys.term(stem("толегенов"))
    with console.svc.sessions() as session:
        holders = set(session.scalars(select(SearchTerm.case_id).where(SearchTerm.term == term)))
    assert holders == {case.id, other.id}
    assert TermKeys({"other": b"o" * 32}).term(stem("толегенов")) != term

    app.extensions["ivr"].close()
    dump = dump_database(settings.database_url)
    assert len(dump) > 1000, "the dump is suspiciously empty"
    leaked = sorted({n.decode("utf-8", "replace") for n in needles() if n in dump})
    assert not leaked, f"plain words of reports in the database dump: {leaked}"
