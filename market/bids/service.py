"""Sealed bids placed and withdrawn on a notice (docs/protocol/msp.md step 2), and what an
agency sees of its own: whether it may bid, its bids opened for it alone, its receipt file.

Sealing: before the deadline nothing here tells anyone but the bidder itself whether,
who or how many have bid; errors about a bid speak only of the caller's own.
"""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market import protocol
from market.accounts.models import AppUser, Role
from market.agencies import queries as agency_queries
from market.agencies import rules as agency_rules
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.bids import queries
from market.bids.models import OwnBid, PlacedBid, SealedBid, bid_label, withdrawal_label
from market.bids.queries import unseal
from market.bids.receipts import ReceiptSigner
from market.core.clock import today_in_china, utcnow
from market.core.errors import Conflict, DomainError, FieldError, Forbidden, NotFound, Unauthorized
from market.core.i18n import N_
from market.log import store as log
from market.notices import rules
from market.notices.models import Bid, BidStatus, Notice, NoticeStatus
from market.notices.rules import tlock_round_of
from market.notices.secrets import SecretSealer
from market.notices.service import SELF_DEALING, NoticeView, db_now, get_notice, requirements, views
from market.protocol import entry_types, tlock
from market.protocol.receipt_check import RECEIPT_FORMAT

# -- who may bid ------------------------------------------------------------------------------


async def eligibility(
    session: AsyncSession, agency: Agency, v: NoticeView
) -> agency_rules.Eligible | agency_rules.NotEligible:
    profile = await agency_queries.load_profile(session, agency)
    return agency_rules.eligibility(profile.facts(), requirements(v), today_in_china())


async def open_notices_for(
    session: AsyncSession, agency: Agency, *, limit: int = 100
) -> list[tuple[Notice, Any]]:
    """Open notices before their deadline, each with whether this agency may bid and why not."""
    now = await db_now(session)
    stmt = (
        sa.select(Notice)
        .where(col(Notice.status) == NoticeStatus.open.value, col(Notice.bid_deadline) > now)
        .order_by(col(Notice.bid_deadline))
        .limit(limit)
    )
    notices = list((await session.execute(stmt)).scalars().all())
    profile = await agency_queries.load_profile(session, agency)
    facts, today = profile.facts(), today_in_china()
    return [
        (v.notice, agency_rules.eligibility(facts, requirements(v), today))
        for v in await views(session, notices)
    ]


# -- bids --------------------------------------------------------------------------------------


def not_eligible(result: agency_rules.NotEligible) -> DomainError:
    return DomainError(
        detail=N_("Your agency may not bid on this notice."),
        status=403,
        title=N_("Forbidden"),
        errors=[FieldError(r.code, r.message_en, zh=r.message_zh) for r in result.reasons],
    )


