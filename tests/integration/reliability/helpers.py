"""Shared steps for the fault tests: many accounts made fast, bursts of bids against live
servers that are killed mid-way, and what the database holds afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import asyncpg
import httpx

from market import protocol
from market.accounts import service as accounts
from market.accounts.models import Role, UserCreate
from market.bids.receipts import ReceiptSigner, verify_receipt
from market.core.db import Database, to_asyncpg_dsn
from market.log.signer import LogSigner
from market.notices.secrets import SecretSealer
from market.security.passwords import hash_password
from market.security.tokens import issue_token
from tests.helpers import PASSWORD, bearer, register_org, unique_email
from tests.integration.agencies.test_api import agency_body
from tests.integration.notices.test_api import notice_body
from tests.integration.selection.helpers import LIVE_ENV
from tests.live import Server, start_server

# The servers get this secret, so tokens can be minted here instead of logging in: each
# login or registration costs an Argon2 hash (about a second on a busy 2-core machine).
SECRET = "reliability-secret-" + "s" * 40
ENV = {**LIVE_ENV, "MARKET_SECRET_KEY": SECRET}
_hash: list[str] = []
_names = itertools.count(1)


def token_headers(public_id: str, role: Role) -> dict[str, str]:
    return bearer(issue_token(secret=SECRET, subject=public_id, role=role.value, ttl=3600))


async def make_users(database_url: str, roles: list[Role]) -> list[str]:
    """Accounts made through the accounts service (each with its account.created entry),
    in one transaction, all with one password hash computed once. Returns public ids."""
    if not _hash:
        _hash.append(hash_password(PASSWORD))
    db = Database.from_url(database_url, pool_size=1, max_overflow=0)
    try:
        with mock.patch.object(accounts, "hash_password", lambda _: _hash[0]):
            async with db.transaction() as session:
                made = []
                for role in roles:
                    if role in (Role.admin, Role.supervisor):
                        user = await accounts.create_staff(
                            session,
                            email=unique_email(role.value),
                            password=PASSWORD,
                            name="Staff",
                            role=role,
                        )
                    else:
                        user = await accounts.register(
                            session,
                            data=UserCreate(
                                email=unique_email(role.value),
                                password=PASSWORD,
                                name=f"Test {role.value}",
                                role=role,
                            ),
                        )
                    made.append(user.public_id)
    finally:
        await db.dispose()
    return made


@dataclass
class Cast:
    admin: dict[str, str]
    owner: dict[str, str]
    agencies: list[tuple[dict[str, str], str]]  # (headers, agency public id)


async def make_cast(client: httpx.AsyncClient, database_url: str, n_agencies: int) -> Cast:
    """An administrator, an owner and ``n_agencies`` approved agencies (made and reviewed
    through the API, ten at a time)."""
    ids = await make_users(database_url, [Role.admin, Role.owner] + [Role.agency] * n_agencies)
    admin = token_headers(ids[0], Role.admin)
    owner = token_headers(ids[1], Role.owner)
    await register_org(client, owner)  # a notice is published in its organisation's hall

    async def agency(user_id: str) -> tuple[dict[str, str], str]:
        headers = token_headers(user_id, Role.agency)
        body = agency_body(name=f"云南可靠性测试第{next(_names)}环境科技有限公司")
        created = await client.post("/api/v1/agencies", json=body, headers=headers)
        assert created.status_code == 201, created.text
        agency_id = created.json()["id"]
        review = await client.post(
            f"/api/v1/agencies/{agency_id}/review", json={"decision": "approve"}, headers=admin
        )
        assert review.status_code == 200, review.text
        return headers, str(agency_id)

    made: list[tuple[dict[str, str], str]] = []
    user_ids = ids[2:]
    for start in range(0, len(user_ids), 10):
        made += await asyncio.gather(*(agency(u) for u in user_ids[start : start + 10]))
    return Cast(admin=admin, owner=owner, agencies=made)


async def open_notice(
    client: httpx.AsyncClient, owner: dict[str, str], *, seconds: float, **overrides: Any
) -> str:
    deadline = datetime.now(UTC) + timedelta(seconds=seconds)
    created = await client.post(
        "/api/v1/notices", json=notice_body(bid_deadline=deadline.isoformat(), **overrides), headers=owner
    )
    assert created.status_code == 201, created.text
    notice_id = str(created.json()["id"])
    published = await client.post(f"/api/v1/notices/{notice_id}/publish", headers=owner)
    assert published.status_code == 200, published.text
    return notice_id


def start_servers(database_url: str, data_dir: Path, ports: list[int | None], **env: str) -> list[Server]:
    """Several ``market serve`` processes on one database and one data dir, started
    together. The data dir's keys are made here first, so that no two processes race to
    create them and all sign with the same keys."""
    LogSigner.from_data_dir("market.localhost/log", data_dir)
    ReceiptSigner.from_data_dir(data_dir)
    SecretSealer.from_data_dir(data_dir)
    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        futures = [
            pool.submit(start_server, database_url, data_dir, port=port, **{**ENV, **env}) for port in ports
        ]
        servers, errors = [], []
        for future in futures:
            try:
                servers.append(future.result())
            except Exception as exc:  # stop the ones that did start before failing
                errors.append(exc)
    if errors:
        for server in servers:
            server.stop()
        raise errors[0]
    return servers


class Phases:
    """How long each step of a test took, for the figures it prints (docs/reliability.md, "Faults")."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()
        self.took: dict[str, float] = {}

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.took[name] = round(now - self.last, 2)
        self.last = now

    def __str__(self) -> str:
        return (
            ", ".join(f"{k} {v} s" for k, v in self.took.items())
            + f"; total {time.monotonic() - self.started:.1f} s"
        )


