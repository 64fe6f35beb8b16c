"""The JSON API for the agency's other systems: blueprint "api" at /api, bearer-token auth."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)

from ivr.api import routes  # noqa: E402, F401  (registers the views on bp)