async def place_bid(
    session: AsyncSession,
    *,
    bidder: str,
    notice_id: str,
    price_fen: Any,
    receipts: ReceiptSigner,
    sealer: SecretSealer,
) -> PlacedBid:
    """Step 2: a sealed bid, its log entry and a signed receipt, or nothing. An MSP/2
    notice's bid logs ``bid.sealed`` with a commitment alone (docs/protocol/msp.md); an
    MSP/1 notice's (published before MSP/2) ``bid.accepted`` as MSP/1 defines it.

    ``bidder`` is the public id of the agency's account. This is the path 1,000 agencies
    take within seconds of a deadline, so it is written as three statements on the
    session's connection (what the bid needs to know, the log append, the insert) instead
    of a dozen through the ORM; the rules are the same pure functions the pages use."""
    connection = await session.connection()
    # Through SQLAlchemy's connection, which begins the transaction if it has not begun.
    row = (
        (await connection.exec_driver_sql(queries.BID_CONTEXT, (bidder, notice_id))).mappings().one_or_none()
    )
    if row is None or not row["is_active"]:
        raise Unauthorized(N_("This account no longer exists or has changed; log in again"))
    context = queries.bid_context(row)
    if context.role != Role.agency:
        raise Forbidden(N_("Only agency accounts can bid."))
    if context.facts is None:
        raise Forbidden(N_("Register your agency before bidding."))
    if context.requirements is None or context.notice_status == NoticeStatus.draft:
        raise NotFound(N_("No such notice."))  # drafts are private: not even "not open"
    assert context.bid_deadline is not None and context.method is not None and context.budget_fen is not None
    if context.notice_status != NoticeStatus.open:
        raise Conflict(N_("This notice is not open for bids."))
    if context.now >= context.bid_deadline:
        raise Conflict(N_("The bid deadline has passed."))
    if context.related:
        raise Forbidden(SELF_DEALING)
    result = agency_rules.eligibility(context.facts, context.requirements, today_in_china())
    if isinstance(result, agency_rules.NotEligible):
        raise not_eligible(result)
    price = rules.check_price(context.method, price_fen, context.budget_fen)
    if context.standing:
        raise Conflict(N_("Your agency already has a standing bid on this notice; withdraw it to bid again."))
    bid_id, agency_id, notice_public_id = context.bid_id, context.facts.agency_id, context.notice_public_id
    assert bid_id is not None and notice_public_id is not None
    if context.protocol == 1:
        return await _place_msp1_bid(session, context, price, receipts)
    salt = secrets.token_bytes(protocol.SALT_BYTES)
    document = protocol.bid_document_v2(notice_public_id, bid_id, agency_id, price)
    commitment = protocol.bid_commitment(salt, document)
    # The entry goes in last (it takes the log's lock) and its time decides: a bid whose
    # entry is stamped at or after the deadline is refused and the whole transaction,
    # entry included, rolls back. So the log never shows a late bid, and a bid is either
    # fully accepted (entry, row, receipt) or not at all. The entry names nothing but the
    # commitment: not the notice, not the agency (MSP/2).
    fields = {"commitment": commitment.hex()}
    if context.sealing == "tlock":
        # The only copy: anyone can open it once the deadline's round exists, nobody before.
        fields["tlock"] = tlock.seal(
            protocol.tlock_plaintext(salt, document=document), tlock_round_of(context.bid_deadline)
        )
    appended = await log.append(session, type=entry_types.BID_SEALED, fields=fields)
    stamped = protocol.parse_ts(appended.ts)
    if stamped >= context.bid_deadline:
        raise Conflict(N_("The bid deadline has passed."))
    receipt = receipts.sign(
        {
            "v": 2,
            "notice_id": notice_public_id,
            "bid_id": bid_id,
            "agency_id": agency_id,
            "commitment": commitment.hex(),
            "salt": salt.hex(),
            "seq": appended.seq,
            "leaf_hash": appended.leaf_hash.hex(),
        }
    )
    opened = SealedBid(document=document, salt=salt, receipt=receipt)
    assert context.notice_id is not None and context.agency_id is not None  # the notice and agency exist
    bid = Bid(
        public_id=bid_id,
        notice_id=context.notice_id,
        agency_id=context.agency_id,
        protocol=2,
        # With tlock nothing is kept: the salt would let the operator try every price.
        commitment=commitment.hex(),
        sealed=None if context.sealing == "tlock" else sealer.seal(bid_label(bid_id), opened.to_bytes()),
        seq=appended.seq,
        leaf_hash=appended.leaf_hash.hex(),
        created_at=stamped,
    )
    # One INSERT straight through asyncpg and no savepoint: every round trip from the
    # append to the commit is made while the log's lock is held, and all bids queue on it.
    # A lost race on the unique index rolls the whole transaction back, entry included.
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    try:
        bid.id = await driver.fetchval(
            queries.INSERT_SEALED_BID,
            bid.public_id,
            bid.notice_id,
            bid.agency_id,
            bid.commitment,
            bid.sealed,
            bid.seq,
            bid.leaf_hash,
            bid.created_at,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            N_("Your agency already has a standing bid on this notice; withdraw it to bid again.")
        ) from None
    return PlacedBid(bid=bid, opened=opened)


