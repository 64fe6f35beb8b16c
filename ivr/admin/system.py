"""The admin's view of the line at /admin/system: the flow in service, the job queues, failed intakes.

Moved here from /operator/admin/system, which now redirects (`ivr.operator.moved`).
"""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from ivr.admin import bp
from ivr.models import FAILED, Intake
from ivr.operator.auth import admins_only
from ivr.services import services


@bp.get("/system")
@admins_only
def system() -> str:
    """The state of the line: the flow in service, queues, failures."""
    svc = services()
    gauges = svc.gauges()
    with svc.sessions() as db:
        failed = db.scalar(select(func.count()).select_from(Intake).where(Intake.status == FAILED)) or 0
    return render_template(
        "admin/system.html",
        flow=svc.flows.current,
        flow_error=svc.flows.last_error,
        pending=gauges["ivr_intakes_pending"][1],
        queue_depth=gauges["ivr_queue_depth"][1],
        failed=failed,
    )