async def notice_with_bids(
    client: httpx.AsyncClient,
    owner: dict[str, str],
    bidders: list[tuple[dict[str, str], str]],
    *,
    seconds: float,
    title: str,
) -> tuple[str, datetime]:
    """A notice due in ``seconds`` on which every bidder has bid; on a machine too busy to
    place the bids in time, another notice with twice the time. Returns (id, deadline)."""
    while True:
        notice_id = await open_notice(client, owner, seconds=seconds, title=title)
        answers = [
            await client.post(f"/api/v1/notices/{notice_id}/bids", json={}, headers=h) for h, _ in bidders
        ]
        if all(r.status_code == 201 for r in answers):
            deadline = datetime.fromisoformat(
                (await client.get(f"/api/v1/notices/{notice_id}")).json()["bid_deadline"]
            )
            return notice_id, deadline
        assert all(r.status_code in (201, 409) for r in answers), [r.text for r in answers]
        seconds *= 2
        assert seconds < 60, "the machine is too slow to place three bids in 30 s"


# -- a burst of bids, with kills ----------------------------------------------------------------


@dataclass
class Outcome:
    agency_id: str
    headers: dict[str, str]
    server: str
    status: int | None = None  # None: no answer
    body: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    sent: bool = True  # False: the connection was refused, so the server never saw it

    @property
    def acknowledged(self) -> bool:
        return self.status == 201 and bool(self.body.get("receipt"))

    @property
    def cut_off(self) -> bool:
        return self.status is None and self.sent


@dataclass
class Burst:
    outcomes: list[Outcome]
    kills: list[tuple[str, int]]  # (server url, acknowledgements seen when it was killed)

    def where(self, test: Callable[[Outcome], bool]) -> list[Outcome]:
        return [o for o in self.outcomes if test(o)]


