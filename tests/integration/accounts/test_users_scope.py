"""Issue 24: a prefecture's, county's or park's administrators page through the accounts
they reach by one branch per kind of place, each read in id order from an index
(service._scoped_page, migration 0016), where the page filtered every account by
``tests/integration/accounts/reach.reach_filter``. Held equal to that filter, page by page with the cursors, for every
kind of scope, with and without the role filter, on accounts of every role in and out of
each scope: deactivated ones, owners without an organisation, agency accounts without an
agency, organisations in a park and outside the province, agencies registered at a
prefecture's own region, and accounts whose role changed after they placed themselves."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from market.accounts import service
from market.accounts.models import AppUser, Role
from market.core.db import Database
from market.core.pagination import decode_cursor, encode_cursor
from tests.helpers import create_staff
from tests.integration.accounts.reach import reach_filter
from tests.integration.agencies.test_pages import login
from tests.integration.halls.test_org_hall import add_park

PROVINCE, KUNMING, WUHUA, PANLONG, QUJING, PARK = "530000", "530100", "530102", "530103", "530300", "530102K1"
SCOPES = (PROVINCE, KUNMING, WUHUA, PANLONG, QUJING, PARK, None)
HALLS = (PROVINCE, KUNMING, WUHUA, PANLONG, QUJING, "530302", PARK)
# An organisation's (region, hall); the province's hall for one registered outside it.
ORG_PLACES = (
    (WUHUA, WUHUA),
    (WUHUA, PARK),
    (PANLONG, PANLONG),
    (KUNMING, KUNMING),
    ("530302", "530302"),
    ("110000", PROVINCE),
)
AGENCY_REGIONS = (WUHUA, PANLONG, KUNMING, "530302", QUJING, "110000")


async def old_page(
    session: AsyncSession, *, scope: str | None, role: Role | None, cursor: str | None, limit: int
) -> tuple[list[AppUser], str | None]:
    """The page as list_users read it before this issue: every account in id order, filtered."""
    after = decode_cursor(cursor)
    stmt = select(AppUser).order_by(col(AppUser.id)).limit(limit + 1)
    if role is not None:
        stmt = stmt.where(AppUser.role == role)
    if after is not None:
        stmt = stmt.where(col(AppUser.id) > after)
    if (reach := await reach_filter(session, scope)) is not None:
        stmt = stmt.where(reach)
    rows = list((await session.execute(stmt)).scalars().all())
    next_cursor = encode_cursor(rows[limit - 1].id or 0) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def seed(session: AsyncSession) -> None:
    """Accounts of every kind in a shuffled order, so that each page mixes the branches."""
    kinds = ["staff"] * 30 + ["owner"] * 40 + ["loner"] * 6 + ["agent"] * 36 + ["bare"] * 6
    random.Random(24).shuffle(kinds)
    pick = random.Random(10)
    for n, kind in enumerate(kinds):
        role = {"staff": pick.choice(("admin", "supervisor")), "owner": "owner", "loner": "owner"}.get(
            kind, "agency"
        )
        user_id = (
            await session.execute(
                sa.text(
                    "INSERT INTO app_user (public_id, email, name, role, password_hash, is_active, created_at, "
                    "jurisdiction) VALUES (:p, :e, 'n', :r, 'x', :a, now(), :j) RETURNING id"
                ),
                {
                    "p": f"UQ{n:04d}",
                    "e": f"scope{n}@example.cn",
                    "r": role,
                    "a": pick.random() > 0.2,
                    "j": pick.choice(HALLS) if kind == "staff" else None,
                },
            )
        ).scalar_one()
        if kind == "owner":
            region, hall = pick.choice(ORG_PLACES)
            await session.execute(
                sa.text(
                    "INSERT INTO owner_org (public_id, name, credit_code, region, hall, created_by, created_at) "
                    "VALUES (:p, 'o', :c, :r, :h, :u, now())"
                ),
                {"p": f"OQ{n:04d}", "c": f"C{n:017d}", "r": region, "h": hall, "u": user_id},
            )
        elif kind == "agent":
            await session.execute(
                sa.text(
                    "INSERT INTO agency (public_id, owner_id, name, credit_code, region, status, created_at, "
                    "updated_at) VALUES (:p, :u, 'a', :c, :r, 'approved', now(), now())"
                ),
                {"p": f"AQ{n:04d}", "u": user_id, "c": f"A{n:017d}", "r": pick.choice(AGENCY_REGIONS)},
            )
    # Roles changed by hand after the account placed itself: an organisation's creator is
    # now an agency account, an agency's owner an owner (neither reached through that place).
    await session.execute(
        sa.text(
            "UPDATE app_user SET role = 'agency' WHERE id = (SELECT min(created_by) FROM owner_org "
            "WHERE hall = :h AND public_id LIKE 'OQ%')"
        ),
        {"h": WUHUA},
    )
    await session.execute(
        sa.text(
            "UPDATE app_user SET role = 'owner' WHERE id = (SELECT min(owner_id) FROM agency "
            "WHERE region = :r AND public_id LIKE 'AQ%')"
        ),
        {"r": PANLONG},
    )


def ids(users: Sequence[AppUser]) -> list[str]:
    return [u.public_id for u in users]


async def test_a_scoped_page_equals_the_filtered_walk_for_every_scope_role_and_cursor(
    client: AsyncClient, db: Database
) -> None:
    await add_park(client, db, WUHUA, PARK)
    async with db.sessionmaker() as session:
        await seed(session)
        await session.flush()
        seen: dict[tuple[str | None, Role | None], int] = {}
        for scope in SCOPES:
            for role in (None, *Role):
                for limit in (1, 7, 20):
                    old_cursor: str | None = None
                    new_cursor: str | None = None
                    pages = total = 0
                    while True:
                        old, old_cursor = await old_page(
                            session, scope=scope, role=role, cursor=old_cursor, limit=limit
                        )
                        new, new_cursor = await service.list_users(
                            session, scope=scope, role=role, cursor=new_cursor, limit=limit
                        )
                        assert ids(new) == ids(old), (scope, role, limit, pages)
                        assert new_cursor == old_cursor, (scope, role, limit, pages)
                        pages += 1
                        total += len(new)
                        if old_cursor is None:
                            break
                    seen[scope, role] = total
        # The data reaches each scope with several pages of each kind of account.
        assert seen[KUNMING, None] > seen[WUHUA, None] > seen[PARK, None] > 0
        assert seen[PROVINCE, None] > seen[KUNMING, None]
        for role in Role:
            assert seen[KUNMING, role] > 1, role
        assert seen[None, None] == 0
        assert seen[PARK, Role.agency] == 0 and seen[PARK, Role.owner] > 0


async def test_a_scoped_page_costs_the_same_statements_at_every_scope_and_page(
    client: AsyncClient, db: Database
) -> None:
    await add_park(client, db, WUHUA, PARK)
    async with db.sessionmaker() as session:
        await seed(session)
        await session.flush()
        counted: list[str] = []

        def count(*_: object) -> None:
            counted.append("statement")

        engine = session.bind
        assert engine is not None
        sync_engine = getattr(engine, "sync_engine", engine)
        sa.event.listen(sync_engine, "before_cursor_execute", count)
        try:
            for scope in (KUNMING, WUHUA, PANLONG, PARK):
                for role in (None, Role.owner, Role.agency, Role.admin):
                    cursor = None
                    for _ in range(3):
                        counted.clear()
                        _, cursor = await service.list_users(
                            session, scope=scope, role=role, cursor=cursor, limit=5
                        )
                        # The scope's halls, then the page (none when the role has no place there).
                        assert len(counted) <= 2, (scope, role)
                        if cursor is None:
                            break
        finally:
            sa.event.remove(sync_engine, "before_cursor_execute", count)


async def test_a_county_admin_pages_through_the_accounts_it_reaches_on_the_page(
    client: AsyncClient, db: Database
) -> None:
    await add_park(client, db, WUHUA, PARK)
    async with db.sessionmaker() as session:
        await seed(session)
        await session.commit()
    await login(client, await create_staff(db, role=Role.admin, jurisdiction=WUHUA))
    for role in (None, Role.owner, Role.admin):
        async with db.sessionmaker() as session:
            expected: list[str] = []
            cursor: str | None = None
            while True:
                users, cursor = await old_page(session, scope=WUHUA, role=role, cursor=cursor, limit=7)
                expected += ids(users)
                if cursor is None:
                    break
        shown: list[str] = []
        url: str | None = "/admin/users?limit=7" + (f"&role={role.value}" if role else "")
        while url is not None:
            page = await client.get(url, headers={"HX-Request": "true"})
            assert page.status_code == 200, page.text
            shown += re.findall(r'<a href="/admin/users/(U[^"]+)">', page.text)
            more = re.search(r'hx-get="(/admin/users\?cursor=[^"&]+)', page.text)
            url = f"{more.group(1)}&limit=7" + (f"&role={role.value}" if role else "") if more else None
        assert shown == expected and len(expected) > (7 if role is None else 0), role
