"""Issue 22, item 7: the audit log names entry types as people say them, and the log and
admin pages show Beijing time like every other page.

The log listed ``award.declined`` in both languages while the supervisor's timeline said
放弃中选; it now says the label (the timeline's own list, market/supervision/present.py),
with the type beside it in ``<code>`` for those who look it up. Its times, the checkpoint's,
the users' and the staff links' were UTC; they are China time, the zone said once."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa
from httpx import AsyncClient
from litestar import Litestar

from market import protocol
from market.accounts.models import AppUser, Role
from market.core.clock import CHINA
from market.core.db import Database
from market.log import store
from tests.conftest import serve_in_process
from tests.helpers import register
from tests.integration.agencies.test_pages import login_staff

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


async def _append(db: Database, type: str, **fields: object) -> int:
    async with db.sessionmaker() as session:
        appended = await store.append(session, type=type, fields=fields)
        await session.commit()
    return appended.seq


def _row(page: str, seq: int) -> str:
    match = re.search(rf"<tr>\s*<td>{seq}</td>(.*?)</tr>", page, re.S)
    assert match, f"no row for entry {seq}"
    return match.group(1)


async def test_the_log_names_entry_types_in_both_languages_and_keeps_the_type(
    client: AsyncClient, db: Database
) -> None:
    await register(client, org=None)
    seq = await _append(db, "award.declined", notice_id="N-000001", agency_id="AG-000001", reason="人手不足")
    zh = (await client.get("/log", headers=ZH)).text
    row = _row(zh, seq)
    assert "放弃中选" in row and "<code>award.declined</code>" in row
    assert re.search(r'<option value="award.declined"\s*>放弃中选 · award.declined</option>', zh)
    assert re.search(r'<option value="account.created"\s*>账户创建 · account.created</option>', zh)
    en = (await client.get("/log", headers=EN)).text
    assert "Award declined" in _row(en, seq) and "<code>award.declined</code>" in _row(en, seq)
    entry = (await client.get(f"/log/entries/{seq}", headers=ZH)).text
    assert "放弃中选" in entry and "<code>award.declined</code>" in entry
    # A type the timeline has no label for is shown as it is.
    odd = await _append(db, "test.unlabelled")
    assert "<code>test.unlabelled</code>" in _row((await client.get("/log", headers=EN)).text, odd)


async def test_log_times_are_china_time_with_the_zone_said(client: AsyncClient, db: Database) -> None:
    seq = await _append(db, "award.declined", notice_id="N-000001", agency_id="AG-000001", reason="x")
    entry = (await client.get(f"/log/entries/{seq}", headers=ZH)).text
    ts = re.search(r'<code title="[^"]*">([0-9T:.\-]+Z)</code>', entry).group(1)  # type: ignore[union-attr]
    china = protocol.parse_ts(ts).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    assert f'>{china}</time> <span class="tz">北京时间</span>' in entry
    for language, zone in ((ZH, "北京时间"), (EN, "China time")):
        page = (await client.get("/log", headers=language)).text
        assert "UTC" not in page.split('id="entries"')[1].split("</table>")[0]
        assert zone in page and f">{china}</time>" in _row(page, seq)
        assert "(UTC)" not in page and "（UTC）" not in page
        witness = (await client.get("/log/witness", headers=language)).text
        assert "(UTC)" not in witness and "（UTC）" not in witness


async def test_admin_pages_show_china_time(app: Litestar, client: AsyncClient, db: Database) -> None:
    user = await register(client, role="owner", org=None)
    # 20:30 UTC on 1 March is 04:30 on 2 March in Beijing: the day differs as well.
    async with db.sessionmaker() as session:
        await session.execute(
            sa.update(AppUser)
            .where(AppUser.email == user["email"])
            .values(created_at=datetime(2026, 3, 1, 20, 30, tzinfo=UTC))
        )
        public_id = (
            await session.execute(sa.select(AppUser.public_id).where(AppUser.email == user["email"]))
        ).scalar_one()
        await session.commit()
    async with serve_in_process(app) as browser:
        await login_staff(browser, db, Role.admin)
        detail = (await browser.get(f"/admin/users/{public_id}", headers=ZH)).text
        assert '2026-03-02 04:30</time> <span class="tz">北京时间</span>' in detail and "UTC" not in detail
        listed = (await browser.get("/admin/users", params={"role": "owner"}, headers=EN)).text
        assert ">2026-03-02</time>" in listed and ">2026-03-01</time>" not in listed
        link = await browser.post(
            f"/admin/users/{public_id}/reset-link",
            data={
                "_csrf_token": re.search(r'name="_csrf_token" value="([^"]+)"', detail).group(1),  # type: ignore[union-attr]
                "reason": "用户来电，已核实身份",
            },
            headers=EN,
        )
        assert link.status_code in (200, 201), link.text[:300]
        assert "UTC" not in link.text and "China time" in link.text
