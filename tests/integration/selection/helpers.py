"""Shared steps for selection tests: a published notice with bids, due within seconds."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from httpx import AsyncClient

from market.core.db import Database
from tests.integration.notices.test_api import approved_agency, draft, owner_user

# Seconds from publishing to the deadline: enough to place a few bids on a loaded 2-core CI
# machine. 2.0 ran out twice in three CI runs of issue 24, whose benchmarks' CI variants
# (two seeded data sets explained at once) run beside these tests.
DUE_IN = 3.0


@dataclass
class Round:
    notice_id: str
    deadline: datetime
    owner: dict[str, str]
    bidders: list[tuple[dict[str, str], dict[str, Any]]]  # (headers, agency)
    bids: list[dict[str, Any]]


async def wait_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.05)


async def agencies(
    client: AsyncClient, staff: dict[str, str], n: int, **overrides: Any
) -> list[tuple[dict[str, str], dict[str, Any]]]:
    return [await approved_agency(client, staff, **overrides) for _ in range(n)]


async def open_round(
    client: AsyncClient,
    staff: dict[str, str],
    *,
    bidders: int | list[tuple[dict[str, str], dict[str, Any]]],
    prices: list[int] | None = None,
    due_in: float = DUE_IN,
    owner: dict[str, str] | None = None,
    **notice: Any,
) -> Round:
    """Publish a notice due in ``due_in`` seconds and have each bidder bid (with ``prices``
    for lowest price). Agencies are made before the notice, so the bids fit in the window.

    On a loaded machine the bids can still miss the window: then the round starts over on a
    new notice with twice the window, a few times, so no test depends on the machine's speed
    and none waits long where it is fast."""
    owner = owner or await owner_user(client)
    who = await agencies(client, staff, bidders) if isinstance(bidders, int) else bidders
    for attempt in range(WINDOW_ATTEMPTS):
        r = await _try_round(client, owner, who, prices, due_in * 2**attempt, notice)
        if r is not None:
            return r
    raise AssertionError(f"setup took longer than a bid window of {due_in * 2 ** (WINDOW_ATTEMPTS - 1)} s")


# 3 s, 6 s, 12 s, 24 s with the default window.
WINDOW_ATTEMPTS = 4


async def _try_round(
    client: AsyncClient,
    owner: dict[str, str],
    who: list[tuple[dict[str, str], dict[str, Any]]],
    prices: list[int] | None,
    due_in: float,
    notice: dict[str, Any],
) -> Round | None:
    """One try of :func:`open_round`: ``None`` when a bid arrived after the deadline."""
    body = await draft(
        client, owner, bid_deadline=(datetime.now(UTC) + timedelta(seconds=due_in)).isoformat(), **notice
    )
    response = await client.post(f"/api/v1/notices/{body['id']}/publish", headers=owner)
    if response.status_code in (400, 409, 422) and "in the past" in response.text:
        return None  # the deadline passed between drafting and publishing
    assert response.status_code == 200, response.text
    deadline = datetime.fromisoformat(response.json()["bid_deadline"])
    bids = []
    for i, (headers, _) in enumerate(who):
        payload = {"price_fen": prices[i]} if prices is not None else {}
        placed = await client.post(f"/api/v1/notices/{body['id']}/bids", json=payload, headers=headers)
        if placed.status_code == 409 and datetime.now(UTC) >= deadline:
            return None
        assert placed.status_code == 201, placed.text
        bids.append(placed.json())
    if datetime.now(UTC) >= deadline:
        return None
    return Round(notice_id=body["id"], deadline=deadline, owner=owner, bidders=who, bids=bids)


async def close(client: AsyncClient, r: Round, headers: dict[str, str] | None = None) -> dict[str, Any]:
    await wait_until(r.deadline)
    response = await client.post(f"/api/v1/notices/{r.notice_id}/close", headers=headers or r.owner)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# -- reading what closing left behind -------------------------------------------------------------

# Exactly the fields docs/protocol/msp.md section 4.3 lists for each entry type of an MSP/2
# notice's story, besides v, seq, type and ts; and section 4.2's for MSP/1 notices
# (published before the upgrade), whose entries keep MSP/1's shape.
HEAD = {"v", "seq", "type", "ts"}
ENTRY_FIELDS = {
    "notice.published": {
        "notice_id",
        "method",
        "winners",
        "min_candidates",
        "bid_deadline",
        "terms_sha256",
        "commit",
        "scheme",
        "sealing",
    },
    "notice.cancelled": {"notice_id", "reason", "openings"},
    "bid.sealed": {"commitment"},
    "bidding.closed": {"notice_id", "secret", "openings", "candidates", "excluded", "eligible"},
    "selection.failed": {"notice_id", "reason"},
    "selection.drawn": {
        "notice_id",
        "attempt",
        "scheme",
        "beacon",
        "seed",
        "order",
        "ranking",
        "winners",
        "alternates",
    },
    "selection.direct": {"notice_id", "agency_id", "justification"},
    "award.declined": {"notice_id", "agency_id", "reason", "replacement"},
    "award.disqualified": {"notice_id", "agency_id", "objection_id", "replacement"},
    "award.final": {"notice_id", "winners"},
}
ENTRY_FIELDS_V1 = {
    **{
        k: v
        for k, v in ENTRY_FIELDS.items()
        if k not in ("bid.sealed", "notice.published", "notice.cancelled", "bidding.closed")
    },
    "notice.published": {
        "notice_id",
        "method",
        "winners",
        "min_candidates",
        "bid_deadline",
        "terms_sha256",
        "commit",
        "scheme",
    },
    "notice.cancelled": {"notice_id", "reason"},
    "bid.accepted": {"notice_id", "bid_id", "agency_id", "bid_sha256"},
    "bid.withdrawn": {"notice_id", "bid_id", "agency_id"},
    "bidding.closed": {"notice_id", "secret", "bids", "candidates", "excluded", "eligible"},
}
OUTCOMES = ("selection.drawn", "selection.direct", "selection.failed")


async def entries_of(client: AsyncClient, notice_id: str, type: str | None = None) -> list[dict[str, Any]]:
    """The entries of the notice's story (those naming it). An MSP/2 bid or withdrawal is a
    ``bid.sealed`` entry naming no notice: see ``sealed_entries`` and ``assert_opened``."""
    from tests.integration.agencies.test_api import log_entries

    return [
        e
        for e in await log_entries(client)
        if e.get("notice_id") == notice_id and (type is None or e["type"] == type)
    ]


async def sealed_entries(client: AsyncClient) -> list[dict[str, Any]]:
    """Every ``bid.sealed`` entry of the log (each test has a log of its own)."""
    from tests.integration.agencies.test_api import log_entries

    return [e for e in await log_entries(client) if e["type"] == "bid.sealed"]


def standing_of(openings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The standing bids of an MSP/2 opening: what MSP/1 logged as ``bids``."""
    return [o["bid"] for o in openings if o["withdrawn"] is None]


