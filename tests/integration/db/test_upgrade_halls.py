"""The upgrade to halls (migration 0010, issue 21 item 7 "upgrade without loss"), on data
made at 0009: existing staff become province-level; owner organisations belong to their
region's hall (the province's when the region is in another province); a published notice
belongs to its organisation's hall, or, published without one, to its own region's; a draft
belongs nowhere yet; an objection is decided by its notice's hall. The tree holds the
province, its 16 prefectures and 129 counties, and the downgrade takes it all away again."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from market.core.db import alembic_config, to_asyncpg_dsn, upgrade
from tests.conftest import _drop, _recreate, in_thread, run_blocking, url_for

BEFORE = "0009_fair_play"


@pytest.fixture
def database_at_0009(server_url: str) -> Iterator[str]:
    name = f"market_upgrade_{secrets.token_hex(4)}"
    run_blocking(_recreate(server_url, name))
    url = url_for(server_url, name)
    in_thread(upgrade, url, BEFORE)
    yield url
    run_blocking(_drop(server_url, name))


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


# owner e-mail → the organisation's region (None: the owner never registered one)
ORGS = {
    "county@example.cn": "530102",  # 五华区, a county of 昆明市
    "prefecture@example.cn": "530300",  # 曲靖市
    "elsewhere@example.cn": "510000",  # 四川省, another province
    "none@example.cn": None,
}
# notice → (its owner, its status, its own region)
NOTICES = {
    "N-000001": ("county@example.cn", "open", "530000"),
    "N-000002": ("prefecture@example.cn", "closed", "530100"),
    "N-000003": ("elsewhere@example.cn", "open", "530102"),
    "N-000004": ("none@example.cn", "open", "532900"),  # 大理州: no organisation
    "N-000005": ("none@example.cn", "cancelled", "440000"),  # 广东省: outside the province
    "N-000006": ("county@example.cn", "draft", "530102"),
}
OBJECTIONS = {"X-000001": "N-000001", "X-000002": "N-000004"}


async def _fill(dsn: str) -> None:
    """Staff, owners with and without organisations, their notices and objections, as the
    marketplace kept them at 0009."""
    now = datetime.now(UTC)
    conn = await asyncpg.connect(dsn)
    serial = iter(range(1, 100))

    async def user(email: str, role: str) -> int:
        return int(
            await conn.fetchval(
                "INSERT INTO app_user (public_id, email, name, role, password_hash, is_active, created_at) "
                "VALUES ($1, $2, '某人', $3, 'x', true, $4) RETURNING id",
                f"U-{next(serial):06d}",
                email,
                role,
                now,
            )
        )

    try:
        for role in ("admin", "supervisor"):
            await user(f"{role}@example.cn", role)
        users = {email: await user(email, "owner") for email in ORGS}
        objector = await user("agency@example.cn", "agency")
        orgs = {}
        for i, (email, region) in enumerate(ORGS.items()):
            if region is not None:
                orgs[email] = await conn.fetchval(
                    "INSERT INTO owner_org (public_id, name, credit_code, region, created_by, created_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    f"OW-{i + 1:06d}",
                    f"某业主单位{i + 1}",
                    f"11{region}MB{i:07d}X",
                    region,
                    users[email],
                    now,
                )
        notices = {}
        for public_id, (email, status, region) in NOTICES.items():
            published = status != "draft"
            notices[public_id] = await conn.fetchval(
                "INSERT INTO notice (public_id, owner_id, org_id, title, description, category, region, budget_fen,"
                " method, winners, min_candidates, bid_deadline, status, commit, scheme, terms_sha256,"
                " published_at, created_at, updated_at) "
                "VALUES ($1, $2, $3, '环评', '环评', 'EIA', $4, 100000, 'lottery', 1, 1, $5, $6, $7, $8, $7, $9,"
                " $10, $10) RETURNING id",
                public_id,
                users[email],
                orgs.get(email),
                region,
                now + timedelta(days=3),
                status,
                "ab" * 32 if published else None,
                "none" if published else None,
                now if published else None,
                now,
            )
        for seq, (public_id, notice) in enumerate(OBJECTIONS.items(), start=1):
            await conn.execute(
                "INSERT INTO objection (public_id, notice_id, filed_by, reasons, status, filed_seq, filed_at) "
                "VALUES ($1, $2, $3, '程序违规', 'filed', $4, $5)",
                public_id,
                notices[notice],
                objector,
                seq,
                now,
            )
    finally:
        await conn.close()


async def _read(dsn: str) -> dict[str, dict[str, str | None]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            "staff": {
                r["email"]: r["jurisdiction"]
                for r in await conn.fetch("SELECT email, jurisdiction FROM app_user")
            },
            "orgs": {
                r["email"]: r["hall"]
                for r in await conn.fetch(
                    "SELECT u.email, o.hall FROM owner_org o JOIN app_user u ON u.id = o.created_by"
                )
            },
            "notices": {
                r["public_id"]: r["hall"] for r in await conn.fetch("SELECT public_id, hall FROM notice")
            },
            "objections": {
                r["public_id"]: r["hall"] for r in await conn.fetch("SELECT public_id, hall FROM objection")
            },
            "tree": {
                r["kind"]: str(r["n"])
                for r in await conn.fetch("SELECT kind, count(*) AS n FROM jurisdiction GROUP BY kind")
            },
        }
    finally:
        await conn.close()


async def _columns(dsn: str) -> set[tuple[str, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND column_name IN ('hall', 'jurisdiction', 'escalated_at')"
            " UNION SELECT table_name, '' FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_name IN ('jurisdiction', 'flag_alert')"
        )
        return {(r[0], r[1]) for r in rows}
    finally:
        await conn.close()


EXPECTED = {
    "staff": {
        "admin@example.cn": "530000",
        "supervisor@example.cn": "530000",
        **dict.fromkeys(ORGS, None),
        "agency@example.cn": None,
    },
    "orgs": {
        "county@example.cn": "530102",
        "prefecture@example.cn": "530300",
        "elsewhere@example.cn": "530000",  # its region is another province's: the province's hall
    },
    "notices": {
        "N-000001": "530102",  # its organisation's hall, not its own region's (530000)
        "N-000002": "530300",
        "N-000003": "530000",  # the other province's organisation is in the province's hall
        "N-000004": "532900",  # no organisation: its own region's hall
        "N-000005": "530000",  # no organisation, and a region outside the province
        "N-000006": None,  # a draft belongs nowhere until it is published
    },
    "objections": {"X-000001": "530102", "X-000002": "532900"},
    "tree": {"province": "1", "prefecture": "16", "county": "129"},
}


def test_the_upgrade_puts_everything_in_its_hall_and_the_downgrade_takes_it_away(
    database_at_0009: str,
) -> None:
    dsn = to_asyncpg_dsn(database_at_0009)
    run_blocking(_fill(dsn))
    in_thread(upgrade, database_at_0009, "0010_halls")
    assert run_blocking(_read(dsn)) == EXPECTED

    in_thread(downgrade, database_at_0009, BEFORE)
    assert run_blocking(_columns(dsn)) == set()
    # Nothing else was lost, and the upgrade can be made again with the same result.
    in_thread(upgrade, database_at_0009, "0010_halls")
    assert run_blocking(_read(dsn)) == EXPECTED
