"""Issue 24: the administrators' account counts are kept by triggers (migration 0014,
AccountCount) instead of counted from every account per visit. Held equal, for every kind
of scope, to the plain count they replace after each change the API and the pages make:
registering, organisations and agencies placing their accounts, staff granted, moved and
revoked, accounts deactivated and reactivated, an organisation moved to a park; and after
the changes no endpoint makes (a role changed, a region changed, an account deleted, a
bulk load with the triggers of replication off)."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts import service
from market.accounts.models import AppUser, Role
from market.core.db import Database, to_asyncpg_dsn
from tests.helpers import bearer, create_staff, register, register_org, token_for
from tests.integration.accounts.reach import reach_filter
from tests.integration.accounts.test_staff import REASON, granted, staff
from tests.integration.agencies.test_api import agency_body
from tests.integration.agencies.test_pages import login
from tests.integration.halls.test_org_hall import add_park

PROVINCE, KUNMING, WUHUA, PANLONG, QUJING, PARK = "530000", "530100", "530102", "530103", "530300", "530102K1"
SCOPES = (PROVINCE, KUNMING, WUHUA, PANLONG, QUJING, PARK, None)


async def plain_count(session: AsyncSession, scope: str | None) -> dict[str, int]:
    """The count this issue replaced: every active account the scope reaches, read from app_user."""
    stmt = sa.select(col(AppUser.role), sa.func.count()).where(col(AppUser.is_active)).group_by(AppUser.role)
    if (reach := await reach_filter(session, scope)) is not None:
        stmt = stmt.where(reach)
    counts = {role.value: 0 for role in Role}
    for role, count in (await session.execute(stmt)).all():
        counts[str(role)] = int(count)
    return counts


async def assert_kept(db: Database) -> dict[str | None, dict[str, int]]:
    """The kept counts equal the plain ones for every kind of scope (the province, a
    prefecture, counties, a park, none), and the rows equal a rebuild from app_user."""
    out: dict[str | None, dict[str, int]] = {}
    async with db.sessionmaker() as session:
        for scope in SCOPES:
            kept = await service.count_by_role(session, scope=scope)
            assert kept == await plain_count(session, scope), scope
            out[scope] = kept
        kept_rows = sorted(
            (
                await session.execute(
                    sa.text("SELECT role, place, sum(n) FROM account_count GROUP BY 1, 2 HAVING sum(n) <> 0")
                )
            ).all()
        )
        async with session.begin_nested() as rebuilt:
            await session.execute(sa.text("SELECT account_count_rebuild()"))
            fresh = sorted((await session.execute(sa.text("SELECT role, place, n FROM account_count"))).all())
            await rebuilt.rollback()
        assert [tuple(r) for r in kept_rows] == [tuple(r) for r in fresh]
    return out


async def user_id(db: Database, email: str) -> str:
    async with db.sessionmaker() as session:
        user = await service.find_by_email(session, email)
        assert user is not None
        return user.public_id


async def test_the_kept_counts_follow_every_change_of_an_account_and_its_place(
    client: AsyncClient, db: Database
) -> None:
    province = await staff(client, db, Role.admin, PROVINCE)
    await add_park(client, db, WUHUA, PARK)
    before = await assert_kept(db)

    # Self-registration: owners with and without an organisation, agency accounts with and
    # without an agency (the agency places its account at its region).
    owner = await register(client, role="owner")  # organisation in 五华区
    loner = await register(client, role="owner", org=None)
    agent = await register(client, role="agency")
    agent_headers = bearer(await token_for(client, agent["email"]))
    await register(client, role="agency")
    other_owner = await register(client, role="owner", org=None)
    await register_org(client, bearer(await token_for(client, other_owner["email"])), region=PANLONG)
    counts = await assert_kept(db)
    assert counts[PROVINCE]["owner"] == before[PROVINCE]["owner"] + 3
    assert counts[WUHUA]["owner"] == before[WUHUA]["owner"] + 1
    response = await client.post("/api/v1/agencies", json=agency_body(region=PANLONG), headers=agent_headers)
    assert response.status_code == 201, response.text
    counts = await assert_kept(db)
    assert counts[PANLONG]["agency"] == before[PANLONG]["agency"] + 1
    assert counts[KUNMING]["agency"] == before[KUNMING]["agency"] + 1

    # Staff granted, moved between places and revoked through the API.
    kunming_admin = await granted(client, province, "admin", KUNMING, "km.admin@km.gov.cn")
    wuhua_supervisor = await granted(client, province, "supervisor", WUHUA, "wh.sup@km.gov.cn")
    counts = await assert_kept(db)
    assert counts[KUNMING]["supervisor"] == before[KUNMING]["supervisor"] + 1
    moved = await client.post(
        f"/api/v1/staff/{wuhua_supervisor['id']}/move",
        json={"jurisdiction": QUJING, **REASON},
        headers=province,
    )
    assert moved.status_code == 200, moved.text
    counts = await assert_kept(db)
    assert counts[KUNMING]["supervisor"] == before[KUNMING]["supervisor"]
    assert counts[PROVINCE]["supervisor"] == before[PROVINCE]["supervisor"] + 1
    revoked = await client.post(f"/api/v1/staff/{kunming_admin['id']}/revoke", json=REASON, headers=province)
    assert revoked.status_code == 200, revoked.text
    await assert_kept(db)

    # Deactivated and reactivated accounts, and a session ended (which moves nothing).
    for who in (owner, agent, loner):
        done = await client.post(
            f"/api/v1/users/{await user_id(db, who['email'])}/deactivate", json=REASON, headers=province
        )
        assert done.status_code == 200, done.text
    counts = await assert_kept(db)
    assert counts[WUHUA]["owner"] == before[WUHUA]["owner"]
    assert counts[PANLONG]["agency"] == before[PANLONG]["agency"]
    done = await client.post(
        f"/api/v1/users/{await user_id(db, agent['email'])}/reactivate", json=REASON, headers=province
    )
    assert done.status_code == 200, done.text
    again = bearer(await token_for(client, agent["email"]))
    assert (await client.post("/api/v1/auth/logout", headers=again)).status_code in (200, 204)
    await assert_kept(db)

    # An organisation moved to a park takes its owner's count along (the park lies in 五华区).
    mover = await register(client, role="owner")
    counts = await assert_kept(db)
    moved = await client.post(
        f"/api/v1/owners/{mover['org']['id']}/hall",
        json={"hall": PARK, "reason": "迁入园区"},
        headers=province,
    )
    assert moved.status_code == 200, moved.text
    after = await assert_kept(db)
    assert after[PARK]["owner"] == counts[PARK]["owner"] + 1
    assert after[WUHUA]["owner"] == counts[WUHUA]["owner"]
    loner_headers = bearer(await token_for(client, (await register(client, role="owner", org=None))["email"]))
    await register_org(client, loner_headers, region=WUHUA, hall=PARK)
    assert (await assert_kept(db))[PARK]["owner"] == after[PARK]["owner"] + 1


async def test_changes_no_endpoint_makes_are_kept_too(client: AsyncClient, db: Database) -> None:
    """The triggers keep the counts whoever writes: a role or a region changed by hand, an
    account deleted, and a bulk load with replication's session role (ops/bench/seed.py)."""
    agent = await register(client, role="agency")
    response = await client.post(
        "/api/v1/agencies",
        json=agency_body(region=WUHUA),
        headers=bearer(await token_for(client, agent["email"])),
    )
    assert response.status_code == 201, response.text
    bare = await register(client, role="agency")
    await assert_kept(db)
    async with db.sessionmaker() as session:
        await session.execute(
            sa.text("UPDATE agency SET region = :r WHERE public_id = :a"),
            {"r": QUJING, "a": response.json()["id"]},
        )
        await session.execute(
            sa.text("UPDATE app_user SET role = 'owner' WHERE lower(email) = :e"), {"e": bare["email"]}
        )
        await session.commit()
    await assert_kept(db)
    async with db.sessionmaker() as session:
        await session.execute(sa.text("DELETE FROM app_user WHERE lower(email) = :e"), {"e": bare["email"]})
        await session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        await session.execute(
            sa.text(
                "INSERT INTO app_user (public_id, email, name, role, password_hash, is_active, created_at, jurisdiction) "
                "SELECT 'UX-' || r || i, 'bulk' || r || i || '@example.cn', 'bulk', r, 'x', true, now(), "
                "CASE WHEN r IN ('admin', 'supervisor') THEN :j END "
                "FROM generate_series(1, 40) AS i, unnest(ARRAY['owner', 'agency', 'supervisor', 'admin']) AS r"
            ),
            {"j": KUNMING},
        )
        await session.execute(sa.text("SET LOCAL session_replication_role = origin"))
        await session.commit()
    counts = await assert_kept(db)
    assert counts[PROVINCE]["admin"] >= 40 and counts[PROVINCE]["supervisor"] >= 40


