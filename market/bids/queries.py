"""Reads of the bids' domain: the hand-written SQL of the bid path, the one write that
arrives in bursts (ops/load/bids.py), and the opening of a notice's sealed bids.

Placing a bid through the ORM took eleven statements before the log append (the account,
its agency, the notice, the clock, the avoidance list, categories, qualifications, the
standing bid, the next id...), each a round trip and half a millisecond of SQLAlchemy's
Python on a CPU-bound server. ``BID_CONTEXT`` asks all of it in one statement; the pure
functions below turn its row into the plain facts the eligibility rule already takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market import protocol
from market.agencies import rules as agency_rules
from market.agencies.models import ReviewStatus
from market.bids.models import Opened, SealedBid, bid_label, withdrawal_label
from market.core.ids import format_public_id
from market.core.sql import Row, json_column
from market.notices.models import Bid, Notice
from market.notices.rules import tlock_round_of
from market.notices.secrets import SecretSealer
from market.protocol import tlock

# The notice is locked FOR SHARE (bids may arrive together, but not while the notice is
# amended or closed) inside the CTE, so the row exists whether or not the notice does and
# the caller can refuse in the same order as before: account, agency, notice. The next bid
# id is drawn here too; a refused bid leaves a gap, as a rolled-back one always did.
BID_CONTEXT = """
WITH n AS (
    SELECT id, public_id, status, bid_deadline, method, budget_fen, direct_agency_id,
           category, required_level, region, protocol, sealing, org_id
    FROM notice WHERE public_id = $2 FOR SHARE
)
SELECT u.role, u.is_active,
       a.id AS agency_id, a.public_id AS agency_public_id, a.status AS agency_status,
       a.region AS agency_region, a.status_until AS agency_status_until,
       ARRAY(SELECT c.category FROM agency_category c WHERE c.agency_id = a.id) AS categories,
       (SELECT coalesce(json_agg(json_build_array(q.category, q.level, q.certificate_no, q.valid_until, q.status) ORDER BY q.id), '[]')
        FROM qualification q WHERE q.agency_id = a.id AND q.status IN ('approved', 'pending')) AS qualifications,
       n.id AS notice_id, n.public_id AS notice_public_id, n.status AS notice_status, n.bid_deadline,
       n.method, n.budget_fen, n.direct_agency_id, n.category, n.required_level, n.region,
       n.protocol, n.sealing,
       (SELECT coalesce(json_object_agg(v.agency_id, v.reason), '{}') FROM notice_avoid v WHERE v.notice_id = n.id) AS avoid,
       EXISTS (SELECT 1 FROM bid b WHERE b.notice_id = n.id AND b.agency_id = a.id AND b.status = 'standing') AS standing,
       EXISTS (SELECT 1 FROM owner_org o WHERE o.id = n.org_id
               AND (o.credit_code = a.credit_code
                    OR EXISTS (SELECT 1 FROM agency_org_link l WHERE l.agency_id = a.id AND l.org_id = o.id))) AS related,
       clock_timestamp() AS now,
       CASE WHEN n.id IS NOT NULL AND a.id IS NOT NULL THEN nextval('bid_public_seq') END AS bid_number
FROM app_user u
LEFT JOIN agency a ON a.owner_id = u.id
LEFT JOIN n ON true
WHERE u.public_id = $1
"""

INSERT_BID = """
INSERT INTO bid (public_id, notice_id, agency_id, protocol, price_fen, nonce, document, bid_sha256, seq, leaf_hash, receipt, status, created_at)
VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, 'standing', $11)
RETURNING id
"""

# MSP/2: no price, no document, no receipt in the clear; the commitment its entry holds and
# the sealed opening material (None with tlock sealing: the entry's ciphertext is the copy).
INSERT_SEALED_BID = """
INSERT INTO bid (public_id, notice_id, agency_id, protocol, commitment, sealed, seq, leaf_hash, status, created_at)
VALUES ($1, $2, $3, 2, $4, $5, $6, $7, 'standing', $8)
RETURNING id
"""


@dataclass(frozen=True)
class BidContext:
    """One account's position towards one notice at the moment of bidding."""

    role: str
    is_active: bool
    agency_id: int | None
    agency_public_id: str | None
    notice_id: int | None
    notice_public_id: str | None
    notice_status: str | None
    bid_deadline: datetime | None
    method: str | None
    budget_fen: int | None
    direct_agency_id: str | None
    protocol: int | None
    sealing: str | None
    standing: bool
    related: bool  # the agency and the notice's owner organisation are one party
    now: datetime
    bid_id: str | None
    facts: agency_rules.AgencyFacts | None
    requirements: agency_rules.Requirements | None


