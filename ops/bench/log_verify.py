"""Verifying a large log from the database, against a bare loop over the same rows.

    .venv/bin/python ops/bench/log_verify.py [--entries 1000000]

Fills a scratch database with N entries shaped like a busy marketplace's log (see
``synthetic_log``: notices published, bid on, closed, drawn and awarded, interleaved in
time as they would be, with other marketplace entries between them; every notice verifies),
with their subtree hashes and a signed checkpoint, written with COPY. Then times in the
same run: (a) the baseline, a bare loop that reads the same rows from the same database and
computes only the leaf and node SHA-256 hashes, and (b) `market log verify`'s code path
(market.log.verifier over market.log.verify_db.DatabaseSource: the whole log, then every
notice's MSP/1 section 5 checks). Goal: (b) <= 2 x (a).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import heapq
import itertools
import json
import os
import random
import resource
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common import scratch_database  # type: ignore[import-not-found]
from market.db import Database, to_asyncpg_dsn
from market.log import protocol, store, verifier
from market.log.signer import LogSigner
from market.log.verify_db import FETCH, DatabaseSource

GOAL_RATIO = 2.0
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
AGENCIES = 2270
OPEN_DAYS = 5.0  # bid window of a notice
EVERY = 9.0  # seconds between two entries, on average: a million span about three months
OTHER_TYPES = ("agency.submitted", "agency.approved", "agency.document_added", "account.created")


def _secret(notice_id: str) -> bytes:
    # A fixed secret per notice, so the log is the same run after run.
    return hashlib.sha256(b"bench secret " + notice_id.encode()).digest()


class _Notice:
    """One notice's story, told entry by entry as the heap of timed events asks."""

    def __init__(self, number: int, published: float, rng: random.Random) -> None:
        self.id = f"N-{number:06d}"
        self.rng = rng
        draw = rng.random()
        self.method = "direct" if draw < 0.05 else "lowest_price" if draw < 0.30 else "lottery"
        self.k = 2 if self.method != "direct" and rng.random() < 0.2 else 1
        self.min_candidates = 1 if self.method == "direct" else 3
        self.deadline = published + OPEN_DAYS * 86400
        self.deadline_ts = protocol.format_ts(START + timedelta(seconds=self.deadline))
        self.docs: dict[str, dict[str, Any]] = {}  # standing bids, by agency
        self.bids = 0
        self.winners: list[str] = []
        self.alternates: list[str] = []

    def published(self) -> dict[str, Any]:
        return {
            "type": "notice.published", "notice_id": self.id, "method": self.method, "winners": self.k,
            "min_candidates": self.min_candidates, "bid_deadline": self.deadline_ts,
            "terms_sha256": protocol.sha256_hex(self.id.encode()), "commit": protocol.commitment(self.id, _secret(self.id)).hex(),
            "scheme": "none",
        }

    def bid(self, agency_id: str) -> dict[str, Any]:
        self.bids += 1
        bid_id = f"B-{self.id[2:]}{self.bids:03d}"
        price = None if self.method != "lowest_price" else self.rng.randrange(50, 100) * 10_000
        document = protocol.bid_document(self.id, bid_id, agency_id, price, f"{self.rng.getrandbits(128):032x}")
        self.docs[agency_id] = json.loads(document)
        return {"type": "bid.accepted", "notice_id": self.id, "bid_id": bid_id, "agency_id": agency_id, "bid_sha256": protocol.bid_sha256(document)}

    def withdrawn(self, agency_id: str) -> dict[str, Any]:
        doc = self.docs.pop(agency_id)
        return {"type": "bid.withdrawn", "notice_id": self.id, "bid_id": doc["bid_id"], "agency_id": agency_id}

    def closed_and_outcome(self) -> list[dict[str, Any]]:
        """bidding.closed and the outcome: one transaction, so adjacent in the log."""
        agencies = sorted(self.docs)
        excluded = [a for a in agencies if self.rng.random() < 0.05]
        if self.method == "direct":
            excluded = agencies[1:]  # the first bidder is the agency the notice names
        candidates = protocol.canonical_candidates([(a, 1) for a in agencies if a not in excluded])
        eligible = protocol.eligible_digest(candidates)
        secret = _secret(self.id)
        closed = {
            "type": "bidding.closed", "notice_id": self.id, "secret": secret.hex(),
            "bids": sorted(self.docs.values(), key=lambda d: d["bid_id"]),
            "candidates": [[a, w] for a, w in candidates],
            "excluded": [{"agency_id": a, "reason": "not_named" if self.method == "direct" else "qualification_expired"} for a in excluded],
            "eligible": eligible.hex(),
        }
        if len(candidates) < self.min_candidates:
            return [closed, {"type": "selection.failed", "notice_id": self.id, "reason": "too_few_candidates"}]
        if self.method == "direct":
            self.winners = [candidates[0][0]]
            return [closed, {"type": "selection.direct", "notice_id": self.id, "agency_id": self.winners[0], "justification": "the only licensed provider"}]
        seed = protocol.seed(self.id, 1, secret, eligible, "none", b"")
        order = protocol.draw_order(seed, candidates)
        prices = {a: d["price_fen"] for a, d in self.docs.items()} if self.method == "lowest_price" else None
        ranking = protocol.rank(self.method, order, prices)
        self.winners, self.alternates = protocol.split_winners(ranking, self.k)
        return [closed, {
            "type": "selection.drawn", "notice_id": self.id, "attempt": 1, "scheme": "none", "beacon": None,
            "seed": seed.hex(), "order": order, "ranking": ranking, "winners": self.winners, "alternates": self.alternates,
        }]

    def declined(self) -> dict[str, Any]:
        agency_id, replacement = self.winners[0], (self.alternates[0] if self.alternates else None)
        self.winners[0:1] = [replacement] if replacement else []
        self.alternates = self.alternates[1:]  # (a decline happens at most once here)
        return {"type": "award.declined", "notice_id": self.id, "agency_id": agency_id, "reason": "cannot staff it", "replacement": replacement}

    def final(self) -> dict[str, Any]:
        return {"type": "award.final", "notice_id": self.id, "winners": self.winners}


