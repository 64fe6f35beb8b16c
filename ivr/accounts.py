"""Operator accounts: roles, regions, passwords (Argon2id), lock-out and API tokens.

Imports no Flask: the console, the JSON API and the `ivr user` command all go through here,
so one set of rules decides who may sign in and which cases each person may see.

Roles:
- operator: the cases of the regions assigned to them and the duty queue (open urgent cases and cases
  without a region, see `in_duty_queue`); the disguised voice of anonymous callers.
- supervisor: every case, assignment, the original voice (audited), audit log and statistics.
- admin: accounts and the state of the line; no cases (they are IT staff, not investigators).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from ivr.db import utc_now
from ivr.models import OPERATOR_ROLES, ApiToken, AuditEvent, Case, Operator

Role = Literal["operator", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("operator", "supervisor", "admin")
assert ROLES == OPERATOR_ROLES
LOCALES = ("ru", "kk", "en")

MAX_FAILED_LOGINS = 5
"""Wrong passwords in a row before the account locks."""
LOCKOUT = timedelta(minutes=15)
"""How long a locked account stays locked (an admin can unlock it sooner)."""
MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TOKEN_PREFIX = "ivr_"
ACTOR_PREFIX = "operator:"  # audit events name a person as operator:<id>


def actor_of(operator: Operator) -> str:
    """How audit events name this account when it acts."""
    return f"{ACTOR_PREFIX}{operator.id}"


class AccountError(ValueError):
    """A request about an account that cannot be done; the message says why, in English."""


@dataclass(frozen=True)
class Principal:
    """Who is acting, as the console and the API see them: a snapshot of an operator row."""

    id: int
    username: str
    display_name: str
    role: Role
    region_codes: tuple[str, ...]
    locale: str
    session_version: int = 1

    @classmethod
    def of(cls, operator: Operator) -> Principal:
        """The principal of an operator row."""
        return cls(
            id=operator.id,
            username=operator.username,
            display_name=operator.display_name or operator.username,
            role=operator.role,  # type: ignore[arg-type]
            region_codes=tuple(operator.region_codes or ()),
            locale=operator.locale or "ru",
            session_version=operator.session_version,
        )

    @property
    def actor(self) -> str:
        """How audit events name this person."""
        return f"{ACTOR_PREFIX}{self.id}"

    @property
    def sees_cases(self) -> bool:
        """Whether this person works with reports at all."""
        return self.role in ("operator", "supervisor")

    @property
    def sees_all_regions(self) -> bool:
        """Supervisors see every region, and cases whose region the caller never gave."""
        return self.role == "supervisor"

    @property
    def is_supervisor(self) -> bool:
        """Assigns cases, hears original voices, reads the audit log and statistics."""
        return self.role == "supervisor"

    @property
    def is_admin(self) -> bool:
        """Manages accounts and watches the line."""
        return self.role == "admin"

    def may_see(self, case: Case) -> bool:
        """Whether this person may open this case (list, detail, audio, API alike).

        An operator sees their regions' cases and the duty queue (`in_duty_queue`), and keeps a
        case they took from it (its assignee) after it leaves the queue.
        """
        if not self.sees_cases:
            return False
        if self.sees_all_regions:
            return True
        if case.region_code is not None and case.region_code in self.region_codes:
            return True
        return in_duty_queue(case) or (case.assignee_id is not None and case.assignee_id == self.id)

    def case_scope(self) -> ColumnElement[bool]:
        """The same rule as a SQL condition on `Case`, for lists and counts."""
        if not self.sees_cases:
            return false()
        if self.sees_all_regions:
            return true()
        duty = or_(duty_queue_condition(), Case.assignee_id == self.id)
        if not self.region_codes:
            return duty
        return or_(Case.region_code.in_(self.region_codes), duty)


def in_duty_queue(case: Case) -> bool:
    """The duty queue every operator on duty sees, whatever their regions (issue 12.1).

    An urgent case that is still open (a bribe being demanded right now cannot wait for the
    region's operator), and a case whose caller named no region (nobody else would see it until
    a supervisor routes it). A closed urgent case goes back to its region's people only.
    """
    return case.region_code is None or (bool(case.is_urgent) and case.status != "closed")


def duty_queue_condition() -> ColumnElement[bool]:
    """`in_duty_queue` as a SQL condition on `Case`."""
    return or_(Case.region_code.is_(None), and_(Case.is_urgent.is_(True), Case.status != "closed"))


# ---------------------------------------------------------------- passwords


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # argon2-cffi's defaults: Argon2id, RFC 9106's low-memory profile.
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An Argon2id hash of the password."""
    return _hasher().hash(password)


def check_password_strength(password: str) -> None:
    """AccountError unless the password is long enough to be worth hashing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; an unknown user still costs one hash, so timing tells nothing."""
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------- managing accounts


def normalise_username(username: str) -> str:
    """Usernames are compared in lower case."""
    return username.strip().lower()


