"""Issue 22, item 1: the public agency profile lists the agency's real awards and contracts.

It said 暂无中标记录 / "No awards yet" whatever the database held, even above the rating of
the agency's completed contract. An agency that won a direct selection, had its contract
completed and was rated now shows the notice, its owner, the amount, the date and the
contract's status, in both languages; an agency that won nothing still says "no awards"."""

from __future__ import annotations

import html
import re

from httpx import AsyncClient

from market.core.db import Database
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import approved_agency, owner_user
from tests.integration.ratings.helpers import contract_for, won
from tests.integration.selection.helpers import close

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
GOOD = {"quality": 5, "timeliness": 4, "attitude": 5, "fees": 4, "compliance": 5, "comment": "按时交付"}


def _awards_section(page: str) -> str:
    match = re.search(r'<section aria-labelledby="awards-h">(.*?)</section>', page, re.S)
    assert match, "no awards section"
    return html.unescape(match.group(1))


async def test_a_rated_agency_with_a_completed_contract_lists_it(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    bidder = await approved_agency(client, staff)
    idle = await approved_agency(client, staff)
    owner = await owner_user(client)
    org = (await client.get("/api/v1/owners/org", headers=owner)).json()
    r = await won(client, staff, bidder, owner=owner)
    await close(client, r)
    contract_id = await contract_for(db, r.notice_id, status="completed")
    rated = await client.post(f"/api/v1/contracts/{contract_id}/rating", json=GOOD, headers=owner)
    assert rated.status_code == 201, rated.text
    notice = (await client.get(f"/api/v1/notices/{r.notice_id}")).json()

    agency_id = bidder[1]["id"]
    zh = await client.get(f"/agencies/{agency_id}", headers=ZH)
    assert zh.status_code == 200
    section = _awards_section(zh.text)
    assert "暂无" not in section and "No awards" not in section, section
    assert notice["title"] in section and r.notice_id in section
    assert org["name"] in section  # the owner organisation
    assert "¥120,000.00" in section  # the contract's amount (contract_for: 12,000,000 fen)
    assert "2026-01-05" in section  # the day it was signed
    assert "服务完成" in section and f'href="/contracts/{contract_id}"' in section
    assert "按时交付" in zh.text  # the rating is on the same page, below

    en = _awards_section((await client.get(f"/agencies/{agency_id}", headers=EN)).text)
    assert "No awards yet" not in en and "Completed" in en and notice["title"] in en

    nothing = _awards_section((await client.get(f"/agencies/{idle[1]['id']}", headers=EN)).text)
    assert "No awards yet" in nothing and "<table" not in nothing


async def test_an_award_without_a_contract_is_listed_in_publicity(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    bidder = await approved_agency(client, staff)
    r = await won(client, staff, bidder, owner=await owner_user(client))
    await close(client, r)
    section = _awards_section((await client.get(f"/agencies/{bidder[1]['id']}", headers=EN)).text)
    assert r.notice_id in section and "No awards yet" not in section
    assert "no contract recorded yet" in section, section