def synthetic_log(n: int, seed: int = 1) -> Iterator[tuple[str, str | None, bytes]]:
    """(type, notice_id, entry) for N entries in log order. Notices are published at a steady
    rate and live for days, so thousands are open at once and their entries interleave;
    each gets 2 to 12 bids (some withdrawn and placed again), closes at its deadline (drawn,
    failed or direct), and its award goes final three days later, a few after a decline."""
    rng = random.Random(seed)
    events: list[tuple[float, int, Any]] = []
    counter = itertools.count()

    def at(when: float, action: Any) -> None:
        heapq.heappush(events, (when, next(counter), action))

    notices = itertools.count(1)

    def publish(now: float) -> list[dict[str, Any]]:
        notice = _Notice(next(notices), now, rng)
        bidders = rng.sample(range(1, AGENCIES + 1), rng.randint(2, 12))
        for agency in bidders:
            agency_id = f"AG-{agency:06d}"
            when = now + rng.uniform(0.02, 0.9) * OPEN_DAYS * 86400
            at(when, lambda a=agency_id: [notice.bid(a)])
            if rng.random() < 0.08:  # withdraws, then bids again at a new price
                at(when + 600, lambda a=agency_id: [notice.withdrawn(a)])
                at(when + 1200, lambda a=agency_id: [notice.bid(a)])
        at(notice.deadline + 0.5, notice.closed_and_outcome)
        if notice.method != "direct" and rng.random() < 0.03:
            at(notice.deadline + 86400, lambda: [notice.declined()] if notice.winners else [])
        at(notice.deadline + 3 * 86400, lambda: [notice.final()] if notice.winners else [])
        at(now + rng.expovariate(1 / (EVERY * 13)), publish)  # the next notice
        return [notice.published()]

    def other(now: float) -> list[dict[str, Any]]:
        at(now + rng.expovariate(1 / (EVERY * 6)), other)
        agency = rng.randrange(1, AGENCIES + 1)
        return [{"type": rng.choice(OTHER_TYPES), "agency_id": f"AG-{agency:06d}", "document_sha256": f"{rng.getrandbits(256):064x}", "note": "x" * 40}]

    at(0.0, publish)
    at(0.0, other)
    seq = 0
    while seq < n:
        when, _, action = heapq.heappop(events)
        produced = action(when) if action in (publish, other) else action()
        for fields in produced:
            ts = protocol.format_ts(START + timedelta(seconds=when))
            entry = protocol.canonical_json({**fields, "v": 1, "seq": seq, "ts": ts})
            yield fields["type"], fields.get("notice_id"), entry
            seq += 1
            if seq >= n:
                return


