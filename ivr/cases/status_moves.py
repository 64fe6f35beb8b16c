"""One way to move a case's status for the console and the API, whatever the move needs.

Forwarding names the receiving body (`referrals.forward`); closing as a duplicate names the case
that carries on (`links.close_as_duplicate`); every other move is `casework.change_status`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.cases import casework, links, referrals
from ivr.cases.recipients import RecipientsError, load_recipients
from ivr.models import Case


def move(
    session: Session, principal: Principal, case: Case, status: str, reason: str | None, *,
    recipients_path: Path, recipient: str | None = None, include_identity: bool = False,
    duplicate_of_id: int | None = None,
) -> None:
    """Move the case to `status`; Invalid or NotAllowed (with an i18n code) when the move is refused."""
    if status == "forwarded" and status != case.status:
        try:
            recipients = load_recipients(recipients_path)
        except RecipientsError:
            raise casework.Invalid("referral.config_broken") from None
        referrals.forward(session, principal, case, recipients.get(recipient), include_identity=include_identity)
    elif status == "closed" and reason == "duplicate" and status != case.status:
        original = session.get(Case, duplicate_of_id) if duplicate_of_id is not None else None
        if original is None or not principal.may_see(original):
            raise casework.Invalid("links.duplicate_needs_original")
        links.close_as_duplicate(session, principal, case, original)
    else:
        casework.change_status(session, principal, case, status, reason)
