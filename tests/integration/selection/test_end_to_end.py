"""End to end, through the api-v1 paths of a live ``market serve`` only: accounts, agencies,
four notices (lottery with five candidates, lowest price with a tie, direct selection,
too few candidates) closed by the server's own scheduler seconds after their deadline;
then both verifiers (the standalone ops/verify_log.py over HTTP, `market log verify` over
the database) pass, and fail once one byte of one stored entry is changed."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from market import protocol
from market.core.db import to_asyncpg_dsn
from tests.integration.notices.test_api import approved_agency, draft, owner_user
from tests.integration.selection.helpers import (
    LIVE_ENV,
    admin_on,
    assert_notices_ok,
    entries_of,
    market_cli,
    recompute,
    sealed_entries,
    verify_log,
    wait_decided,
)
from tests.live import running_server

JUSTIFICATION = "该机构承担过本项目前期全部评估工作，由其续作可避免重复勘查"
PRICES = [987_654, 912_345, 954_321, 912_345]  # the second and the fourth tie for lowest


async def change_one_byte(database_url: str, seq: int, field: str) -> None:
    """Flip one hex digit of ``field`` in stored entry ``seq`` (still valid JSON, seq
    intact): only the entry's hash betrays it."""
    conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        entry = bytes(await conn.fetchval("SELECT entry FROM log_entry WHERE seq = $1", seq))
        at = entry.index(f'"{field}":"'.encode()) + len(field) + 4
        digit = entry[at : at + 1]
        changed = entry[:at] + (b"1" if digit != b"1" else b"2") + entry[at + 1 :]
        assert len(changed) == len(entry) and changed != entry
        await conn.execute("ALTER TABLE log_entry DISABLE TRIGGER log_entry_no_update_delete")
        try:
            await conn.execute("UPDATE log_entry SET entry = $1 WHERE seq = $2", changed, seq)
        finally:
            await conn.execute("ALTER TABLE log_entry ENABLE TRIGGER log_entry_no_update_delete")
    finally:
        await conn.close()


