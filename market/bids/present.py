"""The shape of a bid in answers, shown to its own bidder alone."""

from __future__ import annotations

import json
from typing import Any

from market.bids.models import SealedBid
from market.notices.models import Bid
from market.notices.present import iso


def bid_own(
    bid: Bid, notice_id: str, opened: SealedBid | None = None, opened_in: int | None = None
) -> dict[str, Any]:
    """A bid as its own bidder sees it: everything, receipt included. MSP/2 (``protocol``
    2): the document, price and salt come from the sealed material opened for it alone
    (``opened``), and ``opened_in`` is the entry that opened it once bidding ended."""
    common = {
        "bid_id": bid.public_id,
        "notice_id": notice_id,
        "protocol": bid.protocol,
        "status": bid.status,
        "seq": bid.seq,
        "leaf_hash": bid.leaf_hash,
        "created_at": iso(bid.created_at),
        "withdrawn_at": iso(bid.withdrawn_at),
    }
    if bid.protocol == 1:
        assert bid.document is not None
        return {
            **common,
            "price_fen": bid.price_fen,
            "nonce": bid.nonce,
            "bid_document": bid.document.decode("utf-8"),
            "bid_sha256": bid.bid_sha256,
            "receipt": bid.receipt,
        }
    document = opened.document.decode("utf-8") if opened is not None else None
    price = json.loads(document).get("price_fen") if document is not None else None
    return {
        **common,
        "price_fen": price,
        "bid_document": document,
        "salt": opened.salt.hex() if opened is not None else None,
        "commitment": bid.commitment,
        "receipt": opened.receipt if opened is not None else None,
        "withdrawal_seq": bid.withdrawal_seq,
        "opened_in": opened_in,
    }