async def _place_msp1_bid(
    session: AsyncSession, context: queries.BidContext, price: int | None, receipts: ReceiptSigner
) -> PlacedBid:
    """MSP/1 step 2, for a notice published before MSP/2: it finishes under the rules it
    was published with (its bidders were told them), so its bids are logged as MSP/1 says."""
    bid_id, notice_public_id = context.bid_id, context.notice_public_id
    assert bid_id is not None and notice_public_id is not None and context.facts is not None
    assert context.notice_id is not None and context.agency_id is not None
    agency_id = context.facts.agency_id
    nonce = secrets.token_hex(16)
    document = protocol.bid_document(notice_public_id, bid_id, agency_id, price, nonce)
    digest = protocol.bid_sha256(document)
    appended = await log.append(
        session,
        version=1,
        type=entry_types.BID_ACCEPTED,
        fields={
            "notice_id": notice_public_id,
            "bid_id": bid_id,
            "agency_id": agency_id,
            "bid_sha256": digest,
        },
    )
    stamped = protocol.parse_ts(appended.ts)
    assert context.bid_deadline is not None
    if stamped >= context.bid_deadline:
        raise Conflict(N_("The bid deadline has passed."))
    receipt = receipts.sign(
        {
            "notice_id": notice_public_id,
            "bid_id": bid_id,
            "agency_id": agency_id,
            "bid_sha256": digest,
            "seq": appended.seq,
            "leaf_hash": appended.leaf_hash.hex(),
        }
    )
    bid = Bid(
        public_id=bid_id,
        notice_id=context.notice_id,
        agency_id=context.agency_id,
        protocol=1,
        price_fen=price,
        nonce=nonce,
        document=document,
        bid_sha256=digest,
        seq=appended.seq,
        leaf_hash=appended.leaf_hash.hex(),
        receipt=receipt,
        created_at=stamped,
    )
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    try:
        bid.id = await driver.fetchval(
            queries.INSERT_BID,
            bid.public_id,
            bid.notice_id,
            bid.agency_id,
            bid.price_fen,
            bid.nonce,
            bid.document,
            bid.bid_sha256,
            bid.seq,
            bid.leaf_hash,
            bid.receipt,
            bid.created_at,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            N_("Your agency already has a standing bid on this notice; withdraw it to bid again.")
        ) from None
    return PlacedBid(bid=bid, opened=None)