@pytest.mark.committing
async def test_four_kinds_of_selection_closed_by_the_server_and_verified_from_outside(
    committed_database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with running_server(committed_database_url, data_dir, **LIVE_ENV) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            staff = await admin_on(client, committed_database_url)
            owner = await owner_user(client)
            agencies = [await approved_agency(client, staff) for _ in range(5)]
            ids = [a["id"] for _, a in agencies]

            # Four notices, one deadline a few seconds away.
            deadline = datetime.now(UTC) + timedelta(seconds=5)
            at = deadline.isoformat()
            lottery = await draft(
                client,
                owner,
                method="lottery",
                winners=1,
                min_candidates=3,
                bid_deadline=at,
                title="抽签：某道路环评",
            )
            lowest = await draft(
                client,
                owner,
                method="lowest_price",
                winners=1,
                min_candidates=3,
                bid_deadline=at,
                title="最低价：某水库环评",
            )
            direct = await draft(
                client,
                owner,
                method="direct",
                winners=1,
                min_candidates=1,
                bid_deadline=at,
                title="直接选取：续作评估",
                direct_agency_id=ids[4],
                direct_justification=JUSTIFICATION,
            )
            too_few = await draft(
                client,
                owner,
                method="lottery",
                winners=1,
                min_candidates=3,
                bid_deadline=at,
                title="报名不足：某矿山环评",
            )
            notices = [lottery["id"], lowest["id"], direct["id"], too_few["id"]]
            for notice_id in notices:
                response = await client.post(f"/api/v1/notices/{notice_id}/publish", headers=owner)
                assert response.status_code == 200 and response.json()["scheme"] == "none", response.text

            async def bid(notice_id: str, who: int, price: int | None = None) -> None:
                body = {"price_fen": price} if price is not None else {}
                response = await client.post(
                    f"/api/v1/notices/{notice_id}/bids", json=body, headers=agencies[who][0]
                )
                assert response.status_code == 201, response.text

            await asyncio.gather(
                *(bid(lottery["id"], i) for i in range(5)),
                *(bid(lowest["id"], i, PRICES[i]) for i in range(4)),
                bid(direct["id"], 4),
                *(bid(too_few["id"], i) for i in range(2)),
            )
            assert datetime.now(UTC) < deadline, "setup took longer than the bid window"
            refused = await client.post(
                f"/api/v1/notices/{direct['id']}/bids", json={}, headers=agencies[0][0]
            )
            assert refused.status_code == 403

            # Nobody closes them: the server's scheduler does, within seconds of the deadline.
            records = await wait_decided(client, notices, timeout=20)
            assert datetime.now(UTC) >= deadline

            drawn = records[lottery["id"]]
            assert drawn["status"] == "selected" and sorted(drawn["order"]) == sorted(ids)
            assert len(drawn["winners"]) == 1 and drawn["holders"] == drawn["winners"]
            expected = recompute(drawn)
            assert {k: drawn[k] for k in expected} == expected

            priced = records[lowest["id"]]
            assert priced["status"] == "selected"
            assert {b["agency_id"]: b["price_fen"] for b in priced["bids"]} == dict(
                zip(ids, PRICES, strict=False)
            )
            expected = recompute(priced)
            assert {k: priced[k] for k in expected} == expected
            order = priced["order"]
            tied = sorted([ids[1], ids[3]], key=order.index)
            assert priced["ranking"] == [*tied, ids[2], ids[0]] and priced["winners"] == [tied[0]]

            chosen = records[direct["id"]]
            assert chosen["status"] == "selected" and chosen["winners"] == [ids[4]] and chosen["seed"] is None
            assert chosen["direct"] == {"agency_id": ids[4], "justification": JUSTIFICATION}

            failed = records[too_few["id"]]
            assert (
                failed["status"] == "failed"
                and failed["failed_reason"] == "too_few_candidates"
                and failed["winners"] is None
            )

            # MSP/2: each close opened exactly the bids placed on its notice (5, 4, 1 and 2),
            # twelve sealed entries in all, each claimed once.
            placed = {lottery["id"]: 5, lowest["id"]: 4, direct["id"]: 1, too_few["id"]: 2}
            claimed: list[int] = []
            for notice_id, count in placed.items():
                record = records[notice_id]
                assert (record["protocol"], record["sealing"]) == (2, "server"), notice_id
                assert len(record["openings"]) == count and all(
                    o["withdrawn"] is None for o in record["openings"]
                ), notice_id
                assert record["bids"] == [o["bid"] for o in record["openings"]]
                claimed += record["sealed"]
            assert sorted(claimed) == [e["seq"] for e in await sealed_entries(client)] and len(claimed) == 12

            for notice_id in notices:
                types = [e["type"] for e in await entries_of(client, notice_id)]
                assert types.count("bidding.closed") == 1, (notice_id, types)
                assert (
                    sum(types.count(t) for t in ("selection.drawn", "selection.direct", "selection.failed"))
                    == 1
                ), (notice_id, types)
                closed = next(e for e in await entries_of(client, notice_id, "bidding.closed"))
                assert protocol.parse_ts(closed["ts"]) >= deadline

            # The standalone verifier, from outside, over HTTP: the whole log and every notice.
            code, report, output = verify_log(server.url)
            assert code == 0, output
            assert report["ok"] is True and report["size"] >= 4 * 2 + 12
            assert_notices_ok(report, notices)
            statuses = {n: report["notices"][n]["status"] for n in notices}
            assert statuses == {
                lottery["id"]: "selected",
                lowest["id"]: "selected",
                direct["id"]: "selected",
                too_few["id"]: "failed",
            }
            code, one, output = verify_log(server.url, "--notice", lowest["id"])
            assert code == 0 and list(one["notices"]) == [lowest["id"]], output

            drawn_seq = drawn["seqs"]["outcome"]

    # `market log verify`, on the server's side, over the database: the same verdict.
    done = market_cli("log", "verify", "--json", database_url=committed_database_url, data_dir=data_dir)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    # One byte of one stored entry changed (the triggers that refuse it disabled for the
    # moment, as only the database's owner could): both verifiers now fail, at that entry.
    await change_one_byte(committed_database_url, drawn_seq, "seed")
    done = market_cli("log", "verify", "--json", database_url=committed_database_url, data_dir=data_dir)
    assert done.returncode != 0, done.stdout[-2000:]
    assert json.loads(done.stdout)["first_bad_seq"] == drawn_seq
    with running_server(committed_database_url, data_dir, **LIVE_ENV) as server:
        code, report, output = verify_log(server.url)
        assert code != 0 and report["ok"] is False, output
        assert report["first_bad_seq"] == drawn_seq
