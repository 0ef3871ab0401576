"""The region filters read the generated columns (core.sql.region_scope_column, migration
0013) and answer exactly what ``region LIKE '<prefix>%'`` answered: the public list, the
directory (API and page statement), the Atom feed and the review queue, for every region
code held (31 provinces, Yunnan's prefectures and counties), on rows in every region and
in statuses that are listed and not."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient

from market.core.db import Database
from market.core.sql import region_scope_column
from market.dashboards import queries as dashboards
from market.notices.models import Notice
from market.notify import queries as feeds
from market.reference import regions
from tests.integration.notices.test_api import owner_user, published

PARK = "530102KF"
NOTICE_STATUSES = ("open", "awarded", "draft", "cancelled", "failed", "selected")
AGENCY_STATUSES = ("approved", "pending", "suspended", "approved", "rejected")


async def spread(client: AsyncClient, db: Database) -> list[str]:
    """Notices and agencies in every region held, in varied statuses and two categories,
    notices in their region's hall (a park's for some); answers the region codes."""
    owner = await owner_user(client)
    sources = [
        (await published(client, owner, category="EIA"))["id"],
        (await published(client, owner, category="SURVEYING", title="某项目测绘"))["id"],
    ]
    columns = [c.name for c in Notice.__table__.columns if c.name != "id" and c.computed is None]  # type: ignore[attr-defined]
    values = {
        "public_id": "'R' || r.code || s.public_id",
        "region": "r.code",
        "status": "st.status",
        # the region's own hall where there is one (a park for some), else the province's
        "hall": "CASE WHEN r.code IN ('530102', '530100') AND s.category = 'EIA' THEN :park"
        " ELSE coalesce((SELECT j.code FROM jurisdiction j WHERE j.code = r.code), '530000') END",
    }
    select = ", ".join(values.get(c, f"s.{c}") for c in columns)
    async with db.transaction() as session:
        await session.execute(
            sa.text(
                "INSERT INTO jurisdiction (code, parent, kind, name_zh, name_en, region, contact_phone, created_at)"
                " VALUES (:park, '530102', 'park', '测试园区', 'Test Park', '530102', '', now())"
            ),
            {"park": PARK},
        )
        codes = list((await session.execute(sa.text("SELECT code FROM region ORDER BY code"))).scalars())
        # Each region gets each source in a status picked by the region's rank, so that every
        # status (drafts too) lands in every level of area.
        await session.execute(
            sa.text(
                f"INSERT INTO notice ({', '.join(columns)}) SELECT {select}"
                " FROM (SELECT code, row_number() OVER (ORDER BY code) AS k FROM region) r"
                " CROSS JOIN notice s"
                " JOIN LATERAL (SELECT (CAST(:statuses AS text[]))[1 + (r.k + s.id) % :n] AS status) st ON true"
                " WHERE s.public_id = ANY(:sources) ORDER BY r.code DESC, s.id"
            ),
            {"sources": sources, "statuses": list(NOTICE_STATUSES), "n": len(NOTICE_STATUSES), "park": PARK},
        )
        await session.execute(
            sa.text(
                "INSERT INTO app_user (public_id, email, name, role, password_hash, is_active, created_at)"
                " SELECT 'UR' || code, 'region' || code || '@example.cn', 'r', 'agency', 'x', true, now()"
                " FROM region"
            )
        )
        await session.execute(
            sa.text(
                "INSERT INTO agency (public_id, owner_id, name, credit_code, region, status, created_at, updated_at)"
                " SELECT 'AGR' || r.code, u.id, '区域测试机构' || r.code, 'R' || lpad(r.code, 17, '0'), r.code,"
                " (CAST(:statuses AS text[]))[1 + r.k % :n], now(), now()"
                " FROM (SELECT code, row_number() OVER (ORDER BY code DESC) AS k FROM region) r"
                " JOIN app_user u ON u.public_id = 'UR' || r.code ORDER BY r.k"
            ),
            {"statuses": list(AGENCY_STATUSES), "n": len(AGENCY_STATUSES)},
        )
        await session.execute(
            sa.text(
                "INSERT INTO agency_category (agency_id, category)"
                " SELECT id, 'EIA' FROM agency WHERE public_id LIKE 'AGR%' AND right(region, 1) IN ('0', '2', '4', '6')"
            )
        )
    return codes


async def every_page(client: AsyncClient, url: str, params: dict[str, str]) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        response = await client.get(
            url, params={**params, "limit": 7, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, (params, response.text)
        page = response.json()
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


async def liked(db: Database, sql: str, **params: Any) -> list[str]:
    async with db.transaction() as session:
        return list((await session.execute(sa.text(sql), params)).scalars())


async def test_every_region_filter_answers_what_the_prefix_like_answered(
    client: AsyncClient, db: Database
) -> None:
    codes = await spread(client, db)
    assert len(codes) == len(regions.REGIONS)
    levels = {regions.region(c).level for c in codes}
    assert levels == {"province", "prefecture", "county"}
    checked = 0
    for code in codes:
        prefix = regions.scope_prefix(code)
        like = prefix + "%"
        notices = await liked(
            db,
            "SELECT public_id FROM notice WHERE status <> 'draft' AND region LIKE :like ORDER BY id DESC",
            like=like,
        )
        assert await every_page(client, "/api/v1/notices", {"region": code}) == notices, code
        eia = await liked(
            db,
            "SELECT public_id FROM notice WHERE status <> 'draft' AND category = 'EIA' AND region LIKE :like"
            " ORDER BY id DESC",
            like=like,
        )
        assert await every_page(client, "/api/v1/notices", {"region": code, "category": "EIA"}) == eia, code
        agencies = await liked(
            db,
            "SELECT public_id FROM agency WHERE status = 'approved' AND region LIKE :like ORDER BY id DESC",
            like=like,
        )
        assert await every_page(client, "/api/v1/agencies", {"region": code}) == agencies, code
        in_eia = await liked(
            db,
            "SELECT a.public_id FROM agency a JOIN agency_category c ON c.agency_id = a.id AND c.category = 'EIA'"
            " WHERE a.status = 'approved' AND a.region LIKE :like ORDER BY a.id DESC",
            like=like,
        )
        assert await every_page(client, "/api/v1/agencies", {"region": code, "category": "EIA"}) == in_eia, (
            code
        )
        async with db.transaction() as session:
            entries = await feeds.feed_entries(
                session, category=None, region_prefix=prefix, halls=None, limit=1000
            )
            pending = await dashboards.pending_agencies(session, prefix=prefix)
        fed = await liked(
            db,
            "SELECT public_id FROM notice WHERE status <> 'draft' AND published_at IS NOT NULL AND region LIKE :like"
            " ORDER BY published_at DESC, id DESC",
            like=like,
        )
        assert [e.public_id for e in entries] == fed, code
        queued = await liked(
            db,
            "SELECT public_id FROM agency WHERE status = 'pending' AND region LIKE :like ORDER BY id",
            like=like,
        )
        assert [row["public_id"] for row in pending] == queued[: dashboards.LIMIT], code
        checked += bool(notices) + bool(agencies) + bool(pending)
    # Not a test of empty lists: most areas hold listed notices and agencies.
    assert checked > len(codes)


def test_a_region_scope_names_the_column_of_its_digits() -> None:
    assert region_scope_column("n", "53") == "n.region_province"
    assert region_scope_column("a", "5301") == "a.region_prefecture"
    assert region_scope_column("n", "530102") == "n.region"
    for bad in ("", "5", "530", "5301020"):
        try:
            region_scope_column("n", bad)
        except ValueError:
            continue
        raise AssertionError(bad)