async def withdraw_bid(
    session: AsyncSession, *, user: AppUser, notice_id: str, bid_id: str, sealer: SecretSealer
) -> Bid:
    agency = await agencies.agency_of(session, user) if user.role == Role.agency else None
    notice = await get_notice(session, notice_id, lock="share")
    bid = (
        await session.execute(
            sa.select(Bid)
            .where(col(Bid.public_id) == bid_id, col(Bid.notice_id) == notice.id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    # Someone else's bid is "not found", not "forbidden": its existence is sealed too.
    if bid is None or agency is None or bid.agency_id != agency.id:
        raise NotFound(N_("You have no such bid."))
    if bid.status != BidStatus.standing:
        raise Conflict(N_("This bid has already been withdrawn."))
    if notice.status != NoticeStatus.open or await db_now(session) >= notice.bid_deadline:
        raise Conflict(N_("The bid deadline has passed."))
    bid.status = BidStatus.withdrawn.value
    bid.withdrawn_at = utcnow()
    if bid.protocol == 1:
        await session.flush()
        appended = await log.append(
            session,
            version=1,
            type=entry_types.BID_WITHDRAWN,
            fields={"notice_id": notice.public_id, "bid_id": bid.public_id, "agency_id": agency.public_id},
        )
    else:
        # A withdrawal is a sealed entry too, indistinguishable from a bid until the
        # opening: its commitment binds it to the one bid it withdraws.
        assert bid.commitment is not None
        salt = secrets.token_bytes(protocol.SALT_BYTES)
        commitment = protocol.withdrawal_commitment(salt, bytes.fromhex(bid.commitment))
        fields = {"commitment": commitment.hex()}
        if notice.sealing == "tlock":
            fields["tlock"] = tlock.seal(
                protocol.tlock_plaintext(salt, withdraws=bytes.fromhex(bid.commitment)),
                tlock_round_of(notice.bid_deadline),
            )
        else:
            bid.withdrawal_sealed = sealer.seal(withdrawal_label(bid.public_id), salt)
        await session.flush()
        appended = await log.append(session, type=entry_types.BID_SEALED, fields=fields)
        bid.withdrawal_seq = appended.seq
        await session.flush()
    if protocol.parse_ts(appended.ts) >= notice.bid_deadline:
        raise Conflict(N_("The bid deadline has passed."))
    return bid


# -- an agency's own bids -------------------------------------------------------------------


async def bids_of(
    session: AsyncSession, agency: Agency, *, sealer: SecretSealer, notice: Notice | None = None
) -> list[OwnBid]:
    """The agency's own bids (newest first), opened for it alone."""
    stmt = (
        sa.select(Bid, Notice)
        .join(Notice, col(Notice.id) == Bid.notice_id)
        .where(col(Bid.agency_id) == agency.id)
        .order_by(col(Bid.id).desc())
    )
    if notice is not None:
        stmt = stmt.where(col(Bid.notice_id) == notice.id)
    rows = [(b, n) for b, n in (await session.execute(stmt)).all()]
    ended = sorted(
        {
            n.public_id
            for b, n in rows
            if b.protocol >= 2 and n.status not in (NoticeStatus.open, NoticeStatus.draft)
        }
    )
    opened_in: dict[str, int] = {}
    if ended:
        found = await session.execute(
            sa.text(
                "SELECT notice_id, seq FROM log_entry WHERE notice_id = ANY(:ids) AND type IN ('bidding.closed', 'notice.cancelled')"
            ),
            {"ids": ended},
        )
        opened_in = {notice_id: int(seq) for notice_id, seq in found.all()}
    return [
        OwnBid(bid=b, notice=n, opened=unseal(b, sealer), opened_in=opened_in.get(n.public_id))
        for b, n in rows
    ]


async def own_bid(
    session: AsyncSession, *, user: AppUser, notice_id: str, bid_id: str, sealer: SecretSealer
) -> OwnBid:
    """One of the caller's own bids; anyone else's is "not found" (its existence is sealed)."""
    agency = await agencies.agency_of(session, user) if user.role == Role.agency else None
    notice = await get_notice(session, notice_id)
    if agency is None or notice.status == NoticeStatus.draft:
        raise NotFound(N_("You have no such bid."))
    for own in await bids_of(session, agency, notice=notice, sealer=sealer):
        if own.public_id == bid_id:
            return own
    raise NotFound(N_("You have no such bid."))


def receipt_body(
    opened: SealedBid, *, checkpoint: str | None = None, inclusion: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The receipt file's shape (``market receipt check``)."""
    return {
        "format": RECEIPT_FORMAT,
        "receipt": opened.receipt,
        "document": opened.document.decode("utf-8"),
        "checkpoint": checkpoint,
        "inclusion": inclusion,
    }


async def receipt_file(session: AsyncSession, own: OwnBid) -> dict[str, Any]:
    """What an MSP/2 bidder keeps to prove its bid later, without the marketplace
    (``market receipt check FILE --url URL``): the signed receipt and its claims, the bid
    document that the salt opens, and the entry's inclusion proof in the latest signed
    checkpoint (docs/protocol/msp.md section 6)."""
    if own.protocol == 1 or own.opened is None:
        raise Conflict(N_("This bid was placed under MSP/1; its receipt is shown on the notice page."))
    checkpoint = await log.latest_checkpoint(session)
    inclusion: dict[str, Any] | None = None
    if checkpoint is not None and checkpoint.size > own.bid.seq:
        leaf, proof = await log.inclusion_proof(session, own.bid.seq, checkpoint.size)
        inclusion = {
            "index": own.bid.seq,
            "size": checkpoint.size,
            "leaf_hash": leaf.hex(),
            "hashes": [h.hex() for h in proof],
        }
    return receipt_body(
        own.opened,
        checkpoint=checkpoint.note if checkpoint is not None and inclusion is not None else None,
        inclusion=inclusion,
    )
