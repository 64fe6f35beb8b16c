"""The one admin area: blueprint "admin" at /admin (flows in `routes`, accounts in `people`, the
line's state in `system`), with what only those pages and `ivr flow` use (`checks`, `figures`).

`bp` is declared here and the view modules imported at the bottom, as in every blueprint package;
so importing anything under ivr.admin loads the admin's views (Flask, the console's access rules).
The admin commands therefore live outside, in `ivr.admin_cli`: `ivr` and the workers it starts
(`ivr worker`) never load them; only a command that reads flows (`ivr flow check`) imports
`ivr.admin.checks` when it runs.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, template_folder="templates", static_folder="static", static_url_path="/static")

from ivr.admin import people, routes, system  # noqa: E402, F401  (they register their views on bp)
