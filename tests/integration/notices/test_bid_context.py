"""The bid path's hand-written SQL (market/bids/queries.py) against the ORM path it
replaced: for the same agency and notice, the same facts, the same requirements, and the
standing bid seen."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient

from market.agencies import queries as agencies
from market.agencies.models import Agency
from market.bids import queries
from market.core.db import Database
from market.notices import service
from tests.integration.agencies.test_api import FUTURE, admin
from tests.integration.notices.test_api import approved_agency, owner_user, published


async def context_and_orm(
    db: Database, account: str, notice_id: str, agency_id: str
) -> tuple[queries.BidContext, Any, Any]:
    async with db.transaction() as session:
        connection = await session.connection()
        row = (await connection.exec_driver_sql(queries.BID_CONTEXT, (account, notice_id))).mappings().one()
        agency = (await session.execute(sa.select(Agency).where(Agency.public_id == agency_id))).scalar_one()
        facts = (await agencies.load_profile(session, agency)).facts()
        notice = await service.get_notice(session, notice_id)
        requirements = service.requirements(await service.view(session, notice))
    return queries.bid_context(row), facts, requirements


async def account_of(client: AsyncClient, headers: dict[str, str]) -> str:
    return str((await client.get("/api/v1/me", headers=headers)).json()["id"])


async def test_context_matches_the_orm_path(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    headers, agency = await approved_agency(
        client,
        staff,
        categories=["EIA", "GEOHAZARD"],
        qualifications=[
            {"category": "EIA", "level": None, "certificate_no": "HP-2026-001", "valid_until": FUTURE},
            {"category": "GEOHAZARD", "level": "B", "certificate_no": "DZ-B-001", "valid_until": FUTURE},
        ],
    )
    # A change under review: pending, so it is in the facts but does not count yet.
    old = (await client.get("/api/v1/agencies/mine", headers=headers)).json()["qualifications"][1]["id"]
    change = {"category": "GEOHAZARD", "level": "A", "certificate_no": "DZ-A-002", "valid_until": FUTURE}
    assert (
        await client.post(
            f"/api/v1/agencies/mine/qualifications?replaces={old}", json=change, headers=headers
        )
    ).status_code == 201
    owner = await owner_user(client)
    notice = await published(
        client, owner, region="530100", avoid=[{"agency_id": "AG-999999", "reason": "关联企业"}]
    )
    account = await account_of(client, headers)

    context, facts, requirements = await context_and_orm(db, account, notice["id"], agency["id"])
    assert context.facts == facts and context.requirements == requirements
    assert len(facts.qualifications) == 3 and dict(requirements.avoid) == {"AG-999999": "关联企业"}
    assert (context.role, context.notice_status, context.standing) == ("agency", "open", False)
    assert context.bid_id is not None and context.bid_id.startswith("B-")

    assert (
        await client.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=headers)
    ).status_code == 201
    context, _, _ = await context_and_orm(db, account, notice["id"], agency["id"])
    assert context.standing


async def test_no_notice_and_no_agency_still_give_the_account(client: AsyncClient, db: Database) -> None:
    owner = await owner_user(client)
    account = await account_of(client, owner)
    async with db.transaction() as session:
        connection = await session.connection()
        row = (await connection.exec_driver_sql(queries.BID_CONTEXT, (account, "N-999999"))).mappings().one()
        nobody = (
            (await connection.exec_driver_sql(queries.BID_CONTEXT, ("U-999999", "N-999999")))
            .mappings()
            .one_or_none()
        )
    context = queries.bid_context(row)
    assert (context.role, context.facts, context.requirements, context.bid_id) == ("owner", None, None, None)
    assert nobody is None
