"""Red flags through the public surface: a real lowest-price round with two identical
prices and an over-budget contract show up on /supervision/flags and in the API, with the
links that prove them; only supervisors and administrators may look."""

from __future__ import annotations

import html
from typing import Any

from httpx import AsyncClient

from market.accounts.models import Role
from market.core.config import Settings
from market.core.db import Database
from tests.helpers import bearer, create_staff, token_for
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import owner_user
from tests.integration.selection.helpers import close, entries_of, open_round
from tests.integration.stats.test_stats import signed_round
from tests.integration.supervision.test_flags_jurisdiction import compute_flags

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


async def supervisor(client: AsyncClient, db: Database) -> dict[str, str]:
    return bearer(await token_for(client, await create_staff(db, role=Role.supervisor)))


async def flags_of(client: AsyncClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/supervision/flags", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def one(body: dict[str, Any], kind: str, subject: str) -> dict[str, Any]:
    found = [f for f in body["flags"] if f["kind"] == kind and f["subject"] == subject]
    assert len(found) == 1, [(f["kind"], f["subject"]) for f in body["flags"]]
    return found[0]


async def test_identical_prices_raise_similar_prices_with_its_evidence(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    staff = await admin(client, db)
    r = await open_round(
        client,
        staff,
        bidders=3,
        prices=[150_000, 150_000, 990_000],
        method="lowest_price",
        winners=1,
        min_candidates=2,
    )
    record = await close(client, r)
    assert record["status"] == "selected", record
    closed_seq = (await entries_of(client, r.notice_id, "bidding.closed"))[0]["seq"]
    chief = await supervisor(client, db)
    await compute_flags(db, settings)  # the province's view, as the background task does

    body = await flags_of(client, chief)
    f = one(body, "similar_prices", r.notice_id)
    assert f["severity"] == "high" and f["numbers"]["identical"] is True and f["numbers"]["bids"] == 2
    assert f["numbers"]["prices_fen"] == [150_000, 150_000]
    tied = sorted(b["bid_id"] for b in r.bids[:2])
    assert sorted(e["ref"] for e in f["evidence"] if e["type"] == "bid") == tied
    hrefs = {e["href"] for e in f["evidence"] if e["href"]}
    assert {f"/notices/{r.notice_id}", f"/notices/{r.notice_id}/draw", f"/log/entries/{closed_seq}"} <= hrefs
    assert (
        f["title"]["zh_Hans"] == "报价相同或极为接近"
        and f["title"]["en"] == "Identical or near-identical prices"
    )
    assert r.notice_id in f["summary"]["en"] and f["explained_at"] == "/supervision/flags/similar_prices"
    assert body["by_kind"]["similar_prices"] >= 1
    assert body["thresholds"]["similar_prices"] == {"permille": 5}

    # The page, in English and in Chinese, with the links.
    page = await client.get("/supervision/flags", headers={**chief, **EN})
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert "Identical or near-identical prices" in text
    for href in (f"/notices/{r.notice_id}", f"/notices/{r.notice_id}/draw", f"/log/entries/{closed_seq}"):
        assert f'href="{href}"' in text, href
    assert tied[0] in text
    zh = html.unescape((await client.get("/supervision/flags", headers={**chief, **ZH})).text)
    assert "报价相同或极为接近" in zh and "为什么值得关注" in zh

    # Filters: by kind, by severity and by subject, on the page (htmx: the list only) and in the API.
    only = await flags_of(client, chief, kind="similar_prices", q=r.notice_id.lower())
    assert [x["subject"] for x in only["flags"]] == [r.notice_id]
    assert not (await flags_of(client, chief, kind="over_budget", q=r.notice_id))["flags"]
    assert not (await flags_of(client, chief, severity="low", q=r.notice_id))["flags"]
    partial = await client.get(
        "/supervision/flags",
        params={"kind": "similar_prices", "q": r.notice_id},
        headers={**chief, **EN, "HX-Request": "true"},
    )
    assert (
        partial.status_code == 200
        and "<html" not in partial.text
        and f'data-subject="{r.notice_id}"' in partial.text
    )
    none = await client.get(
        "/supervision/flags",
        params={"kind": "withdrawals", "q": r.notice_id},
        headers={**chief, **EN, "HX-Request": "true"},
    )
    assert r.notice_id not in none.text and "No flag matches." in none.text


async def test_a_contract_above_the_budget_cap_is_flagged(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    notice_id = await signed_round(client, db, budget_fen=1_000_000, amount_fen=1_250_000)
    within = await signed_round(client, db, budget_fen=1_000_000, amount_fen=1_000_000)
    await compute_flags(db, settings)
    contract_id = ("C" + notice_id)[:16]
    staff = await admin(client, db)
    body = await flags_of(client, staff, kind="over_budget")
    f = one(body, "over_budget", contract_id)
    assert f["numbers"]["amount_fen"] == 1_250_000 and f["numbers"]["budget_fen"] == 1_000_000
    assert (
        f["numbers"]["excess_fen"] == 250_000
        and f["numbers"]["excess_percent"] == 25
        and f["severity"] == "high"
    )
    assert {f"/contracts/{contract_id}", f"/notices/{notice_id}"} <= {e["href"] for e in f["evidence"]}
    assert "¥12,500.00" in f["summary"]["en"] and "¥10,000.00" in f["summary"]["zh_Hans"]
    assert not [x for x in body["flags"] if x["subject"] == ("C" + within)[:16]]
    page = html.unescape(
        (await client.get("/supervision/flags?kind=over_budget", headers={**staff, **EN})).text
    )
    assert f'href="/contracts/{contract_id}"' in page and "Contract above the budget cap" in page


async def test_each_kind_is_explained_with_its_threshold(client: AsyncClient, db: Database) -> None:
    chief = await supervisor(client, db)
    page = await client.get("/supervision/flags/withdrawals", headers={**chief, **EN})
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert (
        "Many bids withdrawn" in text
        and "at least 30% of a notice's bids" in text
        and "at least 5 bids" in text
    )
    zh = html.unescape((await client.get("/supervision/flags/signed_late", headers={**chief, **ZH})).text)
    assert "30 天" in zh
    assert (await client.get("/supervision/flags/nonsense", headers={**chief, **EN})).status_code == 404


async def test_only_supervisors_and_admins_see_flags(client: AsyncClient) -> None:
    owner = await owner_user(client)
    assert (await client.get("/api/v1/supervision/flags", headers=owner)).status_code == 403
    assert (await client.get("/supervision/flags", headers={**owner, **EN})).status_code == 403
    assert (await client.get("/supervision/flags/over_budget", headers={**owner, **EN})).status_code == 403
    assert (await client.get("/api/v1/supervision/flags")).status_code == 401
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["paths"]["/api/v1/supervision/flags"]["get"]["tags"] == ["supervision"]
