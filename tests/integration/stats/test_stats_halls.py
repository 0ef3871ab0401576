"""Statistics per hall (issue 21 item 6): the dashboard, its CSV files and its API take a
jurisdiction and roll up; the province's dashboard is the sum of its halls."""

from __future__ import annotations

import re
from typing import Any

from httpx import AsyncClient

from market.accounts.models import Role
from market.core.db import Database
from market.stats import queries
from market.stats.rules import Figures
from tests.helpers import bearer, org_credit_code, register, token_for
from tests.integration.halls.test_halls import park, staff
from tests.integration.notices.test_api import is_problem, published
from tests.integration.stats.helpers import refresh
from tests.integration.stats.test_stats import read_csv

# hall → how many notices its organisation publishes (a park under Kunming, two of its
# counties, Kunming's own hall, another prefecture and the province's own hall)
NOTICES = {"530000": 1, "530100": 1, "530102": 2, "530103": 1, "530100KF": 2, "530300": 1}


async def crafted(client: AsyncClient, db: Database) -> None:
    admin = await staff(client, db, Role.admin, "530000")
    response = await client.post("/api/v1/halls", json=park("530100", "530100KF"), headers=admin)
    assert response.status_code == 201, response.text
    for hall, count in NOTICES.items():
        region = hall[:6]
        user = await register(client, role="owner", org=None)
        headers = bearer(await token_for(client, user["email"]))
        body = {
            "name": f"测试业主单位{hall}",
            "region": region,
            "hall": hall,
            "credit_code": org_credit_code(),
        }
        org = await client.post("/api/v1/owners/org", json=body, headers=headers)
        assert org.status_code == 201 and org.json()["hall"] == hall, org.text
        for i in range(count):
            await published(client, headers, budget_fen=1_000_000 * (i + 1))
    await refresh(db)  # the figures as the server's task would show them next


async def figures(client: AsyncClient, jurisdiction: str | None = None) -> dict[str, Any]:
    query = {"jurisdiction": jurisdiction} if jurisdiction else {}
    response = await client.get("/api/v1/stats", params=query)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def total(*bodies: dict[str, Any], key: str = "notices_published") -> int:
    return sum(int(b["summary"][key]) for b in bodies)


async def own_hall(db: Database, hall: str) -> Figures:
    """One hall's own figures, nothing below it."""
    session = db.sessionmaker()
    async with session:
        figures, as_of = await queries.hall_totals(session, [hall])
        assert as_of is not None
        return figures


async def test_the_province_is_the_sum_of_its_halls(client: AsyncClient, db: Database) -> None:
    await crafted(client, db)
    rolled = {hall: await figures(client, hall) for hall in NOTICES}
    own = {hall: await own_hall(db, hall) for hall in NOTICES}
    assert {h: f.notices for h, f in own.items()} == NOTICES
    # a county or a park has nothing below it here: its figures are its own hall's
    for hall in ("530102", "530103", "530100KF", "530300"):
        assert rolled[hall]["summary"]["notices_published"] == own[hall].notices
    # the prefecture: its own hall's, its counties' and its park's
    kunming = rolled["530100"]
    below = [rolled[h] for h in ("530102", "530103", "530100KF")]
    assert total(kunming) == own["530100"].notices + total(*below) == 6
    assert total(kunming, key="budget_fen") == own["530100"].budget_fen + total(*below, key="budget_fen")
    # the province: the sum of all halls' own figures, and of its own and its prefectures'
    province = await figures(client)
    assert province["summary"] == (await figures(client, "530000"))["summary"]
    assert total(province) == sum(f.notices for f in own.values()) == sum(NOTICES.values())
    assert total(province) == own["530000"].notices + total(kunming, rolled["530300"])
    # the tables roll up the same way: Kunming's latest month, and the province's every row
    for table in ("by_month", "by_category"):
        for row in province[table]:
            parts = [rolled[h] for h in ("530100", "530300")]
            cells = [
                int(next(r for r in b[table] if r["key"] == row["key"])["notices_published"]) for b in parts
            ]
            own_province = 1 if table == "by_month" and row["key"] == province["by_month"][-1]["key"] else 0
            if table == "by_category" and row["key"] == "EIA":
                own_province = 1
            assert int(row["notices_published"]) == own_province + sum(cells), (table, row["key"])
    month = province["by_month"][-1]["key"]
    in_month = [int(next(r for r in b["by_month"] if r["key"] == month)["notices_published"]) for b in below]
    assert int(kunming["by_month"][-1]["notices_published"]) == own["530100"].notices + sum(in_month)
    # agencies are province-wide whatever the jurisdiction
    assert kunming["agencies_scope"] == "province"
    assert kunming["summary"]["agencies"] == province["summary"]["agencies"]
    assert kunming["jurisdiction"]["code"] == "530100" and kunming["jurisdiction"]["kind"] == "prefecture"


async def test_csv_and_page_agree_with_the_api(client: AsyncClient, db: Database) -> None:
    await crafted(client, db)
    for hall in ("530100", "530102", None):
        api = await figures(client, hall)
        query = {"jurisdiction": hall} if hall else {}
        summary = read_csv((await client.get("/stats/summary.csv", params=query)).content)
        assert summary[2][1] == str(api["summary"]["notices_published"]), (hall, summary)
        months = read_csv((await client.get("/stats/month.csv", params=query)).content)
        assert months[-1][2] == str(api["by_month"][-1]["notices_published"]), (hall, months[-1])
        page = await client.get("/stats", params=query)
        assert page.status_code == 200
        shown = re.search(r"已发布公告</dt><dd>(\d+)</dd>", page.text)
        assert shown is not None and shown.group(1) == str(api["summary"]["notices_published"])
        if hall:
            assert f'href="/stats/summary.csv?jurisdiction={hall}"' in page.text
            assert 'id="agencies-province-wide"' in page.text
            assert f'<option value="{hall}" selected>' in page.text
    # the selector lists Kunming's counties and park once Kunming is chosen, not before
    assert 'value="530100KF"' in (await client.get("/stats", params={"jurisdiction": "530100"})).text
    assert 'value="530100KF"' not in (await client.get("/stats")).text
    assert 'value="530102"' in (await client.get("/stats", params={"jurisdiction": "530100KF"})).text


async def test_an_unknown_jurisdiction_is_refused(client: AsyncClient) -> None:
    for code in ("999999", "5301", "530100ZZ", "'; drop"):
        response = await client.get("/api/v1/stats", params={"jurisdiction": code})
        assert response.status_code == 422 and is_problem(response), response.text
        assert [e["field"] for e in response.json()["errors"]] == ["jurisdiction"]
        page = await client.get("/stats", params={"jurisdiction": code})
        assert page.status_code == 422 and 'id="e-jurisdiction"' in page.text
        assert (await client.get("/stats/summary.csv", params={"jurisdiction": code})).status_code == 422
