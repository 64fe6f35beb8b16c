"""Old addresses of pages that moved: permanent redirects, so bookmarks and links keep working.

Accounts and the line's status were at /operator/admin/*; they are in the one admin area at
/admin/* now (`ivr.admin`). GET and HEAD get 301; other methods get 308, which keeps the method
and the form (its CSRF token included) for the new address to check as usual.
"""

from __future__ import annotations

from flask import redirect, request
from werkzeug.wrappers import Response

from ivr.operator import bp

MOVED_PREFIX = "/admin"  # under the console's /operator


@bp.route(f"{MOVED_PREFIX}/", defaults={"rest": ""}, methods=["GET", "HEAD", "POST"])
@bp.route(f"{MOVED_PREFIX}/<path:rest>", methods=["GET", "HEAD", "POST"])
def moved_to_admin(rest: str) -> Response:
    """/operator/admin/<rest> is /admin/<rest> now (the query string kept)."""
    target = f"/admin/{rest}"
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    return redirect(target, code=301 if request.method in ("GET", "HEAD") else 308)