def assert_opened(log: list[dict[str, Any]], opening_entry: dict[str, Any]) -> list[int]:
    """What a verifier joins for one MSP/2 opening (``bidding.closed`` or ``notice.cancelled``
    v2; docs/protocol/msp.md section 7.5), redone from the log with the protocol's functions:
    each opening's ``seq`` is a ``bid.sealed`` entry whose commitment the salt and the bid
    document open, logged after the notice's publication and before the deadline in force,
    and likewise its withdrawal. Returns the seqs claimed, sorted."""
    from market import protocol

    notice_id = opening_entry["notice_id"]
    by_seq = {e["seq"]: e for e in log}
    story = [e for e in log if e.get("notice_id") == notice_id]
    published = next(e for e in story if e["type"] == "notice.published")
    deadline = [
        e["bid_deadline"]
        for e in story
        if e["type"] in ("notice.published", "notice.amended") and e["seq"] < opening_entry["seq"]
    ][-1]
    openings = opening_entry["openings"]
    assert [o["bid"]["bid_id"].encode() for o in openings] == sorted(
        o["bid"]["bid_id"].encode() for o in openings
    )
    claimed: list[int] = []
    for o in openings:
        assert set(o) == {"bid", "salt", "seq", "withdrawn"}, o
        assert (
            set(o["bid"]) == {"agency_id", "bid_id", "notice_id", "price_fen"}
            and o["bid"]["notice_id"] == notice_id
        ), o
        document = protocol.canonical_json(o["bid"])
        commitment = protocol.bid_commitment(bytes.fromhex(o["salt"]), document)
        entry = by_seq[o["seq"]]
        assert entry["type"] == "bid.sealed" and entry["commitment"] == commitment.hex(), (o, entry)
        assert published["seq"] < o["seq"] < opening_entry["seq"] and entry["ts"] < deadline, (o, entry)
        claimed.append(o["seq"])
        if o["withdrawn"] is not None:
            w = o["withdrawn"]
            withdrawal = by_seq[w["seq"]]
            expected = protocol.withdrawal_commitment(bytes.fromhex(w["salt"]), commitment)
            assert withdrawal["type"] == "bid.sealed" and withdrawal["commitment"] == expected.hex(), (
                o,
                withdrawal,
            )
            assert o["seq"] < w["seq"] < opening_entry["seq"] and withdrawal["ts"] < deadline, (o, withdrawal)
            claimed.append(w["seq"])
    assert len(set(claimed)) == len(claimed), "a sealed entry claimed twice"
    return sorted(claimed)


