"""Accounts: registration, authentication, staff creation, listing, and the account's
sessions: log-out, password change, reset links, deactivation. No HTTP here.

Every session of an account is ended at once by raising its ``session_version`` (tokens
carry the version they were issued at; market/security/auth.py compares it)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from market.accounts import rules
from market.accounts.models import STAFF_ROLES, AccountCount, AppUser, PasswordReset, Role, UserCreate
from market.agencies.models import Agency
from market.core.clock import utcnow
from market.core.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
)
from market.core.i18n import N_
from market.core.ids import next_public_id
from market.core.pagination import decode_cursor, encode_cursor
from market.halls import rules as halls_rules
from market.halls.models import Jurisdiction
from market.halls.queries import all_halls, codes_under
from market.log import store as log
from market.notices.models import OwnerOrg
from market.protocol import entry_types
from market.reference import regions
from market.security.passwords import dummy_hash, hash_password, verify_password
from market.security.ratelimit import FailureBackoff

USER_ID_SEQUENCE = "app_user_public_seq"
RESET_LINK_TTL = timedelta(hours=24)
# The one page a reset link opens, whoever sent it (an administrator now, a mailer later).
RESET_PATH = "/password-reset"
DEACTIVATED = N_("This account has been deactivated. Ask an administrator if you think this is a mistake.")
RESET_LINK_UNUSABLE = N_(
    "This link is not valid: it has expired, has been used, or a newer one was issued. Ask an administrator for a new link."
)


class AccountDeactivated(DomainError):
    """The right password for a deactivated account. Only someone who knows the password
    learns that the account exists and is deactivated; everyone else gets the answer of a
    wrong password, as before."""

    def __init__(self) -> None:
        super().__init__(detail=DEACTIVATED, status=403, title="Forbidden")


async def find_by_email(session: AsyncSession, email: str) -> AppUser | None:
    stmt = select(AppUser).where(sa.func.lower(AppUser.email) == email.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_public_id(session: AsyncSession, public_id: str) -> AppUser | None:
    stmt = select(AppUser).where(AppUser.public_id == public_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _insert(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    name: str,
    role: Role,
    jurisdiction: str | None = None,
) -> AppUser:
    if await find_by_email(session, email) is not None:
        raise Conflict(
            N_("This e-mail address is already registered."),
            [FieldError("email", N_("This e-mail address is already registered."))],
        )
    user = AppUser(
        public_id=await next_public_id(session, prefix="U", sequence=USER_ID_SEQUENCE),
        email=email.strip(),
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        jurisdiction=jurisdiction,
    )
    try:
        # A savepoint, so that losing a race on the unique index leaves the outer
        # transaction usable and the answer is a 409, not a 500.
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise Conflict(
            N_("This e-mail address is already registered."),
            [FieldError("email", N_("This e-mail address is already registered."))],
        ) from None
    # Public id and role only: the log never holds names or e-mail addresses.
    await log.append(
        session, type=entry_types.ACCOUNT_CREATED, fields={"user_id": user.public_id, "role": str(role)}
    )
    return user


async def register(session: AsyncSession, *, data: UserCreate) -> AppUser:
    return await _insert(session, email=data.email, password=data.password, name=data.name, role=data.role)


async def create_staff(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    name: str,
    role: Role,
    jurisdiction: str = halls_rules.PROVINCE,
    granted_by: str | None = None,
) -> AppUser:
    """Admins and supervisors are created by the ``market`` command or by an administrator
    above them, never self-registered; ``granted_by`` is that administrator's public id
    (None: the operator's command). The grant is logged with the jurisdiction it reaches."""
    if role not in STAFF_ROLES:
        raise InvalidInput(
            "Staff accounts are admin or supervisor", [FieldError("role", "must be admin or supervisor")]
        )
    if await session.get(Jurisdiction, jurisdiction) is None:
        raise InvalidInput(
            N_("No such jurisdiction."), [FieldError("jurisdiction", N_("No such jurisdiction."))]
        )
    # Same rules as registration for everything but the role.
    checked = UserCreate.model_validate({"email": email, "password": password, "name": name, "role": "owner"})
    user = await _insert(
        session,
        email=checked.email,
        password=checked.password,
        name=checked.name,
        role=role,
        jurisdiction=jurisdiction,
    )
    await log.append(
        session,
        type=entry_types.STAFF_GRANTED,
        fields={
            "user_id": user.public_id,
            "role": str(role),
            "jurisdiction": jurisdiction,
            "by": granted_by or "operator",
        },
    )
    return user


async def authenticate(
    session: AsyncSession, *, email: str, password: str, backoff: FailureBackoff | None = None
) -> AppUser | None:
    """The account these credentials open, or None; AccountDeactivated (403) when the
    password is right but the account is deactivated. With ``backoff``, an account that
    has failed too often must wait (429) before any attempt is even checked."""
    # The attempt is counted (as a failure until it succeeds) before the password is
    # checked, in the database every host shares: simultaneous guesses wait their turn.
    if backoff is not None and (wait := await backoff.attempt(email)) is not None:
        raise TooManyRequests(
            wait, N_("Too many failed log-ins for this account; try again in {retry_after} s")
        )
    user = await find_by_email(session, email)
    if user is None:
        verify_password(password, dummy_hash())
    elif verify_password(password, user.password_hash):
        if backoff is not None:
            await backoff.succeeded(email)
        if not user.is_active:
            raise AccountDeactivated()
        return user
    return None


# -- sessions and passwords ------------------------------------------------------------------


async def _end_sessions(session: AsyncSession, user: AppUser) -> None:
    """Every token issued to ``user`` so far stops working (one UPDATE, which also locks
    the row: two changes to one account do not interleave)."""
    stmt = (
        sa.update(AppUser)
        .where(col(AppUser.id) == user.id)
        .values(session_version=col(AppUser.session_version) + 1)
        .returning(col(AppUser.session_version))
    )
    version = int(
        (await session.execute(stmt, execution_options={"synchronize_session": False})).scalar_one()
    )
    # As loaded, not as changed: the row already holds it, so no second UPDATE at the flush.
    set_committed_value(user, "session_version", version)


async def _close_reset_links(session: AsyncSession, user: AppUser, *, now: datetime) -> None:
    """Open reset links of ``user`` can no longer be used (a newer one, a new password,
    or a deactivation supersedes them)."""
    await session.execute(
        sa.update(PasswordReset)
        .where(
            col(PasswordReset.user_id) == user.id,
            col(PasswordReset.used_at).is_(None),
            col(PasswordReset.superseded_at).is_(None),
        )
        .values(superseded_at=now)
    )


async def log_out(session: AsyncSession, *, public_id: str) -> None:
    """Log-out ends every session of the account, on every device and API client: a
    session cannot be told from a stolen copy of it. Not logged: a session ending changes
    nothing anyone else relies on, and the public log would show when people stop work."""
    user = await get_by_public_id(session, public_id)
    if user is not None:
        await _end_sessions(session, user)


async def change_password(
    session: AsyncSession,
    *,
    user: AppUser,
    current_password: str,
    new_password: str,
    backoff: FailureBackoff | None = None,
) -> AppUser:
    """A new password for the logged-in person, who must give the current one (a session
    left open on a shared computer is not enough). Every session ends; the caller gives
    the current browser or client a fresh one (``user.session_version`` is the new one).
    A wrong current password counts as a failed log-in, so the form is no way around the
    log-in backoff."""
    if backoff is not None and (wait := await backoff.attempt(user.email)) is not None:
        raise TooManyRequests(
            wait, N_("Too many failed log-ins for this account; try again in {retry_after} s")
        )
    if not verify_password(current_password, user.password_hash):
        wrong = N_("The current password is not right.")
        raise InvalidInput(wrong, [FieldError("current_password", wrong)])
    if backoff is not None:
        await backoff.succeeded(user.email)
    if verify_password(new_password, user.password_hash):
        same = N_("Choose a password different from the current one.")
        raise InvalidInput(same, [FieldError("new_password", same)])
    await _set_password(session, user, new_password)
    await log.append(session, type=entry_types.ACCOUNT_PASSWORD_CHANGED, fields={"user_id": user.public_id})
    return user


async def _set_password(session: AsyncSession, user: AppUser, password: str) -> None:
    user.password_hash = hash_password(password)
    session.add(user)
    await session.flush()
    await _close_reset_links(session, user, now=utcnow())
    await _end_sessions(session, user)


def _reset_digest(token: str) -> str:
    # The token is 256 random bits: a plain hash is enough, no slow KDF needed.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedLink:
    user: AppUser
    token: str  # shown once; only its hash is kept
    path: str
    expires_at: datetime


async def issue_reset_link(
    session: AsyncSession, *, user_id: str, actor: AppUser | None, reason: str
) -> IssuedLink:
    """A one-time link to set a new password, good for RESET_LINK_TTL; any earlier open
    link of the account is superseded. ``actor`` is the administrator who hands it over
    (a mailer would pass None and send ``path`` to the account's address: the page that
    opens it is the same). Logged with who and why, never the token."""
    if actor is not None:
        _check_admin(actor)
    user = await _target(session, user_id)
    if actor is not None:
        await require_reach(session, actor, user)
    return await _issue_link(session, user=user, actor=actor, reason=reason)


async def _issue_link(
    session: AsyncSession, *, user: AppUser, actor: AppUser | None, reason: str
) -> IssuedLink:
    if not user.is_active:
        raise Conflict(N_("This account is deactivated; reactivate it first."))
    reason = _publishable(reason)
    now = utcnow()
    await _close_reset_links(session, user, now=now)
    token = secrets.token_urlsafe(32)
    link = PasswordReset(
        user_id=user.id,  # type: ignore[arg-type]
        token_sha256=_reset_digest(token),
        issued_by=actor.id if actor is not None else None,
        created_at=now,
        expires_at=now + RESET_LINK_TTL,
    )
    session.add(link)
    await session.flush()
    await log.append(
        session,
        type=entry_types.ACCOUNT_PASSWORD_RESET_ISSUED,
        fields={
            "user_id": user.public_id,
            "by": actor.public_id if actor is not None else None,
            "reason": reason,
            "expires_at": link.expires_at.isoformat(),
        },
    )
    return IssuedLink(user=user, token=token, path=f"{RESET_PATH}?token={token}", expires_at=link.expires_at)


async def _usable_link(
    session: AsyncSession, token: str, *, lock: bool = False
) -> tuple[PasswordReset, AppUser] | None:
    if not token or len(token) > 200:
        return None
    stmt = sa.select(PasswordReset).where(col(PasswordReset.token_sha256) == _reset_digest(token))
    if lock:
        stmt = stmt.with_for_update()
    link = (await session.execute(stmt)).scalar_one_or_none()
    if (
        link is None
        or link.used_at is not None
        or link.superseded_at is not None
        or link.expires_at <= utcnow()
    ):
        return None
    user = await session.get(AppUser, link.user_id)
    if user is None or not user.is_active:
        return None
    return link, user


async def reset_link_is_usable(session: AsyncSession, *, token: str) -> bool:
    """Whether the page should offer the form (it says so before anyone types a password)."""
    return await _usable_link(session, token) is not None


async def reset_password(session: AsyncSession, *, token: str, new_password: str) -> AppUser:
    """Set the password a reset link was issued for: once, before it expires, while it is
    the newest and the account is active. Every session of the account ends."""
    found = await _usable_link(session, token, lock=True)
    if found is None:
        raise InvalidInput(RESET_LINK_UNUSABLE, [FieldError("token", RESET_LINK_UNUSABLE)])
    link, user = found
    link.used_at = utcnow()
    session.add(link)
    await _set_password(session, user, new_password)
    await log.append(session, type=entry_types.ACCOUNT_PASSWORD_RESET, fields={"user_id": user.public_id})
    return user


# -- administrators: deactivate, reactivate ------------------------------------------------


def _check_admin(actor: AppUser) -> None:
    if actor.role != Role.admin:
        raise Forbidden(N_("Only an administrator may do this."))


async def _target(session: AsyncSession, user_id: str) -> AppUser:
    stmt = select(AppUser).where(AppUser.public_id == user_id).with_for_update()
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise NotFound(N_("No such account."))
    return user


def _publishable(reason: str) -> str:
    """The reason is published: no e-mail address in it, said beside the field."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            N_("Give a reason; it is published in the log."),
            [FieldError("reason", N_("Give a reason; it is published in the log."))],
        )
    if log.EMAIL_LIKE.search(reason):
        message = N_("This text is published in the public log; remove the e-mail address.")
        raise InvalidInput(message, [FieldError("reason", message)])
    return reason


async def set_active(
    session: AsyncSession, *, user_id: str, actor: AppUser, active: bool, reason: str
) -> AppUser:
    """An administrator deactivates or reactivates an account, saying why (published with
    who did it). A deactivated account cannot log in, and its sessions end at once; its
    records (an agency, notices, bids) stay as they are. Nobody deactivates themselves,
    so the last administrator cannot lock everyone out."""
    _check_admin(actor)
    reason = _publishable(reason)
    user = await _target(session, user_id)
    if user.id == actor.id and not active:
        message = N_("You cannot deactivate your own account.")
        raise Conflict(message, [FieldError("user_id", message)])
    await require_reach(session, actor, user)
    if user.is_active == active:
        raise Conflict(
            N_("The account is already active.") if active else N_("The account is already deactivated.")
        )
    user.is_active = active
    session.add(user)
    await session.flush()
    if not active:
        await _end_sessions(session, user)
        await _close_reset_links(session, user, now=utcnow())
    await log.append(
        session,
        type=entry_types.ACCOUNT_REACTIVATED if active else entry_types.ACCOUNT_DEACTIVATED,
        fields={"user_id": user.public_id, "by": actor.public_id, "reason": reason},
    )
    return user


# -- the power map over accounts (rules.py) -------------------------------------------------


async def place_of(session: AsyncSession, user: AppUser) -> rules.Place:
    """Where ``user`` sits in the tree: its jurisdiction, its organisation's hall or its
    agency's region."""
    return (await places(session, [user]))[user.id or 0]


async def places(session: AsyncSession, users: Sequence[AppUser]) -> dict[int, rules.Place]:
    """``place_of`` for many accounts in two queries (the admin pages' lists)."""
    ids = [u.id for u in users if u.id is not None]
    halls: dict[int, str] = {}
    agency_regions: dict[int, str] = {}
    if owners := [u.id for u in users if u.role == Role.owner and u.id is not None]:
        rows = await session.execute(
            sa.select(col(OwnerOrg.created_by), col(OwnerOrg.hall)).where(
                col(OwnerOrg.created_by).in_(owners)
            )
        )
        halls = {int(a): str(b) for a, b in rows.tuples()}
    if agents := [u.id for u in users if u.role == Role.agency and u.id is not None]:
        rows = await session.execute(
            sa.select(col(Agency.owner_id), col(Agency.region)).where(col(Agency.owner_id).in_(agents))
        )
        agency_regions = {int(a): str(b) for a, b in rows.tuples()}
    out: dict[int, rules.Place] = {}
    for user in users:
        if user.id is None or user.id not in ids:
            continue
        out[user.id] = rules.Place(
            role=str(user.role),
            jurisdiction=user.jurisdiction if user.role in STAFF_ROLES else None,
            org_hall=halls.get(user.id),
            agency_region=agency_regions.get(user.id),
        )
    return out


async def reaches(session: AsyncSession, actor: AppUser, user: AppUser) -> bool:
    """Whether ``actor``'s jurisdiction reaches the account ``user`` (one's own account is
    always one's own to see; what one may do to it is each action's rule)."""
    if actor.id == user.id:
        return True
    return rules.reaches_account(actor.jurisdiction, await place_of(session, user))


async def require_reach(session: AsyncSession, actor: AppUser, user: AppUser) -> None:
    if not await reaches(session, actor, user):
        raise Forbidden(rules.OUTSIDE)


async def count_by_role(session: AsyncSession, *, scope: str | None = halls_rules.PROVINCE) -> dict[str, int]:
    """Active accounts by role, among those ``scope`` reaches (the province: all), as
    ``rules.reaches_account`` draws the reach, from the counts the triggers keep
    (AccountCount): a few hundred rows, however many accounts there are."""
    counts = {role.value: 0 for role in Role}
    if scope is None:
        return counts
    stmt = sa.select(col(AccountCount.role), sa.func.sum(AccountCount.n)).group_by(col(AccountCount.role))
    codes = await codes_under(session, scope)
    if codes is not None:
        staff = sa.and_(
            col(AccountCount.role).in_([r.value for r in STAFF_ROLES]),
            col(AccountCount.place).in_([c for c in codes if c != scope]),
        )
        owners = sa.and_(col(AccountCount.role) == Role.owner.value, col(AccountCount.place).in_(codes))
        clauses = [staff, owners]
        if halls_rules.kind_of(scope) != "park":  # a park holds no registered region
            clauses.append(
                sa.and_(
                    col(AccountCount.role) == Role.agency.value,
                    col(AccountCount.place).startswith(regions.scope_prefix(scope[:6]), autoescape=True),
                )
            )
        stmt = stmt.where(sa.or_(*clauses))
    for role, count in (await session.execute(stmt)).all():
        counts[str(role)] = int(count)
    return counts


async def list_users(
    session: AsyncSession,
    *,
    role: Role | None = None,
    cursor: str | None = None,
    limit: int = 20,
    scope: str | None = halls_rules.PROVINCE,
) -> tuple[Sequence[AppUser], str | None]:
    """Accounts in id order, among those ``scope`` reaches (the province: all)."""
    after = decode_cursor(cursor)
    if scope is None:
        return [], None
    codes = await codes_under(session, scope)
    if codes is None:
        stmt = select(AppUser).order_by(col(AppUser.id)).limit(limit + 1)
        if role is not None:
            stmt = stmt.where(AppUser.role == role)
        if after is not None:
            stmt = stmt.where(col(AppUser.id) > after)
    else:
        page = _scoped_page(scope, codes, role=role, after=after, limit=limit + 1)
        if page is None:
            return [], None
        stmt = select(AppUser).join(page, col(AppUser.id) == page.c.id).order_by(col(AppUser.id))
    rows = list((await session.execute(stmt)).scalars().all())
    next_cursor = (
        encode_cursor(rows[limit - 1].id) if len(rows) > limit and rows[limit - 1].id is not None else None
    )
    return rows[:limit], next_cursor


def _scoped_page(
    scope: str, codes: list[str], *, role: Role | None, after: int | None, limit: int
) -> sa.Subquery | None:
    """The ids of the first ``limit`` accounts after ``after`` that ``scope`` reaches, one
    branch per kind of place, each read in id order from an index (migration 0016) and cut
    at ``limit``: staff by (jurisdiction, id) and owners by their organisation's (hall,
    created_by), one hall at a time, agency accounts by their agency's region digits at the
    scope's level and owner_id. (The reach as one WHERE walked every account from the first
    id, after reading the scope's organisations and agencies: tests/integration/accounts/
    reach.py keeps it as the reference.) None: no branch."""

    def first(key: Any, *where: sa.ColumnElement[bool]) -> sa.Select[Any]:
        stmt = sa.select(key.label("id"))
        if key is not AppUser.id:
            stmt = stmt.join(AppUser, col(AppUser.id) == key)
        return stmt.where(*where, *([key > after] if after is not None else [])).order_by(key).limit(limit)

    def each_hall(halls: list[str], column: Any, key: Any, *where: sa.ColumnElement[bool]) -> sa.Select[Any]:
        # An index serves the id order only under one equal hall: a lateral branch per hall.
        hall = (
            sa.func.unnest(sa.literal(halls, type_=ARRAY(sa.String)))
            .table_valued("code")
            .render_derived("hall")
        )
        page = first(key, column == hall.c.code, *where).lateral()
        return sa.select(page.c.id).select_from(hall).join(page, sa.true())

    branches: list[sa.Select[Any]] = []
    if staff := [r.value for r in STAFF_ROLES if role in (None, r)]:
        below = [c for c in codes if c != scope]
        branches.append(each_hall(below, AppUser.jurisdiction, AppUser.id, col(AppUser.role).in_(staff)))
    if role in (None, Role.owner):
        owner = col(AppUser.role) == Role.owner.value
        branches.append(each_hall(codes, OwnerOrg.hall, OwnerOrg.created_by, owner))
    if role in (None, Role.agency) and halls_rules.kind_of(scope) != "park":  # a park holds no region
        prefix = regions.scope_prefix(scope[:6])
        digits = {2: Agency.region_province, 4: Agency.region_prefecture, 6: Agency.region}[len(prefix)]
        branches.append(first(Agency.owner_id, col(digits) == prefix, col(AppUser.role) == Role.agency.value))
    if not branches:
        return None
    # Disjoint: one role per account, one organisation or agency per account.
    reached = sa.union_all(*branches).subquery()
    return sa.select(reached.c.id).order_by(reached.c.id).limit(limit).subquery()


# -- staff: grants, moves, revocations (each a log entry) --------------------------------------

# Published with the set-password link a grant hands over (the reset link's log entry).
FIRST_PASSWORD_REASON = "新授权工作人员账户：首次设置密码"
NOT_STAFF = N_("This account is not a staff account.")


def _outside(field: str) -> Forbidden:
    """403 beside the form's field (the pages show it there; the API in ``errors``)."""
    refusal = Forbidden(rules.OUTSIDE)
    refusal.errors = [FieldError(field, rules.OUTSIDE)]
    return refusal


async def _known_hall(session: AsyncSession, code: str) -> str:
    code = (code or "").strip().upper()
    if not code or len(code) > halls_rules.MAX_CODE_LENGTH or await session.get(Jurisdiction, code) is None:
        raise InvalidInput(
            N_("No such jurisdiction."), [FieldError("jurisdiction", N_("No such jurisdiction."))]
        )
    return code


async def grant_staff(
    session: AsyncSession, *, actor: AppUser, email: str, name: str, role: Role, jurisdiction: str
) -> tuple[AppUser, IssuedLink]:
    """An administrator creates a staff account: ``supervisor`` at any hall it reaches,
    ``admin`` only strictly below its own jurisdiction. The account gets an unusable random
    password and the administrator a one-time link for the person to set their own (as
    for a reset). Logged as ``staff.granted`` with who granted it."""
    _check_admin(actor)
    if role not in STAFF_ROLES:
        message = N_("Choose administrator or supervisor.")
        raise InvalidInput(message, [FieldError("role", message)])
    code = await _known_hall(session, jurisdiction)
    if not rules.may_grant(actor.jurisdiction, role.value, code):
        raise _outside("jurisdiction")
    user = await create_staff(
        session,
        email=email,
        password=secrets.token_urlsafe(32),  # nobody knows it: the link sets the first password
        name=name,
        role=role,
        jurisdiction=code,
        granted_by=actor.public_id,
    )
    # The grant itself is the permission: an administrator may grant a supervisor at its own
    # hall without managing that account afterwards (move, revoke: strictly above only).
    link = await _issue_link(session, user=user, actor=actor, reason=FIRST_PASSWORD_REASON)
    return user, link


async def _staff_target(session: AsyncSession, actor: AppUser, user_id: str, *, inactive: str) -> AppUser:
    _check_admin(actor)
    user = await _target(session, user_id)
    if user.role not in STAFF_ROLES:
        raise Conflict(NOT_STAFF)
    if user.id == actor.id:
        message = N_("You cannot change your own staff powers; ask an administrator above you.")
        raise Conflict(message)
    if not rules.manages_staff(actor.jurisdiction, user.jurisdiction):
        raise Forbidden(rules.OUTSIDE)
    if not user.is_active:
        # A move needs live powers; a revocation would change nothing.
        raise Conflict(inactive)
    return user


async def move_staff(
    session: AsyncSession, *, actor: AppUser, user_id: str, jurisdiction: str, reason: str
) -> AppUser:
    """A staff account's powers move to another hall: one the administrator manages it from
    and could grant its role at. Its sessions end (the next log-in carries the new reach).
    Logged as ``staff.moved`` with from, to, who and why."""
    reason = _publishable(reason)
    user = await _staff_target(
        session, actor, user_id, inactive=N_("This account is deactivated; reactivate it first.")
    )
    code = await _known_hall(session, jurisdiction)
    if code == user.jurisdiction:
        message = N_("The account already holds this jurisdiction.")
        raise Conflict(message, [FieldError("jurisdiction", message)])
    if not rules.may_move(actor.jurisdiction, str(user.role), user.jurisdiction, code):
        raise _outside("jurisdiction")
    before = user.jurisdiction
    user.jurisdiction = code
    session.add(user)
    await session.flush()
    await _end_sessions(session, user)
    await log.append(
        session,
        type=entry_types.STAFF_MOVED,
        fields={
            "user_id": user.public_id,
            "role": str(user.role),
            "from": before,
            "to": code,
            "by": actor.public_id,
            "reason": reason,
        },
    )
    return user


async def revoke_staff(session: AsyncSession, *, actor: AppUser, user_id: str, reason: str) -> AppUser:
    """A staff account's powers end: it is deactivated, its sessions and open links end,
    and its jurisdiction stays recorded. Logged as ``staff.revoked`` with who and why."""
    reason = _publishable(reason)
    user = await _staff_target(session, actor, user_id, inactive=N_("The account is already deactivated."))
    user.is_active = False
    session.add(user)
    await session.flush()
    await _end_sessions(session, user)
    await _close_reset_links(session, user, now=utcnow())
    await log.append(
        session,
        type=entry_types.STAFF_REVOKED,
        fields={
            "user_id": user.public_id,
            "role": str(user.role),
            "jurisdiction": user.jurisdiction,
            "by": actor.public_id,
            "reason": reason,
        },
    )
    return user


async def list_staff(session: AsyncSession, *, viewer: AppUser) -> list[AppUser]:
    """The staff accounts ``viewer`` manages (strictly below it, or every one for the
    province), active first, then by jurisdiction and id; never the viewer."""
    stmt = select(AppUser).where(
        col(AppUser.role).in_([r.value for r in STAFF_ROLES]), col(AppUser.id) != viewer.id
    )
    scope = viewer.jurisdiction
    if scope is None:
        return []
    codes = await codes_under(session, scope)
    if codes is not None:
        stmt = stmt.where(col(AppUser.jurisdiction).in_([c for c in codes if c != scope]))
    stmt = stmt.order_by(col(AppUser.is_active).desc(), col(AppUser.jurisdiction), col(AppUser.id))
    return list((await session.execute(stmt)).scalars().all())


async def grant_choices(session: AsyncSession, *, actor: AppUser) -> dict[str, list[Jurisdiction]]:
    """For each staff role, the halls ``actor`` may grant it at (the grant form's select)."""
    halls = await all_halls(session)
    codes = [h.code for h in halls]
    out: dict[str, list[Jurisdiction]] = {}
    for role in STAFF_ROLES:
        allowed = (
            set(rules.grantable(actor.jurisdiction, role.value, codes)) if actor.role == Role.admin else set()
        )
        out[role.value] = [h for h in halls if h.code in allowed]
    return out


async def hall_names(session: AsyncSession) -> dict[str, Jurisdiction]:
    """Every hall by code, for showing an account's place by name."""
    return {h.code: h for h in await all_halls(session)}
