"""ops/bench/seed.py at a small scale (issue 10, item 1): the seeded database holds exactly
what was asked for, in every state, the application serves it on every public page and API,
`market log verify` passes, and the application carries on from it (a bid on a seeded open
notice is accepted, another is cancelled, and the log still verifies). Everything seeded
follows MSP/2 (docs/protocol/msp.md, server sealing): bids are sealed entries and rows the
server can open with its seal key, as it does when a seeded open notice is closed later."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from market import protocol
from market.app import create_app
from market.bids.models import SealedBid, bid_label, withdrawal_label
from market.bids.receipts import ReceiptSigner, verify_receipt
from market.contracts.models import ContractStatus
from market.core.db import Database, to_asyncpg_dsn
from market.notices.models import NoticeStatus
from market.notices.secrets import SecretSealer
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
    return subprocess.run(
        [sys.executable, "-m", "market.cli", "log", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def ok(client: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
    response = await client.get(path, **kwargs)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    return response


async def login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", json={"email": email, "password": seeding.PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.committing
async def test_a_seeded_database_is_complete_serves_every_public_page_and_verifies(
    committed_database_url: str, tmp_path: Path
) -> None:
    url, data_dir = committed_database_url, tmp_path / "data"
    # Anchored at the current hour (the default), so that open notices are still open.
    report = await seeding.seed(url, **SIZES, data_dir=data_dir)

    # What was asked for, exactly; the report's counts are the tables'.
    for table, (rows, _) in report.tables.items():
        assert (await fetch_all(url, f"SELECT count(*) FROM {table}"))[0][0] == rows, table
    asked = {"agency": "agencies", "notice": "notices", "bid": "bids", "log_entry": "log_entries"}
    assert {table: report.tables[table][0] for table in asked} == {
        table: SIZES[name] for table, name in asked.items()
    }
    await states_are_all_there(url)
    await sequences_are_past_the_seeded_ids(url)
    await everything_belongs_to_a_hall(url)

    db = Database.from_url(url)
    try:
        async with serve_in_process(create_app(make_settings(url, tmp_path), database=db)) as client:
            await public_lists_answer(client)
            await every_notice_status_renders(client, url)
            await agencies_contracts_and_the_log_render(client, url)
            await dashboards_render(client, url)
            await a_bid_on_a_seeded_open_notice_is_accepted(client, url)
            await a_seeded_open_notice_with_bids_is_cancelled(client, url)
    finally:
        await db.dispose()

    verified = market_log_verify(url, data_dir)
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr
    assert "sealed" in verified.stdout  # the join of openings and sealed entries was made
    await everything_is_msp2(url)
    await bids_open_under_the_data_dir_s_key(url, data_dir)


async def everything_belongs_to_a_hall(url: str) -> None:
    """Owner organisations in several prefectures and counties, each in its region's hall;
    every published notice and every objection in its organisation's hall, drafts in none;
    every staff account holds a jurisdiction, some below the province."""
    halls = [r["hall"] for r in await fetch_all(url, "SELECT DISTINCT hall FROM owner_org")]
    assert (
        len([h for h in halls if h.endswith("00")]) >= 2
        and len([h for h in halls if not h.endswith("00")]) >= 3
    )
    assert (await fetch_all(url, "SELECT count(*) FROM owner_org WHERE hall <> region"))[0][0] == 0
    astray = await fetch_all(
        url,
        """SELECT count(*) FILTER (WHERE n.status <> 'draft' AND n.hall IS DISTINCT FROM o.hall),
                  count(*) FILTER (WHERE n.status = 'draft' AND n.hall IS NOT NULL),
                  count(DISTINCT n.hall)
           FROM notice n JOIN owner_org o ON o.id = n.org_id""",
    )
    assert astray[0][0] == 0 and astray[0][1] == 0 and astray[0][2] >= 5, astray
    objections = await fetch_all(
        url, "SELECT count(*) FROM objection x JOIN notice n ON n.id = x.notice_id WHERE x.hall <> n.hall"
    )
    assert objections[0][0] == 0
    staff = await fetch_all(
        url,
        """SELECT count(*) FILTER (WHERE jurisdiction IS NULL), count(*) FILTER (WHERE jurisdiction <> '530000')
           FROM app_user WHERE role IN ('admin', 'supervisor')""",
    )
    assert staff[0][0] == 0 and staff[0][1] > 0


async def everything_is_msp2(url: str) -> None:
    """The log holds no MSP/1 entry, every entry is v 2, and sealed entries name no notice;
    notices and bids are protocol 2 with server sealing, and the openings the tables keep
    are those the log published."""
    kinds = {
        r["type"]: r["n"]
        for r in await fetch_all(url, "SELECT type, count(*) AS n FROM log_entry GROUP BY type")
    }
    assert not {"bid.accepted", "bid.withdrawn"} & kinds.keys()
    assert {"bid.sealed", "notice.published", "bidding.closed", "notice.cancelled"} <= kinds.keys()
    assert (
        await fetch_all(
            url, "SELECT count(*) FROM log_entry WHERE convert_from(entry, 'UTF8')::jsonb->'v' <> '2'::jsonb"
        )
    )[0][0] == 0
    assert (
        await fetch_all(
            url, "SELECT count(*) FROM log_entry WHERE type = 'bid.sealed' AND notice_id IS NOT NULL"
        )
    )[0][0] == 0
    notices = await fetch_all(
        url, "SELECT protocol, sealing, status, count(*) AS n FROM notice GROUP BY 1, 2, 3"
    )
    assert {r["protocol"] for r in notices} == {2}
    assert all(r["sealing"] == ("server" if r["status"] != "draft" else None) for r in notices), notices
    bids = await fetch_all(
        url,
        """SELECT count(*) FILTER (WHERE protocol <> 2 OR commitment IS NULL OR sealed IS NULL
        OR price_fen IS NOT NULL OR document IS NOT NULL OR nonce IS NOT NULL OR bid_sha256 IS NOT NULL OR receipt IS NOT NULL),
        count(*) FILTER (WHERE (withdrawal_seq IS NULL) <> (withdrawal_sealed IS NULL)
                         OR (withdrawal_seq IS NOT NULL AND (status <> 'withdrawn' OR withdrawal_seq <= seq))),
        count(*) FILTER (WHERE withdrawal_seq IS NOT NULL) FROM bid""",
    )
    assert bids[0][0] == 0 and bids[0][1] == 0 and bids[0][2] > 0
    # Every ended notice says which entry opened its bids; for the notices the log tells,
    # that entry's openings are the selection's, and cover every bid of the notice.
    unopened = await fetch_all(
        url,
        """SELECT count(*) FROM notice n LEFT JOIN selection s ON s.notice_id = n.id
        WHERE (n.status IN ('closed', 'selected', 'awarded', 'failed', 'cancelled')) <> (n.opened_seq IS NOT NULL)
           OR (s.notice_id IS NOT NULL AND (s.openings IS NULL OR n.opened_seq <> s.closed_seq))""",
    )
    assert unopened[0][0] == 0
    told = await fetch_all(
        url,
        """SELECT n.id, n.public_id, e.type, convert_from(e.entry, 'UTF8') AS entry, s.openings::text AS openings
        FROM notice n JOIN log_entry e ON e.seq = n.opened_seq AND e.notice_id = n.public_id LEFT JOIN selection s ON s.notice_id = n.id""",
    )
    assert {r["type"] for r in told} == {"bidding.closed", "notice.cancelled"}
    for r in told:
        entry = json.loads(r["entry"])
        assert entry["v"] == 2 and "bids" not in entry
        bid_ids = [
            b[0] for b in await fetch_all(url, "SELECT public_id FROM bid WHERE notice_id = $1", r["id"])
        ]
        assert [o["bid"]["bid_id"] for o in entry["openings"]] == sorted(
            bid_ids, key=lambda b: b.encode("utf-8")
        )
        if r["type"] == "bidding.closed":
            assert json.loads(r["openings"]) == entry["openings"]


async def bids_open_under_the_data_dir_s_key(url: str, data_dir: Path) -> None:
    """Every bid's sealed material opens with the server's seal key and opens its
    commitment; bids the log tells are receipted under the server's key and their sealed
    entries hold their commitments (and their withdrawals' ones); the others' receipts say
    they are not signed."""
    sealer, signer = SecretSealer.from_data_dir(data_dir), ReceiptSigner.from_data_dir(data_dir)
    rows = await fetch_all(
        url,
        """
        SELECT b.public_id, b.commitment, b.sealed, b.seq, b.leaf_hash, b.withdrawal_seq, b.withdrawal_sealed, n.public_id AS notice_id,
               a.public_id AS agency_id, convert_from(e.entry, 'UTF8') AS entry, convert_from(w.entry, 'UTF8') AS withdrawal
        FROM bid b JOIN notice n ON n.id = b.notice_id JOIN agency a ON a.id = b.agency_id
        LEFT JOIN log_entry e ON e.seq = b.seq AND encode(e.leaf_hash, 'hex') = b.leaf_hash
        LEFT JOIN log_entry w ON w.seq = b.withdrawal_seq
        ORDER BY b.id DESC LIMIT 400""",
    )
    told = [r for r in rows if r["entry"] is not None]
    assert told and len(told) < len(rows)
    assert any(r["withdrawal_seq"] is not None for r in told)
    for r in rows:
        opened = SealedBid.from_bytes(sealer.open(bid_label(r["public_id"]), r["sealed"]))
        doc = json.loads(opened.document)
        assert (doc["bid_id"], doc["notice_id"], doc["agency_id"]) == (
            r["public_id"],
            r["notice_id"],
            r["agency_id"],
        )
        assert protocol.bid_commitment(opened.salt, opened.document).hex() == r["commitment"]
        claims = verify_receipt(opened.receipt, signer.public_jwk())
        if r["entry"] is None:
            assert claims is None  # unsigned (alg none), with the same claims
            payload = opened.receipt.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims == {
            "v": 2,
            "notice_id": r["notice_id"],
            "bid_id": r["public_id"],
            "agency_id": r["agency_id"],
            "commitment": r["commitment"],
            "salt": opened.salt.hex(),
            "seq": r["seq"],
            "leaf_hash": r["leaf_hash"],
        }
        withdrawal_salt = (
            sealer.open(withdrawal_label(r["public_id"]), r["withdrawal_sealed"])
            if r["withdrawal_sealed"]
            else None
        )
        if r["entry"] is not None:
            entry = json.loads(r["entry"])
            assert entry == {
                "v": 2,
                "seq": r["seq"],
                "ts": entry["ts"],
                "type": "bid.sealed",
                "commitment": r["commitment"],
            }
            if withdrawal_salt is not None:
                withdrawal = json.loads(r["withdrawal"])
                assert withdrawal["type"] == "bid.sealed"
                assert (
                    withdrawal["commitment"]
                    == protocol.withdrawal_commitment(withdrawal_salt, bytes.fromhex(r["commitment"])).hex()
                )
        else:  # the leaf hash of the sealed entry it would have had at its seq
            assert len(r["leaf_hash"]) == 64


async def states_are_all_there(url: str) -> None:
    async def values(sql: str) -> set[str]:
        return {r[0] for r in await fetch_all(url, sql)}

    assert await values("SELECT DISTINCT status FROM notice") == {s.value for s in NoticeStatus}
    assert await values("SELECT DISTINCT status FROM agency") == {
        "approved",
        "pending",
        "rejected",
        "suspended",
        "blacklisted",
    }
    assert await values("SELECT DISTINCT role FROM app_user") == {"owner", "agency", "supervisor", "admin"}
    assert await values("SELECT DISTINCT outcome FROM selection") == {"waiting", "drawn", "direct", "failed"}
    assert await values("SELECT DISTINCT status FROM bid") == {"standing", "withdrawn"}
    assert await values("SELECT DISTINCT method FROM notice") == {"lottery", "lowest_price", "direct"}
    assert {"approved", "pending"} <= await values("SELECT DISTINCT status FROM qualification")
    assert {"holding", "declined"} <= await values("SELECT DISTINCT status FROM award")
    # Disputes over terms that do not follow the award are not seeded: the seed's terms follow it.
    assert {s.value for s in ContractStatus} - {
        "stopped",
        "declined",
        "disputed",
        "set_aside",
    } <= await values("SELECT DISTINCT status FROM contract")
    # Contracts follow the award (docs/contracts.md): never above the budget, signed on or before
    # the start, starting no earlier than recorded, due after the service period published.
    astray = await fetch_all(
        url,
        """
        SELECT count(*) FROM contract c JOIN notice n ON n.id = c.notice_id
        WHERE c.amount_fen > n.budget_fen OR c.signed_on > c.start_on
           OR c.start_on < (c.created_at AT TIME ZONE 'Asia/Shanghai')::date
           OR c.due_on < c.start_on + coalesce(n.service_days, 0)""",
    )
    assert astray[0][0] == 0
    assert await values("SELECT DISTINCT status FROM objection") & {s.value for s in ObjectionStatus}
    assert await values("SELECT DISTINCT substr(region, 1, 2) FROM notice") == {"53"}
    # Bids as the bid path takes them: on published notices, inside their window, withdrawn after placed.
    misplaced = await fetch_all(
        url,
        """
        SELECT count(*) FROM bid b JOIN notice n ON n.id = b.notice_id
        WHERE n.published_at IS NULL OR b.created_at < n.published_at OR b.created_at >= n.bid_deadline
           OR b.withdrawn_at < b.created_at OR (b.status = 'withdrawn') <> (b.withdrawn_at IS NOT NULL)""",
    )
    assert misplaced[0][0] == 0


async def sequences_are_past_the_seeded_ids(url: str) -> None:
    for table, sequence in {**seeding.PUBLIC_SEQUENCES, "notice": "notice_public_seq"}.items():
        rows = await fetch_all(
            url,
            f"SELECT max(substring(public_id from '[0-9]+$')::bigint), (SELECT last_value FROM {sequence}) FROM {table}",
        )
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
    for path in (
        "/log",
        "/stats",
        "/credit",
        "/api/v1/contracts",
        "/api/v1/ocds/releases",
        "/api/v1/log/checkpoint",
    ):
        await ok(client, path)


async def every_notice_status_renders(client: httpx.AsyncClient, url: str) -> None:
    rows = await fetch_all(
        url,
        "SELECT DISTINCT ON (status) status, public_id, owner_id FROM notice ORDER BY status, md5(public_id)",
    )
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
    for row in await fetch_all(
        url,
        "SELECT DISTINCT ON (status) public_id FROM agency WHERE status IN ('approved', 'suspended', 'blacklisted') ORDER BY status, id",
    ):
        await ok(client, f"/agencies/{row[0]}")
        await ok(client, f"/api/v1/agencies/{row[0]}")
    busiest = await fetch_all(
        url,
        "SELECT a.public_id FROM agency a JOIN award w ON w.agency_id = a.id GROUP BY a.public_id ORDER BY count(*) DESC LIMIT 1",
    )
    await ok(client, f"/agencies/{busiest[0][0]}")
    await ok(client, f"/api/v1/agencies/{busiest[0][0]}/credit")
    for row in await fetch_all(
        url, "SELECT DISTINCT ON (status) public_id FROM contract ORDER BY status, id"
    ):
        await ok(client, f"/contracts/{row[0]}")
    for seq in (0, 1_000, 1_999):
        await ok(client, f"/log/entries/{seq}")


async def dashboards_render(client: httpx.AsyncClient, url: str) -> None:
    """The pages behind a log-in, for the busiest of each kind of account."""
    agency = (
        await fetch_all(
            url,
            "SELECT u.email, a.public_id FROM agency a JOIN app_user u ON u.id = a.owner_id JOIN award w ON w.agency_id = a.id GROUP BY u.email, a.public_id ORDER BY count(*) DESC LIMIT 1",
        )
    )[0]
    owner = (
        await fetch_all(
            url,
            "SELECT u.email, o.public_id FROM notice n JOIN app_user u ON u.id = n.owner_id JOIN owner_org o ON o.created_by = u.id GROUP BY u.email, o.public_id ORDER BY count(*) DESC LIMIT 1",
        )
    )[0]
    notice = (
        await fetch_all(url, "SELECT public_id FROM notice WHERE status = 'awarded' ORDER BY id LIMIT 1")
    )[0][0]
    pages = {
        "supervisor1@seed.market.cn": [
            "/supervision",
            "/supervision/flags",
            "/supervision/objections",
            "/supervision/contracts",
            f"/supervision/notices/{notice}",
            f"/supervision/agencies/{agency[1]}",
            f"/supervision/owners/{owner[1]}",
        ],
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
    pairs = await fetch_all(
        url,
        """
        SELECT n.public_id, u.email FROM notice n
        JOIN agency a ON a.status = 'approved'
        JOIN agency_category c ON c.agency_id = a.id AND c.category = n.category
        JOIN app_user u ON u.id = a.owner_id
        WHERE n.status = 'open' AND n.bid_deadline > now() AND n.region = '530000' AND n.required_level IS NULL
          AND n.method = 'lottery' AND NOT EXISTS (SELECT 1 FROM notice_avoid v WHERE v.notice_id = n.id)
          AND EXISTS (SELECT 1 FROM qualification q WHERE q.agency_id = a.id AND q.category = n.category AND q.status = 'approved' AND q.valid_until > now())
          AND NOT EXISTS (SELECT 1 FROM bid b WHERE b.notice_id = n.id AND b.agency_id = a.id AND b.status = 'standing')
        ORDER BY n.id, a.id LIMIT 1""",
    )
    assert pairs, "no agency may bid on any seeded open notice"
    notice_id, email = pairs[0]
    response = await client.post(
        f"/api/v1/notices/{notice_id}/bids", json={}, headers=await login(client, email)
    )
    assert response.status_code == 201, response.text
    assert (
        response.json()["bid_id"] == f"B-{SIZES['bids'] + 1:06d}"
    )  # numbering carries on past the seeded bids


async def a_seeded_open_notice_with_bids_is_cancelled(client: httpx.AsyncClient, url: str) -> None:
    """The cancellation opens every bid of the notice (standing, withdrawn, released) with
    the server's seal key, so the seeded sealed material must open."""
    rows = await fetch_all(
        url,
        """
        SELECT n.public_id, u.email, count(b.id) AS bids FROM notice n JOIN app_user u ON u.id = n.owner_id JOIN bid b ON b.notice_id = n.id
        WHERE n.status = 'open' GROUP BY n.id, n.public_id, u.email
        ORDER BY bool_or(b.withdrawal_seq IS NOT NULL) DESC, count(b.id) DESC, n.id LIMIT 1""",
    )
    assert rows, "no seeded open notice has bids"
    notice_id, email, bids = rows[0]
    asked = await client.post(
        f"/api/v1/notices/{notice_id}/cancel",
        json={"reason": "采购需求变更"},
        headers=await login(client, email),
    )
    assert asked.status_code == 202, asked.text
    response = await client.post(
        f"/api/v1/notices/{notice_id}/cancellation",
        json={"consent": True},
        headers=await login(client, "supervisor1@seed.market.cn"),
    )
    assert response.status_code == 200, response.text
    entry = await fetch_all(
        url,
        "SELECT convert_from(entry, 'UTF8') FROM log_entry WHERE notice_id = $1 AND type = 'notice.cancelled'",
        notice_id,
    )
    assert len(json.loads(entry[0][0])["openings"]) == bids


@pytest.mark.committing
async def test_seeded_open_notices_are_closed_by_the_server_later_and_the_log_verifies(
    committed_database_url: str, tmp_path: Path
) -> None:
    """A data set anchored a month ago: its open notices' deadlines have passed. The server
    closes them as it would any notice (opening every bid with its seal key: the seeded
    sealed material, salts and seqs must be right), draws, and the log still verifies,
    every seeded sealed entry now opened by exactly one notice."""
    url, data_dir = committed_database_url, tmp_path / "data"
    anchor = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=30)
    await seeding.seed(url, **SIZES, data_dir=data_dir, now=anchor)
    due = await fetch_all(
        url,
        """
        SELECT n.public_id, count(b.id) AS bids, count(b.withdrawal_seq) AS withdrawals FROM notice n LEFT JOIN bid b ON b.notice_id = n.id
        WHERE n.status = 'open' GROUP BY n.id, n.public_id ORDER BY n.id""",
    )
    assert due and any(r["withdrawals"] for r in due)
    db = Database.from_url(url)
    try:
        async with serve_in_process(create_app(make_settings(url, tmp_path), database=db)) as client:
            headers = await login(client, "admin1@seed.market.cn")
            for notice_id, bids, withdrawals in due:
                response = await client.post(f"/api/v1/notices/{notice_id}/close", headers=headers)
                assert response.status_code == 200, response.text
                record = response.json()
                assert record["protocol"] == 2 and record["sealing"] == "server"
                assert len(record["openings"]) == bids and len(record["sealed"]) == bids + withdrawals
    finally:
        await db.dispose()
    assert (await fetch_all(url, "SELECT count(*) FROM notice WHERE status = 'open'"))[0][0] == 0
    verified = market_log_verify(url, data_dir)
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr


def test_the_plan_is_deterministic_and_spells_entries_as_the_services_do() -> None:
    """Same sizes, seed and anchor: the same notices, bids and logged entries, but for the
    salts (and so the commitments), which are fresh from the operating system each run."""
    sizes = seeding.Sizes(agencies=12, notices=60, bids=300, log_entries=400)

    def plan(salts: seeding.Salts) -> tuple[list[tuple[Any, ...]], list[bytes]]:
        world = seeding.plan_world(sizes, random.Random(7), NOW)
        first = min(u.created_at for u in world.people.users())
        log = seeding.plan_log(world.notices, sizes.log_entries, salts, first)
        rows = [
            (
                n.public_id,
                n.status,
                n.deadline,
                [(b.public_id, b.agency.public_id, b.created_at, b.withdrawn_at) for b in n.bids],
            )
            for n in world.notices
        ]
        return rows, [entry for *_, entry, _ in log.entries]

    def fixed(size: int) -> bytes:  # a deterministic stand-in for os.urandom
        return b"".join(hashlib.sha256(b"salts %d" % i).digest() for i in range(-(-size // 32)))[:size]

    first, second = plan(seeding.Salts(sizes.bids, fixed)), plan(seeding.Salts(sizes.bids, fixed))
    assert first == second
    assert first[1], "the logged part holds the live notices' entries"
    types = [json.loads(e)["type"] for e in first[1]]
    assert {"bid.sealed", "notice.published", "bidding.closed"} <= set(types)
    assert not {"bid.accepted", "bid.withdrawn"} & set(types)
    # Fresh salts: the same rows and entries but for the commitments and the openings' salts.
    third = plan(seeding.Salts(sizes.bids))
    assert third[0] == first[0] and len(third[1]) == len(first[1])
    differ = {json.loads(e)["type"] for e, f in zip(first[1], third[1], strict=True) if e != f}
    assert "bid.sealed" in differ and differ <= {"bid.sealed", "bidding.closed", "notice.cancelled"}


def test_logged_entries_are_what_the_protocol_says() -> None:
    """The logged part's entries, re-derived with market.protocol: every bid and
    withdrawal a sealed entry holding its commitment and nothing else, every opening of a
    close or a cancellation recomputing to the sealed entries it names, before the deadline."""
    sizes = seeding.Sizes(agencies=12, notices=80, bids=400, log_entries=600)
    world = seeding.plan_world(sizes, random.Random(3), NOW)
    log = seeding.plan_log(
        world.notices,
        sizes.log_entries,
        seeding.Salts(sizes.bids),
        min(u.created_at for u in world.people.users()),
    )
    entries = {seq: json.loads(entry) for seq, _, _, entry, _ in log.entries}
    for seq, type_, notice_id, entry, leaf in log.entries:
        assert leaf == protocol.leaf_hash(entry) and protocol.canonical_json(json.loads(entry)) == entry
        assert entries[seq]["v"] == 2 and entries[seq]["seq"] == seq
        assert notice_id == (None if type_ == "bid.sealed" else entries[seq]["notice_id"])
        if type_ == "bid.sealed":
            assert set(entries[seq]) == {"v", "seq", "type", "ts", "commitment"}
    claimed: list[int] = []
    openers = [e for e in entries.values() if e["type"] in ("bidding.closed", "notice.cancelled")]
    assert {e["type"] for e in openers} == {"bidding.closed", "notice.cancelled"}
    published = {e["notice_id"]: e for e in entries.values() if e["type"] == "notice.published"}
    assert all(e["sealing"] == "server" for e in published.values())
    for e in openers:
        deadline = max(
            x["bid_deadline"]
            for x in entries.values()
            if x.get("notice_id") == e["notice_id"] and "bid_deadline" in x
        )
        for o in e["openings"]:
            document = protocol.bid_document_v2(
                e["notice_id"], o["bid"]["bid_id"], o["bid"]["agency_id"], o["bid"]["price_fen"]
            )
            c_bid = protocol.bid_commitment(bytes.fromhex(o["salt"]), document)
            sealed = entries[o["seq"]]
            assert (
                sealed["commitment"] == c_bid.hex()
                and sealed["ts"] < deadline
                and published[e["notice_id"]]["seq"] < o["seq"] < e["seq"]
            )
            claimed.append(o["seq"])
            if o["withdrawn"] is not None:
                w = entries[o["withdrawn"]["seq"]]
                assert (
                    w["commitment"]
                    == protocol.withdrawal_commitment(bytes.fromhex(o["withdrawn"]["salt"]), c_bid).hex()
                )
                assert o["seq"] < w["seq"] < e["seq"] and w["ts"] < deadline
                claimed.append(w["seq"])
    # Every sealed entry of the logged part is a bid or a withdrawal of a notice told there,
    # and claimed once by its opening, unless that notice is still open.
    told = [n for n in world.notices if n.logged]
    mine = {
        n.public_id: [b.seq for b in n.bids] + [b.withdrawal_seq for b in n.bids if b.withdrawal_seq >= 0]
        for n in told
    }
    assert sorted(s for seqs in mine.values() for s in seqs) == sorted(
        seq for seq, e in entries.items() if e["type"] == "bid.sealed"
    )
    assert sorted(claimed) == sorted(
        s for n in told if n.closed_at or n.cancelled_at for s in mine[n.public_id]
    )
    assert len(set(claimed)) == len(claimed)


def test_the_history_s_dry_run_in_another_process_is_the_one_made_in_place() -> None:
    """Timing (a long history's dry run, made while the plan is) gives the very offsets
    history_offsets gives here, and none for a pace too far from its own."""
    timing = seeding.Timing(1_500, 5, 30)
    try:
        assert timing.future is not None, "no worker process could be started"
        here = seeding.history_offsets(1_500, 5, 30, timing.every)
        assert timing.offset(999, timing.every * 1.5) is None  # a pace too far off: not used
        assert timing.offset(1_499, timing.every) == here[1_499] > here[999] > timedelta(0)
    finally:
        timing.close()
