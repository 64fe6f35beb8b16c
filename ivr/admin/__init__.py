"""The one admin area: blueprint "admin" at /admin (flows in `routes`, accounts in `people`, the
line's state in `system`).

`bp` is declared here and the view modules imported at the bottom, as in every blueprint package;
so importing anything under ivr.admin loads the admin's views (Flask, the console's access rules).
What the pages share with the command line lives outside: the flow check in `ivr.flow_checks`,
the call figures in `ivr.flow_figures`, the commands in `ivr.admin_cli`; so `ivr flow check`,
`ivr flow show` and the workers `ivr` starts never load Flask.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, template_folder="templates", static_folder="static", static_url_path="/static")

from ivr.admin import people, routes, system  # noqa: E402, F401  (they register their views on bp)
