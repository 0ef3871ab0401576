"""A log shaped like a busy marketplace's, generated entry by entry for the benchmarks:
ops/bench/log_verify.py times the verifier over it, ops/bench/seed.py loads it as the
history of a seeded database.

Notices are published at a steady rate and live for days, so thousands are open at once
and their entries interleave; each gets 2 to 12 bids (some withdrawn and placed again),
closes at its deadline (drawn, failed or direct), and its award goes final three days
later, a few after a decline. Other marketplace entries (agencies, accounts) come between
them. Every notice's story verifies (MSP/1 section 5). Deterministic for a given seed.

MSP/2 (docs/protocol/msp.md): notices published from entry ``upgrade`` on (all of them by
default) seal their bids: each bid and each withdrawal is a ``bid.sealed`` entry holding a
commitment and naming nothing, and the close opens them all (``openings``). Notices
published before it finish under MSP/1, as at a real upgrade; entries of no notice carry
v 2 from the upgrade on.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from market import protocol
from market.protocol import entry_types

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
AGENCIES = 2270
OPEN_DAYS = 5.0  # bid window of a notice
EVERY = 9.0  # seconds between two entries, on average: a million span about three months
OTHER_TYPES = ("agency.submitted", "agency.approved", "agency.document_added", "account.created")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> bytes:
    """protocol.canonical_json without its checks, which cost more than the encoding: the
    generator's values (ASCII ids, hex, integers, None) are canonical by construction, and
    the bytes are the same."""
    return _ENCODER.encode(value).encode("utf-8")


def notice_secret(notice_id: str) -> bytes:
    # A fixed secret per notice, so the log is the same run after run.
    return hashlib.sha256(b"bench secret " + notice_id.encode()).digest()


class SyntheticNotice:
    """One notice's story, told entry by entry as the heap of timed events asks."""

    def __init__(
        self,
        number: int,
        published: float,
        rng: random.Random,
        start: datetime = START,
        ids: tuple[str, str] = ("N", "B"),
        version: int = 1,
    ) -> None:
        self.version = version
        self.id = f"{ids[0]}-{number:06d}"
        self.bid_prefix = f"{ids[1]}-{number:06d}"
        self.rng = rng
        draw = rng.random()
        self.method = "direct" if draw < 0.05 else "lowest_price" if draw < 0.30 else "lottery"
        self.k = 2 if self.method != "direct" and rng.random() < 0.2 else 1
        self.min_candidates = 1 if self.method == "direct" else 3
        self.deadline = published + OPEN_DAYS * 86400
        self.deadline_ts = protocol.format_ts(start + timedelta(seconds=self.deadline))
        self.docs: dict[str, dict[str, Any]] = {}  # standing bids, by agency
        # MSP/2: every bid placed, by bid_id, as its opening will show it (seqs filled in
        # when the entries get theirs: see ``synthetic_log``'s "_seq")
        self.openings: dict[str, dict[str, Any]] = {}
        self.commitments: dict[str, bytes] = {}
        self.bids = 0
        self.winners: list[str] = []
        self.alternates: list[str] = []

    def published(self) -> dict[str, Any]:
        entry = {
            "type": "notice.published",
            "notice_id": self.id,
            "method": self.method,
            "winners": self.k,
            "min_candidates": self.min_candidates,
            "bid_deadline": self.deadline_ts,
            "terms_sha256": protocol.sha256_hex(self.id.encode()),
            "commit": protocol.commitment(self.id, notice_secret(self.id)).hex(),
            "scheme": "none",
            "v": self.version,
        }
        if self.version == 2:
            entry["sealing"] = "server"
        return entry

    def bid(self, agency_id: str) -> dict[str, Any]:
        self.bids += 1
        bid_id = f"{self.bid_prefix}{self.bids:03d}"
        price = None if self.method != "lowest_price" else self.rng.randrange(50, 100) * 10_000
        if self.version == 2:
            doc = {"notice_id": self.id, "bid_id": bid_id, "agency_id": agency_id, "price_fen": price}
            salt = self.rng.getrandbits(256).to_bytes(32, "big")
            commitment = protocol.bid_commitment(
                salt, canonical(doc)
            )  # canonical: protocol.bid_document_v2's bytes
            self.docs[agency_id] = doc
            opening = self.openings[bid_id] = {"bid": doc, "salt": salt.hex(), "seq": None, "withdrawn": None}
            self.commitments[bid_id] = commitment
            return {
                "type": entry_types.BID_SEALED,
                "commitment": commitment.hex(),
                "v": 2,
                "_seq": (opening, "seq"),
            }
        doc = {
            "notice_id": self.id,
            "bid_id": bid_id,
            "agency_id": agency_id,
            "price_fen": price,
            "nonce": f"{self.rng.getrandbits(128):032x}",
        }
        document = canonical(doc)  # protocol.bid_document's bytes
        self.docs[agency_id] = doc
        return {
            "type": "bid.accepted",
            "notice_id": self.id,
            "bid_id": bid_id,
            "agency_id": agency_id,
            "bid_sha256": protocol.bid_sha256(document),
            "v": 1,
        }

    def withdrawn(self, agency_id: str) -> dict[str, Any]:
        doc = self.docs.pop(agency_id)
        if self.version == 2:
            salt = self.rng.getrandbits(256).to_bytes(32, "big")
            withdrawal = self.openings[doc["bid_id"]]["withdrawn"] = {"salt": salt.hex(), "seq": None}
            commitment = protocol.withdrawal_commitment(salt, self.commitments[doc["bid_id"]])
            return {
                "type": entry_types.BID_SEALED,
                "commitment": commitment.hex(),
                "v": 2,
                "_seq": (withdrawal, "seq"),
            }
        return {
            "type": "bid.withdrawn",
            "notice_id": self.id,
            "bid_id": doc["bid_id"],
            "agency_id": agency_id,
            "v": 1,
        }

    def closed_and_outcome(self) -> list[dict[str, Any]]:
        """bidding.closed and the outcome: one transaction, so adjacent in the log."""
        agencies = sorted(self.docs)
        excluded = [a for a in agencies if self.rng.random() < 0.05]
        if self.method == "direct":
            excluded = agencies[1:]  # the first bidder is the agency the notice names
        candidates = protocol.canonical_candidates([(a, 1) for a in agencies if a not in excluded])
        eligible = protocol.eligible_digest(candidates)
        secret = notice_secret(self.id)
        closed = {
            "type": "bidding.closed",
            "notice_id": self.id,
            "secret": secret.hex(),
            "candidates": [[a, w] for a, w in candidates],
            "excluded": [
                {
                    "agency_id": a,
                    "reason": "not_named" if self.method == "direct" else "qualification_expired",
                }
                for a in excluded
            ],
            "eligible": eligible.hex(),
            "v": self.version,
        }
        if self.version == 2:
            closed["openings"] = [self.openings[bid_id] for bid_id in sorted(self.openings)]
        else:
            closed["bids"] = sorted(self.docs.values(), key=lambda d: d["bid_id"])
        if len(candidates) < self.min_candidates:
            return [
                closed,
                {
                    "type": "selection.failed",
                    "notice_id": self.id,
                    "reason": "too_few_candidates",
                    "v": self.version,
                },
            ]
        if self.method == "direct":
            self.winners = [candidates[0][0]]
            return [
                closed,
                {
                    "type": "selection.direct",
                    "notice_id": self.id,
                    "agency_id": self.winners[0],
                    "justification": "the only licensed provider",
                    "v": self.version,
                },
            ]
        seed = protocol.seed(self.id, 1, secret, eligible, "none", b"")
        order = protocol.draw_order(seed, candidates)
        prices = {a: d["price_fen"] for a, d in self.docs.items()} if self.method == "lowest_price" else None
        ranking = protocol.rank(self.method, order, prices)
        self.winners, self.alternates = protocol.split_winners(ranking, self.k)
        return [
            closed,
            {
                "type": "selection.drawn",
                "notice_id": self.id,
                "attempt": 1,
                "scheme": "none",
                "beacon": None,
                "seed": seed.hex(),
                "order": order,
                "ranking": ranking,
                "winners": self.winners,
                "alternates": self.alternates,
                "v": self.version,
            },
        ]

    def declined(self) -> dict[str, Any]:
        agency_id, replacement = self.winners[0], (self.alternates[0] if self.alternates else None)
        self.winners[0:1] = [replacement] if replacement else []
        self.alternates = self.alternates[1:]  # (a decline happens at most once here)
        return {
            "type": "award.declined",
            "notice_id": self.id,
            "agency_id": agency_id,
            "reason": "cannot staff it",
            "replacement": replacement,
            "v": self.version,
        }

    def final(self) -> dict[str, Any]:
        return {"type": "award.final", "notice_id": self.id, "winners": self.winners, "v": self.version}


