"""Red flags per jurisdiction: every rule is applied province-wide and again over each
jurisdiction's own notices, so an agency holding half of one county's awards is a flag for
that county (and for its prefecture looking at that county), not province-wide; a sibling
county's supervisor cannot look at it.

The awards are crafted: one notice is published through the API, then copied in SQL into
the halls and to the agencies each test needs (a round per award would take seconds each)."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient

from market.accounts.models import Role
from market.core.clock import today_in_china
from market.core.config import Settings
from market.core.db import Database
from market.notices.models import Notice
from market.supervision.flags import store
from tests.helpers import bearer, create_staff, token_for
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import approved_agency, owner_user, published

COUNTY = "530102"  # 五华区
SIBLING = "530103"  # 盘龙区, the same prefecture
PREFECTURE = "530100"  # 昆明市
_serial = itertools.count(1)


async def staff_at(
    client: AsyncClient, db: Database, jurisdiction: str, role: Role = Role.supervisor
) -> dict[str, str]:
    return bearer(await token_for(client, await create_staff(db, role=role, jurisdiction=jurisdiction)))


async def template_notice(client: AsyncClient) -> str:
    """A published notice (in 五华区) to copy."""
    return str((await published(client, await owner_user(client)))["id"])


async def copy_notice(
    db: Database,
    source: str,
    *,
    hall: str,
    status: str = "selected",
    agency: str | None = None,
    bid_deadline: datetime | None = None,
    title: str | None = None,
) -> str:
    """A copy of notice ``source`` in ``hall`` with ``status``, awarded to ``agency`` (a
    public id) when given. Returns its public id."""
    public_id = f"T{hall[-4:]}{next(_serial):05d}{source[-4:]}"[:16]
    columns = [
        c.name
        for c in Notice.__table__.columns  # type: ignore[attr-defined]
        if c.name != "id" and c.computed is None  # generated columns follow region
    ]
    values = {
        "public_id": ":public_id",
        "hall": ":hall",
        "region": ":region",
        "status": ":status",
        "bid_deadline": "COALESCE(CAST(:deadline AS timestamptz), bid_deadline)",
        "title": "COALESCE(CAST(:title AS text), title)",
    }
    select = ", ".join(values.get(c, c) for c in columns)
    async with db.transaction() as session:
        notice_pk = (
            await session.execute(
                sa.text(
                    f"INSERT INTO notice ({', '.join(columns)}) SELECT {select} FROM notice"
                    " WHERE public_id = :source RETURNING id"
                ),
                {
                    "public_id": public_id,
                    "hall": hall,
                    "region": hall[:6],
                    "status": status,
                    "deadline": bid_deadline,
                    "title": title,
                    "source": source,
                },
            )
        ).scalar_one()
        if agency is not None:
            await session.execute(
                sa.text(
                    "INSERT INTO award (notice_id, slot, agency_id, agency_public_id, status, since_seq, created_at)"
                    " SELECT :notice, 0, a.id, a.public_id, 'holding', 0, now() FROM agency a"
                    " WHERE a.public_id = :agency"
                ),
                {"notice": notice_pk, "agency": agency},
            )
    return public_id


async def county_concentration(client: AsyncClient, db: Database) -> dict[str, Any]:
    """五华区: A, A, B, C (A holds 50%: the threshold); 盘龙区: B, C, D (below the minimum
    of 4 awards). Province-wide and in 昆明市 A holds 2 of 7: no flag there."""
    staff = await admin(client, db)
    a, b, c, d = [(await approved_agency(client, staff))[1]["id"] for _ in range(4)]
    source = await template_notice(client)
    for hall, agency in [
        (COUNTY, a),
        (COUNTY, a),
        (COUNTY, b),
        (COUNTY, c),
        (SIBLING, b),
        (SIBLING, c),
        (SIBLING, d),
    ]:
        await copy_notice(db, source, hall=hall, agency=agency)
    return {"a": a, "b": b, "c": c, "d": d, "source": source}


async def compute_flags(db: Database, settings: Settings, *halls: str) -> None:
    """Compute and keep the views of ``halls`` (the province's by default), as the
    background task or ``market flags refresh`` does: no request computes one."""
    async with db.transaction() as session:
        for hall in halls or ("530000",):
            await store.refresh(session, settings, today_in_china(), hall=hall)


async def flags_of(client: AsyncClient, headers: dict[str, str], **params: str) -> Any:
    return await client.get("/api/v1/supervision/flags", params=params, headers=headers)


def win_share_of(body: dict[str, Any], agency: str) -> list[dict[str, Any]]:
    return [f for f in body["flags"] if f["kind"] == "win_share" and f["subject"] == agency]


async def test_a_county_only_concentration_is_the_countys_flag_only(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    world = await county_concentration(client, db)
    await compute_flags(db, settings, COUNTY, PREFECTURE, SIBLING, "530000")
    a = world["a"]
    county = await staff_at(client, db, COUNTY)
    prefecture = await staff_at(client, db, PREFECTURE)
    sibling = await staff_at(client, db, SIBLING)
    province = await staff_at(client, db, "530000")

    # The county's own view: A holds 2 of its 4 awards, as a whole and in the category.
    mine = await flags_of(client, county)
    assert mine.status_code == 200, mine.text
    assert mine.json()["jurisdiction"] == COUNTY
    found = win_share_of(mine.json(), a)
    scopes = {(f["numbers"]["scope"], f["numbers"]["key"]) for f in found}
    assert ("hall", COUNTY) in scopes, found
    hall_flag = next(f for f in found if f["numbers"]["scope"] == "hall")
    assert hall_flag["numbers"]["wins"] == 2 and hall_flag["numbers"]["total"] == 4
    assert "五华区" in hall_flag["summary"]["zh_Hans"]

    # The prefecture looking at that county sees it; its own view (A: 2 of 7) does not.
    assert win_share_of((await flags_of(client, prefecture, jurisdiction=COUNTY)).json(), a)
    own = (await flags_of(client, prefecture)).json()
    assert own["jurisdiction"] == PREFECTURE and not win_share_of(own, a)

    # Province-wide: no flag for A (2 of 7 in the prefecture and in the category).
    assert not win_share_of((await flags_of(client, province)).json(), a)

    # The sibling county sees neither A's flag in its own view nor the county's view.
    assert not win_share_of((await flags_of(client, sibling)).json(), a)
    refused = await flags_of(client, sibling, jurisdiction=COUNTY)
    assert refused.status_code == 403, refused.text
    assert (await flags_of(client, county, jurisdiction=PREFECTURE)).status_code == 403  # never above
    assert (await flags_of(client, province, jurisdiction="539999")).status_code == 422


async def test_the_flags_page_offers_the_jurisdictions_in_reach(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    world = await county_concentration(client, db)
    await compute_flags(db, settings, PREFECTURE, COUNTY)
    prefecture = await staff_at(client, db, PREFECTURE)
    page = await client.get("/supervision/flags", headers={**prefecture, "Accept-Language": "en"})
    assert page.status_code == 200, page.text
    assert 'name="jurisdiction"' in page.text and f'value="{COUNTY}"' in page.text
    assert 'value="530000"' not in page.text and 'value="530300"' not in page.text  # not above, not beside
    assert world["a"] not in page.text
    county_view = await client.get(
        "/supervision/flags", params={"jurisdiction": COUNTY}, headers={**prefecture, "Accept-Language": "en"}
    )
    assert county_view.status_code == 200 and f'data-subject="{world["a"]}"' in county_view.text
    explained = await client.get(
        "/supervision/flags/win_share", params={"jurisdiction": COUNTY}, headers=prefecture
    )
    assert explained.status_code == 200
    sibling = await staff_at(client, db, SIBLING)
    assert (
        await client.get("/supervision/flags", params={"jurisdiction": COUNTY}, headers=sibling)
    ).status_code == 403
