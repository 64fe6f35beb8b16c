"""The JSON API for the agency's other systems: blueprint "api" at /api, bearer-token auth.

`bp` is declared here and the view module (`routes`) imported at the bottom, as in every blueprint
package.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)

from ivr.api import routes  # noqa: E402, F401  (it registers its views on bp)
