"""The world of the jurisdiction matrix: seven halls, staff at three levels, and in each
hall the objects a staff action targets, each in the state that action needs.

Halls: the province (P), 昆明市 (KM), two of its counties, 五华区 (WH) and 盘龙区 (PL),
another prefecture, 曲靖市 (QJ), a park of 昆明市 (PKF) and a park of 五华区 (PWH).
Staff: a supervisor and an administrator at WH (county), at KM (prefecture) and at P.

Seen from the county's staff, the halls are: its own (WH), below it (PWH), above it (KM),
beside it (PL, a sibling county) and a park that is not its own (PKF). Seen from the
prefecture's: its own (KM), below (WH), above (P), beside (QJ) and its park (PKF).

Made through the API as in authz_world, except the two parks (rows of the tree, as an
administrator's page would add them) and the organisations' halls in parks (set on the row).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from httpx import AsyncClient

from market.accounts.models import Role
from market.core.db import Database
from market.halls.models import Jurisdiction
from market.notices.models import OwnerOrg
from tests.helpers import create_staff, register, register_org, token_for
from tests.integration.agencies.test_api import PDF, agency_body
from tests.integration.security.authz_world import JUSTIFICATION, _Builder, contract_body

P, KM, WH, PL, QJ, PKF, PWH = "530000", "530100", "530102", "530103", "530300", "530100KF", "530102K1"
HALLS = (P, KM, WH, PL, QJ, PKF, PWH)
PARKS = {
    PKF: (KM, "昆明经济技术开发区", "Kunming Economic and Technological Development Zone"),
    PWH: (WH, "五华科技园", "Wuhua Science Park"),
}
# Agencies have a region, never a park: the agency actions are asked of the five region halls.
REGION_HALLS = (P, KM, WH, PL, QJ)
STAFF_AT = (WH, KM, P)
DUE_IN = 6.0
REASON = {"reason": "依据管辖范围核查的测试决定"}


@dataclass
class HallWorld:
    staff: dict[tuple[str, str], str] = field(default_factory=dict)  # (role, hall) -> token
    ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (object, hall) -> public id


async def _parks(db: Database) -> None:
    async with db.transaction() as session:
        for code, (parent, zh, en) in PARKS.items():
            if await session.get(Jurisdiction, code) is None:
                session.add(
                    Jurisdiction(code=code, parent=parent, kind="park", name_zh=zh, name_en=en, region=parent)
                )


async def _owner(b: _Builder, db: Database, hall: str) -> tuple[str, str, str]:
    """An owner account whose organisation belongs to ``hall``: (token, user id, org id)."""
    account = await register(b.c, org=None)
    token = await token_for(b.c, account["email"])
    org = await register_org(b.c, b.auth(token), region=PARKS[hall][0] if hall in PARKS else hall)
    if hall in PARKS:
        async with db.transaction() as session:
            await session.execute(
                sa.update(OwnerOrg).where(OwnerOrg.public_id == org["id"]).values(hall=hall)
            )
    return token, account["id"], org["id"]


async def build_hall_world(client: AsyncClient, db: Database) -> HallWorld:
    b = _Builder(client, db)
    await _parks(db)
    world = HallWorld()
    for hall in STAFF_AT:
        for role in (Role.supervisor, Role.admin):
            email = await create_staff(db, role=role, jurisdiction=hall)
            world.staff[(role.value, hall)] = await token_for(client, email)
    province_admin = world.staff[("admin", P)]
    agency, agency_id = await b.agency(province_admin)
    owners: dict[str, str] = {}
    for hall in HALLS:
        owners[hall], _, world.ids[("org", hall)] = await _owner(b, db, hall)
        _, world.ids[("user", hall)], _ = await _owner(b, db, hall)

    # Due notices in every hall: a direct selection of the agency, which bids; what follows
    # the deadline is named by the object.
    due: dict[tuple[str, str], str] = {}
    deadline = datetime.now(UTC)
    for hall in HALLS:
        for name in ("objection", "dispute", "rating", "close"):
            window = (datetime.now(UTC) + timedelta(seconds=DUE_IN)).isoformat()
            notice_id = await b.draft(
                owners[hall],
                method="direct",
                winners=1,
                min_candidates=1,
                direct_agency_id=agency_id,
                direct_justification=JUSTIFICATION,
                bid_deadline=window,
            )
            deadline = await b.publish(owners[hall], notice_id)
            await b.bid(agency, notice_id)
            due[(name, hall)] = notice_id
    # Open notices whose owners asked for a cancellation, for a supervisor to decide.
    for hall in HALLS:
        notice_id = await b.draft(owners[hall])
        await b.publish(owners[hall], notice_id)
        await b.call(
            "POST",
            f"/api/v1/notices/{notice_id}/cancel",
            owners[hall],
            202,
            json={"reason": "项目资金未落实"},
        )
        world.ids[("cancellation", hall)] = notice_id
    # Agencies registered in each region hall: one waiting for review, one to suspend, one to blacklist.
    for hall in REGION_HALLS:
        for name, approve in (("review", False), ("suspend", True), ("blacklist", True)):
            token = await b.user("agency")
            body = await b.call(
                "POST",
                "/api/v1/agencies",
                token,
                201,
                json=agency_body(region=hall, name=f"云南{hall}{name}工程咨询有限公司"),
            )
            if approve:
                await b.call(
                    "POST",
                    f"/api/v1/agencies/{body['id']}/review",
                    province_admin,
                    json={"decision": "approve"},
                )
            world.ids[(f"agency:{name}", hall)] = body["id"]

    await asyncio.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.05)
    for hall in HALLS:
        owner = owners[hall]
        world.ids[("close", hall)] = due[("close", hall)]
        for name in ("objection", "dispute", "rating"):
            await b.call("POST", f"/api/v1/notices/{due[(name, hall)]}/close", owner)
        n = due[("objection", hall)]
        filed = await b.call(
            "POST",
            f"/api/v1/notices/{n}/objections",
            owner,
            201,
            json={"reasons": "中选机构的资质证书已过期，不符合公告要求"},
        )
        world.ids[("notice:objection", hall)], world.ids[("objection", hall)] = n, filed["id"]
        for name in ("dispute", "rating"):
            await b.finalize(due[(name, hall)])
            contract = await b.call(
                "POST",
                f"/api/v1/notices/{due[(name, hall)]}/contracts",
                owner,
                201,
                json=contract_body(agency_id),
            )
            cid = contract["id"]
            if name == "dispute":
                await b.call(
                    "POST",
                    f"/api/v1/contracts/{cid}/decline",
                    agency,
                    json={"reason": "合同条款与中选结果不符", "terms_mismatch": True},
                )
                world.ids[("contract", hall)] = cid
                continue
            await b.call("POST", f"/api/v1/contracts/{cid}/confirm", agency)
            await b.call(
                "POST",
                f"/api/v1/contracts/{cid}/milestones/1/submit",
                agency,
                files={"file": ("report.pdf", PDF, "application/pdf")},
                data={"note": "成果已完成，请审阅"},
            )
            await b.call("POST", f"/api/v1/contracts/{cid}/milestones/1/accept", owner)
            rating = await b.call(
                "POST",
                f"/api/v1/contracts/{cid}/rating",
                owner,
                201,
                json={
                    "quality": 5,
                    "timeliness": 4,
                    "attitude": 5,
                    "fees": 4,
                    "compliance": 5,
                    "comment": "按期完成，质量较好",
                },
            )
            world.ids[("rating", hall)] = rating["id"]
    return world