def synthetic_log(
    n: int,
    seed: int = 1,
    *,
    agencies: int = AGENCIES,
    start: datetime = START,
    every: float = EVERY,
    ids: tuple[str, str] = ("N", "B"),
    upgrade: int = 0,
) -> Iterator[tuple[str, str | None, bytes]]:
    """(type, notice_id, entry) for N entries in log order, the first stamped at ``start``,
    about ``every`` seconds apart. Bidders are AG-000001 to AG-<agencies>; notices are
    <ids[0]>-000001, -000002... and their bids <ids[1]>-<notice number><bid number>.
    Notices published at entry ``upgrade`` or later follow MSP/2 (sealed bids), earlier ones
    MSP/1 (``upgrade=n``: an MSP/1 log as before MSP/2). A sealed entry names no notice: its
    notice_id is None, as in the store."""
    rng = random.Random(seed)
    events: list[tuple[float, int, Any]] = []
    counter = itertools.count()
    numbers = itertools.count(1)

    def at(when: float, action: Any) -> None:
        heapq.heappush(events, (when, next(counter), action))

    def publish(now: float) -> list[dict[str, Any]]:
        notice = SyntheticNotice(next(numbers), now, rng, start, ids, version=2 if seq >= upgrade else 1)
        bidders = rng.sample(range(1, agencies + 1), min(agencies, rng.randint(2, 12)))
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
        at(now + rng.expovariate(1 / (every * 13)), publish)  # the next notice
        return [notice.published()]

    def other(now: float) -> list[dict[str, Any]]:
        at(now + rng.expovariate(1 / (every * 6)), other)
        agency = rng.randrange(1, agencies + 1)
        return [
            {
                "type": rng.choice(OTHER_TYPES),
                "agency_id": f"AG-{agency:06d}",
                "document_sha256": f"{rng.getrandbits(256):064x}",
                "note": "x" * 40,
                "v": 2 if seq >= upgrade else 1,
            }
        ]

    at(0.0, publish)
    at(0.0, other)
    seq = 0
    while seq < n:
        when, _, action = heapq.heappop(events)
        produced = action(when) if action in (publish, other) else action()
        for fields in produced:
            ts = protocol.format_ts(start + timedelta(seconds=when))
            slot = fields.pop("_seq", None)
            if slot is not None:  # a sealed entry: its opening names its seq
                slot[0][slot[1]] = seq
            entry = canonical({**fields, "seq": seq, "ts": ts})
            yield fields["type"], fields.get("notice_id"), entry
            seq += 1
            if seq >= n:
                return


def every_for(n: int, span: timedelta) -> float:
    """An ``every`` with which ``synthetic_log(n)`` spans at most about ``span``. Each notice
    brings 11.5 entries on average over its eight days (bids, closing, final award) and
    comes every 13 ``every``, with another entry every 6: 0.95 ``every`` an entry once the
    first notices have closed; before that, for eight days, fewer entries come (about 3.9
    ``every`` an entry at first), so those days are taken off."""
    seconds = 0.97 * span.total_seconds()  # the rates vary a little with the seed
    if n <= 0:
        return EVERY
    steady = seconds - 8 * 86400
    if steady > 0.95 * n * min(EVERY, seconds / n):
        return max(1e-3, steady / (0.95 * n))
    return max(1e-3, seconds / (3.9 * n))  # all of it within the first days