async def bid_burst(
    notice_id: str,
    bidders: list[tuple[dict[str, str], str]],
    servers: list[Server],
    *,
    kill_at: list[tuple[int, Server]],
) -> Burst:
    """Every bidder bids at once, bidder i on ``servers[i % len(servers)]``; ``kill_at``
    lists (acknowledgements, server): that server is killed (kill -9) as soon as that many
    bids have been acknowledged with a 201 and a receipt, while the rest are in flight."""
    acks = 0
    kills: list[tuple[str, int]] = []
    plan = sorted(kill_at, key=lambda k: k[0])
    limits = httpx.Limits(max_connections=len(bidders) + 10, max_keepalive_connections=len(bidders) + 10)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(i: int, headers: dict[str, str], agency_id: str) -> Outcome:
            nonlocal acks
            server = servers[i % len(servers)]
            outcome = Outcome(agency_id=agency_id, headers=headers, server=server.url)
            try:
                response = await client.post(
                    f"{server.url}/api/v1/notices/{notice_id}/bids", json={}, headers=headers
                )
            except httpx.ConnectError as exc:
                outcome.sent, outcome.error = False, repr(exc)
                return outcome
            except httpx.TransportError as exc:
                outcome.error = repr(exc)
                return outcome
            outcome.status = response.status_code
            with contextlib.suppress(ValueError):
                outcome.body = response.json()
            if outcome.acknowledged:
                acks += 1
                while plan and acks >= plan[0][0]:
                    _, victim = plan.pop(0)
                    victim.kill()  # kill -9: no drain, no cleanup, no shutdown of the pool
                    kills.append((victim.url, acks))
            return outcome

        outcomes = await asyncio.gather(*(one(i, h, a) for i, (h, a) in enumerate(bidders)))
    for _, victim in plan:  # not reached: still killed, after the burst
        victim.kill()
        kills.append((victim.url, acks))
    return Burst(outcomes=list(outcomes), kills=kills)


# -- what the database holds ----------------------------------------------------------------------


@dataclass
class Stored:
    """A notice's bids as the database holds them (MSP/2, docs/protocol/msp.md): each bid
    row, its ``bid.sealed`` entry at the row's seq (which names no notice, agency or bid),
    and what the row's sealed material says of it, opened with the servers' seal key."""

    entries: dict[
        str, dict[str, Any]
    ]  # bid id -> its bid.sealed entry (with its stored leaf hash), plus the ids, salt and document that open its commitment
    bids: dict[str, dict[str, Any]]  # bid id -> the bid row
    seqs: list[int]
    orphans: list[int]  # sealed entries of the whole log that no bid row or withdrawal holds


async def stored(database_url: str, notice_id: str, data_dir: Path) -> Stored:
    """``data_dir``: the servers' (its seal key opens the rows' sealed material)."""
    sealer = SecretSealer.from_data_dir(data_dir)
    conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        bids = await conn.fetch(
            "SELECT b.public_id, a.public_id AS agency_id, b.seq, b.leaf_hash, b.commitment, b.sealed, b.protocol, b.status FROM bid b "
            "JOIN notice n ON n.id = b.notice_id JOIN agency a ON a.id = b.agency_id WHERE n.public_id = $1",
            notice_id,
        )
        rows = await conn.fetch(
            "SELECT seq, entry, leaf_hash, notice_id FROM log_entry WHERE seq = ANY($1::bigint[])",
            [b["seq"] for b in bids],
        )
        sealed = {r["seq"] for r in await conn.fetch("SELECT seq FROM log_entry WHERE type = 'bid.sealed'")}
        held = {
            r["seq"]
            for r in await conn.fetch(
                "SELECT seq FROM bid WHERE protocol = 2 UNION ALL SELECT withdrawal_seq FROM bid WHERE withdrawal_seq IS NOT NULL"
            )
        }
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM log_entry ORDER BY seq")]
    finally:
        await conn.close()
    at = {r["seq"]: r for r in rows}
    entries = {}
    for b in bids:
        r = at.get(b["seq"])
        if r is None:
            continue
        raw = bytes(r["entry"])
        entry = protocol.parse_canonical(raw)
        assert protocol.leaf_hash(raw) == bytes(r["leaf_hash"]), r["seq"]
        assert (
            entry["type"] == "bid.sealed"
            and set(entry) == {"v", "seq", "type", "ts", "commitment"}
            and r["notice_id"] is None
        ), entry
        # The row's sealed material (server sealing): the document and salt that open the
        # commitment, which alone ties the entry to its notice, bid and agency.
        material = json.loads(sealer.open(f"bid/{b['public_id']}", bytes(b["sealed"])))
        document = json.loads(material["document"])
        opens = (
            protocol.bid_commitment(bytes.fromhex(material["salt"]), material["document"].encode()).hex()
            == entry["commitment"]
        )
        entries[b["public_id"]] = {
            **entry,
            "leaf_hash": bytes(r["leaf_hash"]).hex(),
            "opens": opens,
            "salt": material["salt"],
            "document": material["document"],
            "bid_id": document["bid_id"],
            "agency_id": document["agency_id"],
            "notice_id": document["notice_id"],
        }
    return Stored(
        entries=entries,
        bids={b["public_id"]: dict(b) for b in bids},
        seqs=seqs,
        orphans=sorted(sealed - held),
    )


