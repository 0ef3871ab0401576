"""Accounts: registration, authentication, staff creation, listing. No HTTP here."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from market.accounts.models import STAFF_ROLES, AppUser, Role, UserCreate
from market.errors import Conflict, FieldError, InvalidInput, TooManyRequests
from market.i18n import N_
from market.ids import next_public_id
from market.log import store as log
from market.pagination import decode_cursor, encode_cursor
from market.security.passwords import dummy_hash, hash_password, verify_password
from market.security.ratelimit import FailureBackoff

USER_ID_SEQUENCE = "app_user_public_seq"


async def find_by_email(session: AsyncSession, email: str) -> AppUser | None:
    stmt = select(AppUser).where(sa.func.lower(AppUser.email) == email.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_public_id(session: AsyncSession, public_id: str) -> AppUser | None:
    stmt = select(AppUser).where(AppUser.public_id == public_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _insert(session: AsyncSession, *, email: str, password: str, name: str, role: Role) -> AppUser:
    if await find_by_email(session, email) is not None:
        raise Conflict(N_("This e-mail address is already registered."), [FieldError("email", N_("This e-mail address is already registered."))])
    user = AppUser(
        public_id=await next_public_id(session, prefix="U", sequence=USER_ID_SEQUENCE),
        email=email.strip(),
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
    )
    try:
        # A savepoint, so that losing a race on the unique index leaves the outer
        # transaction usable and the answer is a 409, not a 500.
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise Conflict(N_("This e-mail address is already registered."), [FieldError("email", N_("This e-mail address is already registered."))]) from None
    # Public id and role only: the log never holds names or e-mail addresses.
    await log.append(session, type="account.created", fields={"user_id": user.public_id, "role": str(role)})
    return user


async def register(session: AsyncSession, *, data: UserCreate) -> AppUser:
    return await _insert(session, email=data.email, password=data.password, name=data.name, role=data.role)


async def create_staff(session: AsyncSession, *, email: str, password: str, name: str, role: Role) -> AppUser:
    """Admins and supervisors are created by the ``market`` command, never self-registered."""
    if role not in STAFF_ROLES:
        raise InvalidInput("Staff accounts are admin or supervisor", [FieldError("role", "must be admin or supervisor")])
    # Same rules as registration for everything but the role.
    checked = UserCreate.model_validate({"email": email, "password": password, "name": name, "role": "owner"})
    return await _insert(session, email=checked.email, password=checked.password, name=checked.name, role=role)


async def authenticate(session: AsyncSession, *, email: str, password: str, backoff: FailureBackoff | None = None) -> AppUser | None:
    """The account these credentials open, or None. With ``backoff``, an account that has
    failed too often must wait (429) before any attempt is even checked."""
    if backoff is not None and (wait := backoff.wait(email)) is not None:
        raise TooManyRequests(wait, N_("Too many failed log-ins for this account; try again in {retry_after} s"))
    user = await find_by_email(session, email)
    if user is None:
        verify_password(password, dummy_hash())
    elif verify_password(password, user.password_hash) and user.is_active:
        if backoff is not None:
            backoff.succeeded(email)
        return user
    if backoff is not None:
        backoff.failed(email)
    return None



async def count_by_role(session: AsyncSession) -> dict[str, int]:
    stmt = sa.select(AppUser.role, sa.func.count()).where(AppUser.is_active).group_by(AppUser.role)
    counts = {role.value: 0 for role in Role}
    for role, count in (await session.execute(stmt)).all():
        counts[str(role)] = int(count)
    return counts


async def list_users(
    session: AsyncSession, *, role: Role | None = None, cursor: str | None = None, limit: int = 20
) -> tuple[Sequence[AppUser], str | None]:
    after = decode_cursor(cursor)
    stmt = select(AppUser).order_by(AppUser.id).limit(limit + 1)
    if role is not None:
        stmt = stmt.where(AppUser.role == role)
    if after is not None:
        stmt = stmt.where(AppUser.id > after)
    rows = list((await session.execute(stmt)).scalars().all())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit and rows[limit - 1].id is not None else None
    return rows[:limit], next_cursor