def bid_context(row: Row) -> BidContext:
    """The row of ``BID_CONTEXT`` as plain data (pure)."""
    facts = None
    if row["agency_id"] is not None:
        facts = agency_rules.agency_facts(
            agency_id=row["agency_public_id"],
            status=row["agency_status"],
            region=row["agency_region"],
            status_until=row["agency_status_until"],
            categories=row["categories"] or (),
            qualifications=(
                agency_rules.Qualification(
                    category=category,
                    level=level,
                    certificate_no=certificate_no,
                    valid_until=date.fromisoformat(valid_until),
                    approved=status == ReviewStatus.approved,
                )
                for category, level, certificate_no, valid_until, status in json_column(row["qualifications"])
            ),
        )
    requirements = None
    if row["notice_id"] is not None:
        requirements = agency_rules.notice_requirements(
            category=row["category"],
            min_level=row["required_level"],
            region=row["region"],
            avoid=json_column(row["avoid"]),
            direct_agency=row["direct_agency_id"],
        )
    number = row["bid_number"]
    return BidContext(
        role=row["role"],
        is_active=bool(row["is_active"]),
        agency_id=row["agency_id"],
        agency_public_id=row["agency_public_id"],
        notice_id=row["notice_id"],
        notice_public_id=row["notice_public_id"],
        notice_status=row["notice_status"],
        bid_deadline=row["bid_deadline"],
        method=row["method"],
        budget_fen=row["budget_fen"],
        direct_agency_id=row["direct_agency_id"],
        protocol=row["protocol"],
        sealing=row["sealing"],
        standing=bool(row["standing"]),
        related=bool(row["related"]),
        now=row["now"],
        bid_id=None if number is None else format_public_id("B", int(number)),
        facts=facts,
        requirements=requirements,
    )


# -- MSP/2: opening a notice's sealed bids ------------------------------------------------------


def unseal(bid: Bid, sealer: SecretSealer) -> SealedBid | None:
    """An MSP/2 bid's sealed material (for its own bidder, and for the opening), or None
    for an MSP/1 bid."""
    if bid.protocol == 1 or bid.sealed is None:
        return None
    return SealedBid.from_bytes(sealer.open(bid_label(bid.public_id), bid.sealed))


async def _open_timelocked(
    session: AsyncSession, notice: Notice, rows: Sequence[Bid], signature: bytes
) -> dict[int, dict[str, Any]]:
    """The timelock plaintexts of a notice's sealed entries (bids and withdrawals), by
    seq, opened from the public log with the deadline round's signature."""
    seqs = [b.seq for b in rows] + [b.withdrawal_seq for b in rows if b.withdrawal_seq is not None]
    if not seqs:
        return {}
    round_number = tlock_round_of(notice.bid_deadline)
    found = await session.execute(
        sa.text("SELECT seq, entry FROM log_entry WHERE seq = ANY(:seqs)"), {"seqs": seqs}
    )
    opened: dict[int, dict[str, Any]] = {}
    for seq, raw in found.all():
        entry = protocol.parse_canonical(bytes(raw))
        plaintext = tlock.open_sealed(str(entry["tlock"]), round_number, signature)
        opened[int(seq)] = protocol.parse_canonical(plaintext)
    return opened


async def open_bids(
    session: AsyncSession, notice: Notice, sealer: SecretSealer, *, signature: bytes | None = None
) -> Opened:
    """Every bid ever placed on an MSP/2 notice, standing and withdrawn, opened as the
    protocol publishes them (sorted by bid id). Call only once bidding has ended; a tlock
    notice's bids need ``signature``, its deadline round's, and are opened from the log."""
    rows = (await session.execute(sa.select(Bid).where(col(Bid.notice_id) == notice.id))).scalars().all()
    timelocked: dict[int, dict[str, Any]] = {}
    if notice.sealing == "tlock":
        if signature is None:
            raise RuntimeError(
                f"the bids of {notice.public_id} are timelocked: opening them needs the round's signature"
            )
        timelocked = await _open_timelocked(session, notice, rows, signature)
    openings: list[dict[str, Any]] = []
    standing: list[dict[str, Any]] = []
    for bid in rows:
        withdrawn = None
        if notice.sealing == "tlock":
            opened = timelocked[bid.seq]
            sealed = SealedBid(
                document=protocol.canonical_json(opened["bid"]),
                salt=bytes.fromhex(opened["salt"]),
                receipt="",
            )
            if bid.withdrawal_seq is not None:
                withdrawn = (bytes.fromhex(timelocked[bid.withdrawal_seq]["salt"]), bid.withdrawal_seq)
        else:
            found = unseal(bid, sealer)
            if found is None:
                raise RuntimeError(
                    f"bid {bid.public_id} of MSP/2 notice {notice.public_id} has no sealed material"
                )
            sealed = found
            if bid.withdrawal_seq is not None and bid.withdrawal_sealed is not None:
                withdrawn = (
                    sealer.open(withdrawal_label(bid.public_id), bid.withdrawal_sealed),
                    bid.withdrawal_seq,
                )
        if protocol.bid_commitment(sealed.salt, sealed.document).hex() != bid.commitment:
            raise RuntimeError(f"bid {bid.public_id} does not open its own commitment")
        item = protocol.opening(sealed.document, sealed.salt, bid.seq, withdrawn)
        openings.append(item)
        if withdrawn is None:
            standing.append(item["bid"])
    openings.sort(key=lambda o: o["bid"]["bid_id"].encode("utf-8"))
    # (A cancellation's openings list its released bids as standing: it speaks for them.)
    standing.sort(key=lambda d: d["bid_id"].encode("utf-8"))
    return Opened(openings=openings, standing=standing)