def assert_all_or_nothing(s: Stored) -> None:
    """Every bid row has its bid.sealed entry (same seq, leaf and commitment, opened by the
    row's sealed document, which names the row's bid and agency), and every sealed entry of
    the log its bid row (or withdrawal): none was left by a bid that did not commit whole."""
    assert set(s.bids) == set(s.entries), sorted(set(s.bids) ^ set(s.entries))
    assert s.orphans == [], f"sealed entries without their bid row: {s.orphans[:10]}"
    for bid_id, row in s.bids.items():
        entry = s.entries[bid_id]
        assert row["protocol"] == 2 and entry["opens"], bid_id
        assert (row["seq"], row["leaf_hash"], row["commitment"]) == (
            entry["seq"],
            entry["leaf_hash"],
            entry["commitment"],
        ), bid_id
        assert (entry["bid_id"], entry["agency_id"]) == (bid_id, row["agency_id"]), bid_id
    assert len({e["notice_id"] for e in s.entries.values()}) <= 1
    assert s.seqs == list(range(len(s.seqs))), "the log has a gap"


def assert_receipt_in_log(body: dict[str, Any], jwk: dict[str, str], s: Stored, agency_id: str) -> None:
    """The receipt verifies (ES256, the published key), says what the answer says, and
    points at the log entry that holds this bid: its commitment, which the receipt's salt
    and the answer's document open."""
    claims = verify_receipt(body["receipt"], jwk)
    assert claims is not None, "the receipt does not verify under the published key"
    assert claims["v"] == 2 and claims["bid_id"] == body["bid_id"] and claims["agency_id"] == agency_id
    entry = s.entries.get(claims["bid_id"])
    assert entry is not None, f"acknowledged bid {claims['bid_id']} is not in the log"
    assert (entry["seq"], entry["leaf_hash"], entry["commitment"]) == (
        claims["seq"],
        claims["leaf_hash"],
        claims["commitment"],
    )
    document = protocol.bid_document_v2(claims["notice_id"], claims["bid_id"], agency_id, None)
    assert body["bid_document"].encode() == document and entry["document"].encode() == document
    assert protocol.bid_commitment(bytes.fromhex(claims["salt"]), document).hex() == claims["commitment"]
    assert (body["seq"], body["leaf_hash"], body["salt"], body["commitment"]) == (
        claims["seq"],
        claims["leaf_hash"],
        claims["salt"],
        claims["commitment"],
    )


# -- the live draw page -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def draw_events(url: str, notice_id: str) -> AsyncIterator[asyncio.Queue[str]]:
    """Listen to GET /notices/{id}/draw/events; each "update" event's data is put on the queue."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    opened = asyncio.Event()

    async def read() -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client:
            headers = {"Accept": "text/event-stream", "Accept-Language": "en"}
            async with client.stream(
                "GET", f"{url}/notices/{notice_id}/draw/events", headers=headers
            ) as response:
                assert response.status_code == 200, response.status_code
                opened.set()
                event, data = "", []
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
                    elif line == "":
                        if event == "update":
                            queue.put_nowait("\n".join(data))
                        event, data = "", []

    task = asyncio.create_task(read())
    try:
        await asyncio.wait_for(asyncio.shield(opened.wait()), timeout=10)
        yield queue
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await task


async def next_update(queue: asyncio.Queue[str], *, containing: str, timeout: float) -> str:
    """The next update whose HTML holds ``containing`` (earlier ones are skipped)."""
    give_up = asyncio.get_running_loop().time() + timeout
    while True:
        left = give_up - asyncio.get_running_loop().time()
        assert left > 0, f"no update containing {containing!r} within {timeout} s"
        try:
            html = await asyncio.wait_for(queue.get(), timeout=left)
        except TimeoutError:
            raise AssertionError(f"no update containing {containing!r} within {timeout} s") from None
        if containing in html:
            return html