def find_operator(session: Session, username: str) -> Operator | None:
    """The account with this username, if any."""
    return session.scalars(select(Operator).where(Operator.username == normalise_username(username))).first()


def get_operator(session: Session, username: str) -> Operator:
    """The account with this username; AccountError if there is none."""
    operator = find_operator(session, username)
    if operator is None:
        raise AccountError(f"no account named {normalise_username(username)!r}")
    return operator


def _check_role_regions(role: str, regions: list[str], known_regions: set[str] | None) -> list[str]:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    codes = sorted({code.strip() for code in regions if code.strip()})
    if known_regions is not None:
        unknown = [code for code in codes if code not in known_regions]
        if unknown:
            raise AccountError(f"unknown region code(s): {', '.join(unknown)}")
    if role == "operator" and not codes:
        raise AccountError("an operator needs at least one region")
    return codes if role == "operator" else []


def create_operator(
    session: Session,
    *,
    username: str,
    password: str,
    role: str = "operator",
    regions: list[str] | None = None,
    display_name: str = "",
    locale: str = "ru",
    known_regions: set[str] | None = None,
    actor: str = "cli",
) -> Operator:
    """A new account; AccountError if the name is taken or a value is not allowed."""
    name = normalise_username(username)
    if not USERNAME.match(name):
        raise AccountError("a username is 2-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if find_operator(session, name) is not None:
        raise AccountError(f"an account named {name!r} exists already")
    check_password_strength(password)
    if locale not in LOCALES:
        raise AccountError(f"locale must be one of {', '.join(LOCALES)}")
    codes = _check_role_regions(role, regions or [], known_regions)
    operator = Operator(
        username=name,
        display_name=display_name.strip() or name,
        role=role,
        region_codes=codes,
        password_hash=hash_password(password),
        locale=locale,
        is_active=True,
        failed_logins=0,
        session_version=1,
    )
    session.add(operator)
    session.flush()
    _audit(session, actor, "operator.created", operator_id=operator.id, role=role, regions=codes)
    return operator


def update_operator(
    session: Session,
    operator: Operator,
    *,
    role: str | None = None,
    regions: list[str] | None = None,
    display_name: str | None = None,
    locale: str | None = None,
    known_regions: set[str] | None = None,
    actor: str = "cli",
) -> Operator:
    """Change role, regions, name or language; a new role or regions ends the person's sessions.

    Nobody changes their own role or regions: an admin who could would make itself a supervisor.
    """
    new_role = role if role is not None else operator.role
    new_regions = regions if regions is not None else list(operator.region_codes or [])
    codes = _check_role_regions(new_role, new_regions, known_regions)
    if locale is not None and locale not in LOCALES:
        raise AccountError(f"locale must be one of {', '.join(LOCALES)}")
    if new_role != operator.role or codes != list(operator.region_codes or []):
        if actor == actor_of(operator):
            raise AccountError("nobody may change their own role or regions; ask another admin")
        operator.role, operator.region_codes = new_role, codes
        operator.session_version += 1
        _audit(session, actor, "operator.access_changed", operator_id=operator.id, role=new_role, regions=codes)
    name = (display_name.strip() or operator.username) if display_name is not None else operator.display_name
    new_locale = locale if locale is not None else operator.locale
    if (name, new_locale) != (operator.display_name, operator.locale):
        operator.display_name, operator.locale = name, new_locale
        _audit(session, actor, "operator.profile_changed", operator_id=operator.id, locale=new_locale)
    return operator


def set_password(session: Session, operator: Operator, password: str, *, actor: str = "cli") -> None:
    """A new password; it unlocks the account and ends every session signed in with the old one."""
    check_password_strength(password)
    operator.password_hash = hash_password(password)
    operator.failed_logins = 0
    operator.locked_until = None
    operator.session_version += 1
    _audit(session, actor, "operator.password_changed", operator_id=operator.id)


def set_active(session: Session, operator: Operator, is_active: bool, *, actor: str = "cli") -> None:
    """Disable (ending every session and token use at once) or enable an account."""
    if operator.is_active == is_active:
        return
    operator.is_active = is_active
    operator.session_version += 1
    _audit(session, actor, "operator.enabled" if is_active else "operator.disabled", operator_id=operator.id)


def unlock(session: Session, operator: Operator, *, actor: str = "cli") -> None:
    """Lift a lock-out before it expires."""
    operator.failed_logins = 0
    operator.locked_until = None
    _audit(session, actor, "operator.unlocked", operator_id=operator.id)


def list_operators(session: Session) -> list[Operator]:
    """Every account, by username."""
    return list(session.scalars(select(Operator).order_by(Operator.username)))


# ---------------------------------------------------------------- signing in


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the principal, or why not (`bad`, `locked`, `disabled`)."""

    principal: Principal | None
    reason: str = ""
    locked_until: datetime | None = None



def is_locked(operator: Operator, *, now: datetime | None = None) -> bool:
    """Whether the account is locked out right now."""
    locked_until = operator.locked_until
    return locked_until is not None and locked_until > (now or utc_now())


def authenticate(sessions: sessionmaker[Session], username: str, password: str, *,
                 now: datetime | None = None) -> SignIn:
    """Check a username and password, counting failures; the account locks after too many.

    The failure counter moves in one statement before the password is checked (issue 10.7):
    an attempt first claims one of the allowed tries, so parallel guesses over many processes
    get exactly MAX_FAILED_LOGINS checks and the rest are refused. The slow hash runs between
    two short transactions, holding no lock. An unknown name, a locked account and a wrong
    password run the same statements and one Argon2 check, and the console answers them alike.
    Every attempt is audited; a failure for an unknown name is audited without the name:
    people type passwords into the username field.
    """
    now = now or utc_now()
    name = normalise_username(username)
    with sessions.begin() as session:
        known = session.execute(
            select(Operator.id, Operator.locked_until).where(Operator.username == name)
        ).first()
        claim = _claim_sign_in(session, name, now)
    is_valid = verify_password(claim[0] if claim else None, password)  # a dummy hash when refused
    with sessions.begin() as session:
        if known is None:
            _audit(session, "anonymous", "operator.sign_in_failed", reason="unknown_user")
            return SignIn(None, "bad")
        actor = f"operator:{known.id}"
        if claim is None:
            _audit(session, actor, "operator.sign_in_refused", reason="locked")
            return SignIn(None, "locked", known.locked_until)
        if not is_valid:
            locked_until = claim[1]
            reason = "locked" if locked_until is not None else "bad"
            _audit(session, actor, "operator.sign_in_failed", reason=reason)
            return SignIn(None, reason, locked_until)
        operator = session.get_one(Operator, known.id)
        if not operator.is_active:
            _audit(session, actor, "operator.sign_in_refused", reason="disabled")
            return SignIn(None, "disabled")
        if _hasher().check_needs_rehash(operator.password_hash):
            operator.password_hash = hash_password(password)
        operator.failed_logins = 0
        operator.locked_until = None
        operator.last_login_at = now
        _audit(session, actor, "operator.signed_in")
        return SignIn(Principal.of(operator))


def _claim_sign_in(session: Session, name: str, now: datetime) -> tuple[str, datetime | None] | None:
    """Take one of the account's allowed tries: its password hash and new lock, or None if locked or unknown.

    One statement, so the database serialises concurrent claims on the row; the claim that
    reaches the limit sets the lock in the same write. SET expressions read the old row.
    """
    is_open = or_(Operator.locked_until.is_(None), Operator.locked_until <= now)
    counted = case((Operator.locked_until.is_(None), func.coalesce(Operator.failed_logins, 0) + 1), else_=1)
    statement = (
        update(Operator)
        .where(Operator.username == name, is_open)
        .values(failed_logins=counted, locked_until=case((counted >= MAX_FAILED_LOGINS, now + LOCKOUT), else_=None))
        .returning(Operator.password_hash, Operator.locked_until)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    return (row[0], row[1]) if row is not None else None


def load_principal(session: Session, operator_id: int, session_version: int) -> Principal | None:
    """The principal of a signed-in session, unless the account was disabled or changed since."""
    operator = session.get(Operator, operator_id)
    if operator is None or not operator.is_active or operator.session_version != session_version:
        return None
    return Principal.of(operator)


# ---------------------------------------------------------------- API tokens


def _token_digest(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough, and lookups stay one indexed query.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, operator: Operator, name: str, *, actor: str = "cli") -> str:
    """A new API token acting as `operator`; only its hash is stored, so show it once.

    A person may hold a token only for their own account: one issued by somebody else would let
    that person act under another name (an admin reading cases as a supervisor). The `ivr user
    token` command (a shell on the server, which holds the keys anyway) names its user as actor.
    """
    if actor.startswith(ACTOR_PREFIX) and actor != actor_of(operator):
        raise AccountError("an API token can only be issued by the account it acts as")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(operator_id=operator.id, name=name.strip()[:64] or "api", token_sha256=_token_digest(token))
    session.add(row)
    session.flush()
    _audit(session, actor, "api_token.issued", operator_id=operator.id, token_id=row.id)
    return token


def revoke_token(session: Session, token_id: int, *, actor: str = "cli") -> None:
    """Stop a token from working."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise AccountError(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utc_now()
        _audit(session, actor, "api_token.revoked", operator_id=row.operator_id, token_id=row.id)


def principal_for_token(session: Session, token: str) -> Principal | None:
    """Who a bearer token acts as; None if unknown, revoked, or its account is disabled."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == _token_digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    operator = session.get(Operator, row.operator_id)
    if operator is None or not operator.is_active:
        return None
    now = utc_now()
    last = row.last_used_at
    if last is None or now - last > timedelta(minutes=5):  # spare the database a write per request
        row.last_used_at = now
    return Principal.of(operator)


def _audit(session: Session, actor: str, action: str, **detail: Any) -> None:
    session.add(AuditEvent(actor=actor, action=action, detail=detail))