async def selection_of(client: AsyncClient, notice_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/notices/{notice_id}/selection")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def messages_of(client: AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/me/messages", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def recompute(record: dict[str, Any], *, beacon: bytes = b"") -> dict[str, Any]:
    """MSP/1 steps 3 to 6 redone from what the record publishes, with the protocol's own
    functions: what eligible, seed, order, ranking, winners and alternates must be."""
    from market import protocol

    secret = bytes.fromhex(record["secret"])
    candidates = [(a, w) for a, w in record["candidates"]]
    eligible = protocol.eligible_digest(candidates)
    seed = protocol.seed(record["notice_id"], 1, secret, eligible, record["scheme"], beacon)
    order = protocol.draw_order(seed, candidates)
    if record.get("openings") is not None:  # MSP/2: the standing bids are the openings not withdrawn
        assert record["bids"] == standing_of(record["openings"]), (
            "the record's bids are not its openings' standing bids"
        )
    prices = (
        {b["agency_id"]: b["price_fen"] for b in record["bids"]}
        if record["method"] == "lowest_price"
        else None
    )
    ranking = protocol.rank(record["method"], order, prices)
    winners, alternates = protocol.split_winners(ranking, record["k"])
    return {
        "commit": protocol.commitment(record["notice_id"], secret).hex(),
        "eligible": eligible.hex(),
        "seed": seed.hex(),
        "order": order,
        "ranking": ranking,
        "winners": winners,
        "alternates": alternates,
    }


# -- live servers and the verifiers ----------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[3]
# A live server for these tests: many accounts log in within a minute, and due notices are
# looked for often.
LIVE_ENV = {"MARKET_AUTH_RATE_LIMIT": "100000", "MARKET_MIN_BID_WINDOW": "0"}


def verify_log(url: str, *args: str) -> tuple[int, dict[str, Any], str]:
    """ops/verify_log.py against ``url``, isolated from the market package: (exit code,
    its JSON report, what it wrote to stderr)."""
    done = subprocess.run(
        [sys.executable, "-I", str(ROOT / "ops/verify_log.py"), "--url", url, "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {}
    return done.returncode, report, done.stdout[-2000:] + done.stderr[-2000:]


def market_cli(*args: str, database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "MARKET_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "market.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_notices_ok(report: dict[str, Any], notice_ids: list[str]) -> None:
    """Every notice asked for is in the verifier's per-notice section, and passes."""
    notices = report.get("notices")
    assert isinstance(notices, dict), f"the verifier's report has no per-notice section: {sorted(report)}"
    for notice_id in notice_ids:
        assert notice_id in notices, f"{notice_id} is not in the report ({sorted(notices)[:10]}...)"
        assert notices[notice_id]["ok"] is True, (notice_id, notices[notice_id])
    assert all(n["ok"] for n in notices.values()), {k: v for k, v in notices.items() if not v["ok"]}


async def admin_on(client: AsyncClient, database_url: str) -> dict[str, str]:
    """An administrator made straight in the database (staff are not self-registered)."""
    from market.accounts.models import Role
    from tests.helpers import bearer, create_staff, token_for

    db = Database.from_url(database_url)
    try:
        email = await create_staff(db, role=Role.admin)
    finally:
        await db.dispose()
    return bearer(await token_for(client, email))


async def wait_decided(
    client: AsyncClient,
    notice_ids: list[str],
    *,
    timeout: float = 20.0,
    done: tuple[str, ...] = ("selected", "failed", "awarded"),
) -> dict[str, dict[str, Any]]:
    """Poll each notice's selection record until its status is one of ``done``."""
    records: dict[str, dict[str, Any]] = {}
    give_up = asyncio.get_running_loop().time() + timeout
    while True:
        for notice_id in notice_ids:
            if notice_id not in records or records[notice_id]["status"] not in done:
                records[notice_id] = await selection_of(client, notice_id)
        pending = [n for n, r in records.items() if r["status"] not in done]
        if not pending:
            return records
        assert asyncio.get_running_loop().time() < give_up, (
            f"not decided within {timeout} s: {[(n, records[n]['status']) for n in pending]}"
        )
        await asyncio.sleep(0.2)


async def assert_story_verifies(client: AsyncClient, notice_id: str, status: str) -> None:
    """The notice's entries pass the verifier's per-notice checks (docs/protocol/msp.md
    section 7.3 and the award steps), which also read its status from the log alone; and,
    for an MSP/2 notice, the sealed entries its opening claims are joined with the log
    (section 7.5): each opens with what the opening publishes, and none is claimed by two
    notices' openings."""
    from market.protocol.notice_checks import notice_report
    from tests.integration.agencies.test_api import log_entries

    log = await log_entries(client)
    story = [e for e in log if e.get("notice_id") == notice_id]
    report = notice_report(notice_id, [(e["seq"], e) for e in story])
    assert report.problems == [], [(p.seq, p.message) for p in report.problems]
    assert report.status == status, report.summary
    published = next(e for e in story if e["type"] == "notice.published")
    openings = [
        e
        for e in story
        if e["type"] in ("bidding.closed", "notice.cancelled") and e.get("openings") is not None
    ]
    if published["v"] == 2 and status != "open":
        [opening] = openings
        mine = set(assert_opened(log, opening))
        record = await selection_of(client, notice_id)
        if record["seqs"]["closed"] is not None:
            assert record["sealed"] == sorted(mine) and record["openings"] == opening["openings"]
        others = [
            e
            for e in log
            if e["type"] in ("bidding.closed", "notice.cancelled", "bids.opened")
            and e.get("notice_id") != notice_id
            and e.get("openings")
        ]
        for other in others:
            theirs = {o["seq"] for o in other["openings"]} | {
                o["withdrawn"]["seq"] for o in other["openings"] if o["withdrawn"]
            }
            assert not mine & theirs, (
                f"sealed entries {sorted(mine & theirs)} are claimed by {notice_id} and by {other['notice_id']}"
            )
