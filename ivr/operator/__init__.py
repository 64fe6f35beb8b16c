"""The operator console: blueprint "operator" at /operator (server-rendered, a little JavaScript).

A thin view over `ivr.cases`. `bp` is declared here rather than in `routes.py` because several
view modules register on it (`auth`, `routes` and others; `moved` redirects the old /operator/admin/*
to the admin area) and `routes` imports `auth`'s helpers.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "operator",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from ivr.operator import auth, case_relations, moved, routes, searching, thread_views  # noqa: E402, F401  (they register their views on bp)