async def fill(url: str, n: int, signer: LogSigner) -> float:
    started = time.perf_counter()
    frontier = protocol.Frontier()
    entries, subtrees = [], []
    for seq, (type_, notice_id, entry) in enumerate(synthetic_log(n)):
        leaf = protocol.leaf_hash(entry)
        entries.append((seq, type_, notice_id, entry, leaf))
        for start, end, h in frontier.append(leaf):
            level = (end - start).bit_length() - 1
            subtrees.append((level, start >> level, h))
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        await conn.copy_records_to_table("log_entry", records=entries, columns=["seq", "type", "notice_id", "entry", "leaf_hash"])
        await conn.copy_records_to_table("log_subtree", records=subtrees, columns=["level", "idx", "hash"])
        await conn.execute("VACUUM ANALYZE log_entry")
        await conn.execute("VACUUM ANALYZE log_subtree")
    finally:
        await conn.close()
    db = Database.from_url(url)
    async with db.transaction() as session:
        checkpoint = await store.ensure_checkpoint(session, signer)
    await db.dispose()
    assert checkpoint.root == frontier.root()
    return time.perf_counter() - started


async def bare(url: str, n: int) -> bytes:
    """Read the same rows the same way, hash leaves and nodes, nothing else."""
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    leaves: list[bytes] = []
    try:
        async with conn.transaction(readonly=True):
            cursor = await conn.cursor("SELECT entry FROM log_entry WHERE seq >= $1 AND seq < $2 ORDER BY seq", 0, n)
            while rows := await cursor.fetch(FETCH):
                leaves.extend(hashlib.sha256(b"\x00" + row[0]).digest() for row in rows)
    finally:
        await conn.close()
    return protocol.root_from_leaf_hashes(leaves)


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    signer = LogSigner(origin="bench.localhost/log", private_key=Ed25519PrivateKey.generate())
    with scratch_database() as url:
        filled = asyncio.run(fill(url, args.entries, signer))
        print(f"filled {args.entries:,} entries in {filled:.1f} s")
        timings: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for label in ("baseline", "verify", "baseline", "verify"):  # interleaved, best of two
            used = _cpu()
            started = time.perf_counter()
            if label == "baseline":
                asyncio.run(bare(url, args.entries))
            else:
                source = DatabaseSource(url, signer)
                report = verifier.verify(source)
                source.close()
                assert report.ok, report.human()
            elapsed = time.perf_counter() - started
            if elapsed < timings.get(label, elapsed + 1):
                timings[label] = elapsed
                cpu[label] = _cpu() - used
    statuses = Counter(n.status for n in report.notices.values())
    print(f"checked {len(report.notices):,} notices: " + ", ".join(f"{count:,} {status}" for status, count in statuses.most_common()))
    print(f"baseline (read rows + leaf and node hashes): {timings['baseline']:.2f} s ({cpu['baseline']:.2f} s CPU in this process)")
    print(f"market log verify (database):                {timings['verify']:.2f} s ({cpu['verify']:.2f} s CPU here and in its workers)")
    # Other work on the machine slows the verifier's parallel part most: say how busy it was.
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    ratio = timings["verify"] / timings["baseline"]
    print(f"ratio verify/baseline: {ratio:.2f} (goal <= {GOAL_RATIO}: {'met' if ratio <= GOAL_RATIO else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
