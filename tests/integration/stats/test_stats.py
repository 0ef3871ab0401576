"""The statistics dashboard through its public surface: /api/v1/stats, the page in both
languages and the CSV downloads, with counts that move as the market does."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient

from market.contracts.models import Contract
from market.core.clock import CHINA
from market.core.db import Database
from market.notices.models import Notice
from market.selection.models import Award
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import owner_user, published
from tests.integration.selection.helpers import close, open_round
from tests.integration.stats.helpers import refresh

FIGURES = {
    "agencies",
    "notices_published",
    "selections",
    "contracts_signed",
    "contracts_completed",
    "completed_on_time",
    "amount_fen",
    "budget_fen",
    "savings",
    "on_time_rate",
}


def this_month() -> str:
    return datetime.now(CHINA).strftime("%Y-%m")


async def stats(client: AsyncClient, db: Database) -> dict[str, Any]:
    """The API's figures after a refresh of the summary (what the server's task does)."""
    await refresh(db)
    response = await client.get("/api/v1/stats")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def row(body: dict[str, Any], table: str, key: str) -> dict[str, Any]:
    return next(r for r in body[table] if r["key"] == key)


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), content[:10]
    return list(csv.reader(io.StringIO(content[3:].decode("utf-8"))))


async def signed_round(
    client: AsyncClient,
    db: Database,
    *,
    budget_fen: int,
    amount_fen: int,
    category: str = "EIA",
    region: str = "530100",
    completed_late: bool | None = None,
) -> str:
    """A real drawn round with two bidders and one winner, then a contract for its holder straight in the
    database (the contracts service records and signs them through its own API)."""
    staff = await admin(client, db)
    r = await open_round(
        client,
        staff,
        bidders=2,
        method="lottery",
        winners=1,
        min_candidates=2,
        budget_fen=budget_fen,
        category=category,
        region=region,
    )
    record = await close(client, r)
    assert record["status"] == "selected", record
    async with db.sessionmaker() as session:
        notice = (
            await session.execute(sa.select(Notice).where(Notice.public_id == r.notice_id))
        ).scalar_one()
        award = (await session.execute(sa.select(Award).where(Award.notice_id == notice.id))).scalar_one()
        # Completed within an hour of the due date's end in China time: 23:00 on the due
        # date is on time, 01:00 the next day is late, though both are the due date in UTC.
        due = datetime.now(CHINA).date() - timedelta(days=10)
        completed_at = datetime.combine(due, time(17 if completed_late else 15, 0), UTC)
        contract = Contract(
            public_id=("C" + r.notice_id)[:16],
            notice_id=notice.id,
            award_id=award.id,
            agency_id=award.agency_id,
            owner_id=notice.owner_id,
            amount_fen=amount_fen,
            signed_on=due - timedelta(days=40),
            start_on=due - timedelta(days=30),
            due_on=due,
            status="in_service" if completed_late is None else "completed",
            recorded_seq=1,
            confirmed_at=datetime.now(UTC),
            completed_at=None if completed_late is None else completed_at,
        )
        session.add(contract)
        await session.commit()
    return r.notice_id


async def test_empty_market_has_dashes_and_the_full_shape(client: AsyncClient, db: Database) -> None:
    body = await stats(client, db)
    assert set(body) == {
        "jurisdiction",
        "agencies_scope",
        "generated_at",
        "as_of",
        "summary",
        "by_category",
        "by_region",
        "by_month",
    }
    assert body["jurisdiction"]["code"] == "530000" and body["agencies_scope"] == "province"
    assert set(body["summary"]) == FIGURES
    assert body["summary"]["savings"] is None and body["summary"]["on_time_rate"] is None
    assert len(body["by_month"]) == 12 and body["by_month"][-1]["key"] == this_month()
    assert [r["key"] for r in body["by_month"]] == sorted(r["key"] for r in body["by_month"])
    assert any(r["key"] == "EIA" and r["name_zh"] == "环境影响评价" for r in body["by_category"])
    regions = [r["key"] for r in body["by_region"]]
    assert regions[0] == "530000" and "530100" in regions and "533400" in regions
    for table in ("by_category", "by_region", "by_month"):
        for r in body[table]:
            assert set(r) == FIGURES | {"key", "name_zh", "name_en"}
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["paths"]["/api/v1/stats"]["get"]["tags"] == ["stats"]


async def test_publishing_a_notice_moves_the_counts(client: AsyncClient, db: Database) -> None:
    before = await stats(client, db)
    owner = await owner_user(client)
    await published(client, owner, category="SURVEYING", region="530303")  # 曲靖市沾益区
    after = await stats(client, db)
    assert after["summary"]["notices_published"] == before["summary"]["notices_published"] + 1
    assert (
        row(after, "by_category", "SURVEYING")["notices_published"]
        == row(before, "by_category", "SURVEYING")["notices_published"] + 1
    )
    assert (
        row(after, "by_region", "530300")["notices_published"]
        == row(before, "by_region", "530300")["notices_published"] + 1
    )
    assert (
        row(after, "by_month", this_month())["notices_published"]
        == row(before, "by_month", this_month())["notices_published"] + 1
    )
    # A notice with no contract yet has nothing to save against.
    assert row(after, "by_category", "SURVEYING")["savings"] is None


async def test_contracts_move_the_counts_and_the_savings(client: AsyncClient, db: Database) -> None:
    before = await stats(client, db)
    await signed_round(client, db, budget_fen=1_000_000, amount_fen=800_000, completed_late=False)
    await signed_round(client, db, budget_fen=3_000_000, amount_fen=2_400_000, completed_late=True)
    await signed_round(client, db, budget_fen=500_000, amount_fen=500_000, category="EIA", region="530000")
    body = await stats(client, db)
    s, b = body["summary"], before["summary"]
    assert s["agencies"] == b["agencies"] + 6
    assert s["notices_published"] == b["notices_published"] + 3
    assert s["selections"] == b["selections"] + 3
    assert s["contracts_signed"] == b["contracts_signed"] + 3
    assert s["contracts_completed"] == b["contracts_completed"] + 2
    assert s["completed_on_time"] == b["completed_on_time"] + 1
    assert s["amount_fen"] == 3_700_000 and s["budget_fen"] == 4_500_000  # rolled back per test: only ours
    assert s["savings"] == round(1 - 3_700_000 / 4_500_000, 4)
    assert s["on_time_rate"] == 0.5
    eia = row(body, "by_category", "EIA")
    assert eia["contracts_signed"] == 3 and eia["on_time_rate"] == 0.5 and eia["agencies"] == 6
    assert row(body, "by_category", "SURVEYING")["savings"] is None
    kunming, province = row(body, "by_region", "530100"), row(body, "by_region", "530000")
    assert kunming["savings"] == 0.2 and province["savings"] == 0.0
    assert kunming["agencies"] == 6  # agencies registered in 昆明市 (530100)
    assert row(body, "by_region", "530100")["contracts_signed"] == 2
    assert row(body, "by_region", "530000")["contracts_signed"] == 1
    assert row(body, "by_month", this_month())["contracts_signed"] == 3

    page = await client.get("/stats", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert 'id="headline-savings">17.8%<' in page.text and 'id="headline-on-time">50.0%<' in page.text
    assert "<svg" in page.text and '<title id="svg-savings-title">' in page.text
    assert "Environmental impact assessment: 17.8%" in page.text  # the savings chart's bar

    rows = read_csv((await client.get("/stats/category.csv", headers={"Accept-Language": "en"})).content)
    assert rows[0][:3] == ["Code", "Service category", "Agencies registered"]
    eia_row = next(r for r in rows if r[0] == "EIA")
    header = rows[0]
    assert eia_row[header.index("Contracts signed")] == "3"
    assert eia_row[header.index("Savings")] == "17.8%"
    assert eia_row[header.index("Contract amounts (yuan)")] == "37000.00"
    assert eia_row[header.index("Budget caps of the same notices (yuan)")] == "45000.00"
    summary = dict(
        read_csv((await client.get("/stats/summary.csv", headers={"Accept-Language": "en"})).content)[1:]
    )
    assert summary["Savings"] == "17.8%" and summary["Contracts completed"] == "2"


async def test_page_renders_in_chinese_and_english(client: AsyncClient) -> None:
    zh = await client.get("/stats")
    assert zh.status_code == 200 and '<html lang="zh-Hans">' in zh.text
    assert "统计" in zh.text and "节约率" in zh.text and "按服务类别" in zh.text
    assert "还没有签订合同" in zh.text  # empty savings chart says why
    for name in ("summary", "category", "region", "month"):
        assert f'href="/stats/{name}.csv"' in zh.text
    assert 'role="img"' in zh.text and "<desc" in zh.text and "NaN" not in zh.text
    en = await client.get("/stats", headers={"Accept-Language": "en"})
    assert (
        '<html lang="en">' in en.text and "Statistics" in en.text and "Savings by service category" in en.text
    )
    home = await client.get("/")
    assert 'href="/stats"' in home.text


async def test_csv_downloads_have_a_bom_and_the_right_rows(client: AsyncClient, db: Database) -> None:
    owner = await owner_user(client)
    await published(client, owner, category="EIA", region="532901")  # 大理市
    await refresh(db)
    response = await client.get("/stats/region.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = read_csv(response.content)
    assert rows[0][:2] == ["代码", "地区"]
    dali = next(r for r in rows if r[0] == "532900")
    assert dali[1] == "大理白族自治州" and dali[rows[0].index("已发布公告")] == "1"
    assert len(rows) == 1 + 17  # province level + 16 prefectures
    months = read_csv((await client.get("/stats/month.csv")).content)
    assert len(months) == 13 and months[-1][0] == this_month()
    categories = read_csv((await client.get("/stats/category.csv")).content)
    assert any(r[1] == "环境影响评价" for r in categories)
    assert (await client.get("/stats/nothing.csv")).status_code == 404
    assert (await client.get("/stats/month.json")).status_code == 404