async def test_the_users_page_shows_the_kept_counts_of_the_viewers_jurisdiction(
    client: AsyncClient, db: Database
) -> None:
    await register(client, role="owner")  # 五华区
    await register(client, role="owner", org=None)
    email = await create_staff(db, role=Role.admin, jurisdiction=KUNMING)
    await create_staff(db, role=Role.supervisor, jurisdiction=WUHUA)
    counts = await assert_kept(db)
    await login(client, email)
    page = await client.get("/admin/users", headers={"Accept-Language": "en"})
    assert page.status_code == 200, page.text
    shown = dict(re.findall(r"(Project owner|Agency|Supervisor|Administrator): (\d+)", page.text))
    labels = {
        "owner": "Project owner",
        "agency": "Agency",
        "supervisor": "Supervisor",
        "admin": "Administrator",
    }
    assert {role: int(shown[label]) for role, label in labels.items()} == counts[KUNMING]
    assert counts[KUNMING]["owner"] >= 1 and counts[KUNMING]["supervisor"] >= 1


async def _insert_owner(conn: asyncpg.Connection, n: int) -> None:
    await conn.execute(
        "INSERT INTO app_user (public_id, email, name, role, password_hash, is_active, created_at) "
        "VALUES ($1, $2, 'w', 'owner', 'x', true, now())",
        f"UW-{n}",
        f"waiter{n}@example.cn",
    )


async def test_writers_never_wait_for_each_other_on_a_count(committed_database_url: str) -> None:
    """Two transactions add to the same count at once: neither waits for the other (each
    adds its own row, folded later), and both are counted once committed."""
    dsn = to_asyncpg_dsn(committed_database_url)
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        one, two = first.transaction(), second.transaction()
        await one.start()
        await two.start()
        await _insert_owner(first, 1)
        await second.execute("SET LOCAL lock_timeout = '2s'")
        await asyncio.wait_for(_insert_owner(second, 2), timeout=5)  # would wait on first's row
        await _insert_owner(first, 3)
        await two.commit()
        await one.commit()
        kept = await first.fetchval("SELECT sum(n) FROM account_count WHERE role = 'owner' AND place = ''")
        plain = await first.fetchval("SELECT count(*) FROM app_user WHERE role = 'owner' AND is_active")
        assert kept == plain == 3
        await _insert_owner(first, 4)  # folds the rows the two left
        assert await first.fetchval("SELECT count(*) FROM account_count WHERE role = 'owner'") == 1
    finally:
        await first.close()
        await second.close()
