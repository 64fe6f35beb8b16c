"""One admin area at /admin: accounts, the line's status, flows and a trial call, under one navigation
and one rule (admins only); the old /operator/admin/* addresses redirect there for good."""

from __future__ import annotations

import re

import pytest

from ivr import accounts
from tests.operator.console import PASSWORD, Console, csrf_token, sign_in

ADMIN_PAGES = ("/admin/users", "/admin/system", "/admin/", "/admin/lines/public", "/admin/simulate")


@pytest.fixture
def root(console: Console, make_client):  # type: ignore[no-untyped-def]
    console.add_user("root", role="admin")
    return make_client("root")


def test_old_addresses_redirect_permanently_to_the_admin_area(app, console: Console, root) -> None:  # type: ignore[no-untyped-def]
    dana = console.add_user("dana", role="supervisor")
    for old, new in (("/operator/admin/users", "/admin/users"),
                     (f"/operator/admin/users/{dana}", f"/admin/users/{dana}"),
                     ("/operator/admin/system?x=1", "/admin/system?x=1")):
        moved = root.get(old)
        assert moved.status_code == 301 and moved.headers["Location"] == new, old
        assert root.get(old, follow_redirects=True).status_code == 200, old
    # Nobody learns anything from the redirect: signed out, the new address sends them to sign in.
    signed_out = app.test_client().get("/operator/admin/users", follow_redirects=False)
    assert signed_out.status_code == 301
    assert "/operator/login" in app.test_client().get("/admin/users").headers["Location"]


def test_an_old_form_address_keeps_its_method_and_form(console: Console, root) -> None:  # type: ignore[no-untyped-def]
    token = csrf_token(root, "/admin/users")
    form = {"csrf_token": token, "username": "bolat", "display_name": "Болат", "role": "operator",
            "regions": "02", "locale": "kk", "password": "long enough password"}
    before = len(console.audit(action="operator.created"))
    moved = root.post("/operator/admin/users", data=form)
    assert moved.status_code == 308 and moved.headers["Location"] == "/admin/users"  # 308: POST again, same form
    assert len(console.audit(action="operator.created")) == before
    created = root.post(moved.headers["Location"], data=form)  # what the browser does with a 308
    assert created.status_code == 302
    with console.svc.sessions() as session:
        assert accounts.get_operator(session, "bolat").locale == "kk"


@pytest.mark.parametrize("username", ["aigerim", "dana"])
def test_one_rule_admins_only(console: Console, make_client, username: str) -> None:  # type: ignore[no-untyped-def]
    console.add_user("aigerim", role="operator")
    console.add_user("dana", role="supervisor")
    client = make_client(username)
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 403, path


def test_every_admin_page_has_the_one_navigation_and_a_sign_out(root) -> None:  # type: ignore[no-untyped-def]
    for path in ADMIN_PAGES:
        page = root.get(path)
        body = page.get_data(as_text=True)
        assert page.status_code == 200, path
        assert body.count("<nav class=\"menu\"") == 1, path
        menu = re.search(r'<nav class="menu".*?</nav>', body, re.S)
        assert menu, path
        links = re.findall(r'href="([^"]+)"', menu.group(0))
        assert links == ["/admin/users", "/admin/system", "/admin/", "/admin/simulate"], (path, links)
        assert re.search(r'<form method="post" action="/operator/logout">', body), path
        assert 'class="locale"' in body, path


def test_an_admin_lands_in_the_admin_area_and_signing_out_works_from_it(app, console: Console) -> None:  # type: ignore[no-untyped-def]
    console.add_user("root", role="admin")
    client = app.test_client()
    signed_in = sign_in(client, "root")
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/admin/users"
    token = csrf_token(client, "/admin/system")
    out = client.post("/operator/logout", data={"csrf_token": token})
    assert out.status_code == 302 and client.get("/admin/system").status_code == 302

    # Sent to sign in from an admin page, one comes back to it.
    asked = client.get("/admin/system")
    login = asked.headers["Location"]
    token = csrf_token(client, login)
    back = client.post(login, data={"username": "root", "password": PASSWORD, "csrf_token": token})
    assert back.status_code == 302 and back.headers["Location"] == "/admin/system"


@pytest.mark.parametrize(("locale", "words"), [
    ("ru", ("Действующие сценарии звонка", "Пробный звонок", "Пользователи", "Выйти")),
    ("kk", ("Қолданыстағы қоңырау сценарийлері", "Сынақ қоңырауы", "Шығу")),
    ("en", ("Flows in service", "Try a call", "Sign out")),
])
def test_admin_pages_speak_the_persons_language(console: Console, make_client, locale: str,  # type: ignore[no-untyped-def]
                                                words: tuple[str, ...]) -> None:
    console.add_user("root", role="admin", locale=locale)
    client = make_client("root")
    bodies = {path: client.get(path).get_data(as_text=True) for path in ADMIN_PAGES}
    for path, body in bodies.items():
        assert f'<html lang="{locale}">' in body, path
        assert not re.search(r">\s*(admin|nav|users|system)\.[a-z_.]+\s*<", body), path  # no key shown raw
    everything = " ".join(bodies.values())
    for word in words:
        assert word in everything, word
