"""Blueprint "ops": health, readiness and metrics.

`bp` is declared here and the view module (`routes`) imported at the bottom, as in every blueprint
package. The gauges the metrics read live in `ivr.line_gauges` (the services use them too).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ops", __name__)

from ivr.ops import routes  # noqa: E402, F401  (it registers its views on bp)
