"""ops/bench/seed.py at a small scale (issue 10, item 1): the seeded database holds exactly
what was asked for, in every state, the application serves it on every public page and API,
`market log verify` passes, and the application carries on from it (a bid on a seeded open
notice is accepted and the log still verifies)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from market.app import create_app
from market.contracts.models import ContractStatus
from market.db import Database, to_asyncpg_dsn
from market.log.receipts import ReceiptSigner, verify_receipt
from market.notices.models import NoticeStatus
from market.selection.models import ObjectionStatus
from ops.bench import seed as seeding
from tests.conftest import make_settings, serve_in_process

ROOT = Path(__file__).resolve().parents[3]
SIZES = {"agencies": 40, "notices": 300, "bids": 2_000, "log_entries": 2_000}
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def fetch_all(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def market_log_verify(url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "MARKET_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "market.cli", "log", "verify"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


async def ok(client: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
    response = await client.get(path, **kwargs)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    return response


async def login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", json={"email": email, "password": seeding.PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.committing
async def test_a_seeded_database_is_complete_serves_every_public_page_and_verifies(committed_database_url: str, tmp_path: Path) -> None:
    url, data_dir = committed_database_url, tmp_path / "data"
    # Anchored at the current hour (the default), so that open notices are still open.
    report = await seeding.seed(url, **SIZES, data_dir=data_dir)

    # What was asked for, exactly; the report's counts are the tables'.
    for table, (rows, _) in report.tables.items():
        assert (await fetch_all(url, f"SELECT count(*) FROM {table}"))[0][0] == rows, table
    asked = {"agency": "agencies", "notice": "notices", "bid": "bids", "log_entry": "log_entries"}
    assert {table: report.tables[table][0] for table in asked} == {table: SIZES[name] for table, name in asked.items()}
    await states_are_all_there(url)
    await sequences_are_past_the_seeded_ids(url)

    db = Database.from_url(url)
    try:
        async with serve_in_process(create_app(make_settings(url, tmp_path), database=db)) as client:
            await public_lists_answer(client)
            await every_notice_status_renders(client, url)
            await agencies_contracts_and_the_log_render(client, url)
            await dashboards_render(client, url)
            await a_bid_on_a_seeded_open_notice_is_accepted(client, url)
    finally:
        await db.dispose()

    verified = market_log_verify(url, data_dir)
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr
    # Bids the log tells are receipted under the server's key; the others say they are not.
    signer = ReceiptSigner.from_data_dir(data_dir)
    rows = await fetch_all(url, "SELECT b.receipt, e.leaf_hash FROM bid b LEFT JOIN log_entry e ON e.seq = b.seq AND encode(e.leaf_hash, 'hex') = b.leaf_hash ORDER BY b.id DESC LIMIT 300")
    told = [r for r in rows if r["leaf_hash"] is not None]
    assert told and all(verify_receipt(r["receipt"], signer.public_jwk()) for r in told)
    assert all(verify_receipt(r["receipt"], signer.public_jwk()) is None for r in rows if r["leaf_hash"] is None)


async def states_are_all_there(url: str) -> None:
    async def values(sql: str) -> set[str]:
        return {r[0] for r in await fetch_all(url, sql)}

    assert await values("SELECT DISTINCT status FROM notice") == {s.value for s in NoticeStatus}
    assert await values("SELECT DISTINCT status FROM agency") == {"approved", "pending", "rejected", "suspended", "blacklisted"}
    assert await values("SELECT DISTINCT role FROM app_user") == {"owner", "agency", "supervisor", "admin"}
    assert await values("SELECT DISTINCT outcome FROM selection") == {"waiting", "drawn", "direct", "failed"}
    assert await values("SELECT DISTINCT status FROM bid") == {"standing", "withdrawn"}
    assert await values("SELECT DISTINCT method FROM notice") == {"lottery", "lowest_price", "direct"}
    assert {"approved", "pending"} <= await values("SELECT DISTINCT status FROM qualification")
    assert {"holding", "declined"} <= await values("SELECT DISTINCT status FROM award")
    assert {s.value for s in ContractStatus} - {"stopped", "declined"} <= await values("SELECT DISTINCT status FROM contract")
    assert await values("SELECT DISTINCT status FROM objection") & {s.value for s in ObjectionStatus}
    assert await values("SELECT DISTINCT substr(region, 1, 2) FROM notice") == {"53"}
    # Bids as the bid path takes them: on published notices, inside their window, withdrawn after placed.
    misplaced = await fetch_all(url, """
        SELECT count(*) FROM bid b JOIN notice n ON n.id = b.notice_id
        WHERE n.published_at IS NULL OR b.created_at < n.published_at OR b.created_at >= n.bid_deadline
           OR b.withdrawn_at < b.created_at OR (b.status = 'withdrawn') <> (b.withdrawn_at IS NOT NULL)""")
    assert misplaced[0][0] == 0


async def sequences_are_past_the_seeded_ids(url: str) -> None:
    for table, sequence in {**seeding.PUBLIC_SEQUENCES, "notice": "notice_public_seq"}.items():
        rows = await fetch_all(url, f"SELECT max(substring(public_id from '[0-9]+$')::bigint), (SELECT last_value FROM {sequence}) FROM {table}")
        highest, last = rows[0]
        assert highest is None or last >= highest, (table, highest, last)
    for table in ("bid", "notice", "award", "inbox_message"):
        rows = await fetch_all(url, f"SELECT max(id), (SELECT last_value FROM {table}_id_seq) FROM {table}")
        assert rows[0][1] >= rows[0][0], table


async def public_lists_answer(client: httpx.AsyncClient) -> None:
    await ok(client, "/")
    page = (await ok(client, "/api/v1/notices", params={"limit": 20})).json()
    assert len(page["items"]) == 20 and page["next_cursor"]
    # A filtered list, followed for a few pages: every item matches, none repeats.
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 20, "category": "EIA", "region": "530000"}
    for _ in range(4):
        page = (await ok(client, "/api/v1/notices", params=params)).json()
        assert all(item["category"] == "EIA" and item["region"].startswith("53") for item in page["items"])
        seen += [item["id"] for item in page["items"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) > 20 and len(seen) == len(set(seen))
    await ok(client, "/api/v1/notices", params={"limit": 20, "region": "530100"})
    await ok(client, "/notices")
    await ok(client, "/notices", params={"category": "EIA", "region": "530100", "status": "awarded"})
    await ok(client, "/agencies")
    await ok(client, "/agencies", params={"category": "EIA", "region": "530100"})
    await ok(client, "/api/v1/agencies", params={"limit": 20})
    for path in ("/log", "/stats", "/credit", "/api/v1/contracts", "/api/v1/ocds/releases", "/api/v1/log/checkpoint"):
        await ok(client, path)


async def every_notice_status_renders(client: httpx.AsyncClient, url: str) -> None:
    rows = await fetch_all(url, "SELECT DISTINCT ON (status) status, public_id, owner_id FROM notice ORDER BY status, md5(public_id)")
    for row in rows:
        notice_id = row["public_id"]
        headers: dict[str, str] = {}
        if row["status"] == "draft":  # drafts are their owner's only
            assert (await client.get(f"/api/v1/notices/{notice_id}")).status_code == 404
            email = (await fetch_all(url, "SELECT email FROM app_user WHERE id = $1", row["owner_id"]))[0][0]
            headers = await login(client, email)
        detail = (await ok(client, f"/api/v1/notices/{notice_id}", headers=headers)).json()
        assert detail["status"] == row["status"]
        await ok(client, f"/notices/{notice_id}", headers=headers)
        if row["status"] != "draft":
            await ok(client, f"/notices/{notice_id}/draw")
            record = (await ok(client, f"/api/v1/notices/{notice_id}/selection")).json()
            assert record["status"] == row["status"]
            await ok(client, f"/api/v1/notices/{notice_id}/terms")
            await ok(client, f"/api/v1/notices/{notice_id}/objections")


async def agencies_contracts_and_the_log_render(client: httpx.AsyncClient, url: str) -> None:
    for row in await fetch_all(url, "SELECT DISTINCT ON (status) public_id FROM agency WHERE status IN ('approved', 'suspended', 'blacklisted') ORDER BY status, id"):
        await ok(client, f"/agencies/{row[0]}")
        await ok(client, f"/api/v1/agencies/{row[0]}")
    busiest = await fetch_all(url, "SELECT a.public_id FROM agency a JOIN award w ON w.agency_id = a.id GROUP BY a.public_id ORDER BY count(*) DESC LIMIT 1")
    await ok(client, f"/agencies/{busiest[0][0]}")
    await ok(client, f"/api/v1/agencies/{busiest[0][0]}/credit")
    for row in await fetch_all(url, "SELECT DISTINCT ON (status) public_id FROM contract ORDER BY status, id"):
        await ok(client, f"/contracts/{row[0]}")
    for seq in (0, 1_000, 1_999):
        await ok(client, f"/log/entries/{seq}")


async def dashboards_render(client: httpx.AsyncClient, url: str) -> None:
    """The pages behind a log-in, for the busiest of each kind of account."""
    agency = (await fetch_all(url, "SELECT u.email, a.public_id FROM agency a JOIN app_user u ON u.id = a.owner_id JOIN award w ON w.agency_id = a.id GROUP BY u.email, a.public_id ORDER BY count(*) DESC LIMIT 1"))[0]
    owner = (await fetch_all(url, "SELECT u.email, o.public_id FROM notice n JOIN app_user u ON u.id = n.owner_id JOIN owner_org o ON o.created_by = u.id GROUP BY u.email, o.public_id ORDER BY count(*) DESC LIMIT 1"))[0]
    notice = (await fetch_all(url, "SELECT public_id FROM notice WHERE status = 'awarded' ORDER BY id LIMIT 1"))[0][0]
    pages = {
        "supervisor1@seed.market.cn": ["/supervision", "/supervision/flags", "/supervision/objections", "/supervision/contracts",
                                       f"/supervision/notices/{notice}", f"/supervision/agencies/{agency[1]}", f"/supervision/owners/{owner[1]}"],
        "admin1@seed.market.cn": ["/admin/agencies", "/admin/users"],
        owner[0]: ["/owner", "/messages"],
        agency[0]: ["/agency", "/agency/bids", "/agency/notices", "/messages"],
    }
    for email, paths in pages.items():
        headers = await login(client, email)
        for path in paths:
            await ok(client, path, headers=headers)


async def a_bid_on_a_seeded_open_notice_is_accepted(client: httpx.AsyncClient, url: str) -> None:
    """The logged part tells open notices' stories, so the application may carry on with them."""
    pairs = await fetch_all(url, """
        SELECT n.public_id, u.email FROM notice n
        JOIN agency a ON a.status = 'approved'
        JOIN agency_category c ON c.agency_id = a.id AND c.category = n.category
        JOIN app_user u ON u.id = a.owner_id
        WHERE n.status = 'open' AND n.bid_deadline > now() AND n.region = '530000' AND n.required_level IS NULL
          AND n.method = 'lottery' AND NOT EXISTS (SELECT 1 FROM notice_avoid v WHERE v.notice_id = n.id)
          AND EXISTS (SELECT 1 FROM qualification q WHERE q.agency_id = a.id AND q.category = n.category AND q.status = 'approved' AND q.valid_until > now())
          AND NOT EXISTS (SELECT 1 FROM bid b WHERE b.notice_id = n.id AND b.agency_id = a.id AND b.status = 'standing')
        ORDER BY n.id, a.id LIMIT 1""")
    assert pairs, "no agency may bid on any seeded open notice"
    notice_id, email = pairs[0]
    response = await client.post(f"/api/v1/notices/{notice_id}/bids", json={}, headers=await login(client, email))
    assert response.status_code == 201, response.text
    assert response.json()["bid_id"] == f"B-{SIZES['bids'] + 1:06d}"  # numbering carries on past the seeded bids


def test_the_plan_is_deterministic_and_spells_entries_as_the_services_do() -> None:
    """Same sizes, seed and anchor: the same notices, bids and logged entries."""
    sizes = seeding.Sizes(agencies=12, notices=60, bids=300, log_entries=400)

    def plan() -> tuple[list[tuple[Any, ...]], list[bytes]]:
        world = seeding.plan_world(sizes, random.Random(7), NOW)
        first = min(u.created_at for u in world.people.users())
        log = seeding.plan_log(world.notices, sizes.log_entries, seeding.Nonces(7), first)
        rows = [(n.public_id, n.status, n.deadline, [(b.public_id, b.agency.public_id, b.created_at, b.withdrawn_at) for b in n.bids]) for n in world.notices]
        return rows, [entry for *_, entry, _ in log.entries]

    first, second = plan(), plan()
    assert first == second
    assert first[1], "the logged part holds the live notices' entries"
