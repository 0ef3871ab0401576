"""A bidder checks its own bid with nothing but its receipt file and the server's public
endpoints (`market receipt check FILE --url URL`, docs/protocol/msp.md section 6): before
the close the sealed entry is its bid and is in the signed tree; after it, the close opened
exactly that bid. An operator who drops the bid (here: deletes its row before the close, so
the honest close never opens it) is caught by the bidder at once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from market.core.db import to_asyncpg_dsn
from tests.integration.notices.test_api import owner_user
from tests.integration.selection.helpers import admin_on, open_round, wait_until
from tests.live import live_server

ROOT = Path(__file__).resolve().parents[3]


def check(path: Path, base: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "market.cli", "receipt", "check", str(path), "--url", base, "--json"],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


async def receipt_file(
    client: httpx.AsyncClient, headers: dict[str, str], notice_id: str, bid_id: str, to: Path
) -> Path:
    for _ in range(50):  # the checkpoint covering the bid is signed within a second
        response = await client.get(f"/api/v1/notices/{notice_id}/bids/{bid_id}/receipt", headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        if response.json()["inclusion"] is not None:
            break
        await asyncio.sleep(0.2)
    to.write_text(response.text, encoding="utf-8")
    return to


async def test_a_bidder_proves_its_bid_was_logged_and_opened_and_catches_a_dropped_one(
    committed_database_url: str, tmp_path: Path
) -> None:
    with live_server(committed_database_url, tmp_path / "data", MARKET_MIN_BID_WINDOW="0") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            staff = await admin_on(client, committed_database_url)
            r = await open_round(
                client,
                staff,
                bidders=3,
                owner=await owner_user(client),
                due_in=12.0,
                method="lowest_price",
                prices=[510_000, 520_000, 530_000],
                budget_fen=600_000,
                min_candidates=1,
            )
            kept, dropped = r.bids[0], r.bids[2]
            kept_file = await receipt_file(
                client, r.bidders[0][0], r.notice_id, kept["bid_id"], tmp_path / "kept.json"
            )
            dropped_file = await receipt_file(
                client, r.bidders[2][0], r.notice_id, dropped["bid_id"], tmp_path / "dropped.json"
            )
            body = json.loads(kept_file.read_text())
            assert (
                body["format"] == "market-bid-receipt/2"
                and json.loads(body["document"])["price_fen"] == 510_000
            )
            # Another agency cannot have it: its existence is sealed.
            assert (
                await client.get(
                    f"/api/v1/notices/{r.notice_id}/bids/{kept['bid_id']}/receipt", headers=r.bidders[1][0]
                )
            ).status_code == 404

            # Before the deadline: logged, sealed, in the tree; not opened yet.
            code, report = check(kept_file, base)
            assert code == 0 and report["opened_in"] is None, report
            assert any("in the signed tree" in c for c in report["checks"]) and any(
                "not ended" in n for n in report["notes"]
            )

            # A dishonest operator drops a bid before the close (its row, nothing else).
            conn = await asyncpg.connect(to_asyncpg_dsn(committed_database_url))
            try:
                await conn.execute("DELETE FROM bid WHERE public_id = $1", dropped["bid_id"])
            finally:
                await conn.close()
            await wait_until(r.deadline)
            for _ in range(100):  # the server's scheduler closes it
                record = (await client.get(f"/api/v1/notices/{r.notice_id}/selection")).json()
                if record["status"] != "open":
                    break
                await asyncio.sleep(0.2)
            assert record["status"] == "selected" and len(record["openings"]) == 2

            code, report = check(kept_file, base)
            assert code == 0 and report["opened_in"] == record["seqs"]["closed"], report
            assert any("opened in entry" in c and "standing" in c for c in report["checks"])

            code, report = check(dropped_file, base)
            assert code == 1 and report["opened_in"] is None, report
            assert any(
                f"entry {dropped['seq']}" in p and "was not opened" in p for p in report["problems"]
            ), report

            # A receipt whose document was altered (a price it did not bid) does not open its commitment.
            forged = json.loads(kept_file.read_text())
            forged["document"] = forged["document"].replace("510000", "500000")
            (tmp_path / "forged.json").write_text(json.dumps(forged), encoding="utf-8")
            code, report = check(tmp_path / "forged.json", base)
            assert code == 1 and any("do not open" in p for p in report["problems"]), report
    assert datetime.now(UTC) > r.deadline
