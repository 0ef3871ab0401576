"""What a bid is made of besides its row: the sealed material of an MSP/2 bid, a bid just
placed, a bidder's own view of its bid, and a notice's bids opened.

The ``Bid`` table model itself lives in ``market/notices/models.py``: a bid belongs to its
notice's aggregate (one table model per aggregate, imported everywhere by one path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from market import protocol
from market.notices.models import Bid, Notice


def bid_label(bid_id: str) -> str:
    return f"bid/{bid_id}"


def withdrawal_label(bid_id: str) -> str:
    return f"bid/{bid_id}/withdrawal"


@dataclass(frozen=True)
class SealedBid:
    """What the server seals of an MSP/2 bid (server sealing): the document and the salt
    that open its commitment, and the receipt its bidder was given."""

    document: bytes
    salt: bytes
    receipt: str

    def to_bytes(self) -> bytes:
        return protocol.canonical_json(
            {"document": self.document.decode("utf-8"), "salt": self.salt.hex(), "receipt": self.receipt}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedBid:
        value = protocol.parse_canonical(data)
        return cls(
            document=str(value["document"]).encode("utf-8"),
            salt=bytes.fromhex(value["salt"]),
            receipt=str(value["receipt"]),
        )


@dataclass(frozen=True)
class PlacedBid:
    """A bid just placed, with what its bidder alone may be shown (None for MSP/1, whose
    row holds it all)."""

    bid: Bid
    opened: SealedBid | None


@dataclass(frozen=True)
class Opened:
    """A notice's bids opened (MSP/2): the ``openings`` its closing or cancellation logs,
    and the standing bid documents among them, which play MSP/1's ``bids``."""

    openings: list[dict[str, Any]]
    standing: list[dict[str, Any]]


@dataclass(frozen=True)
class OwnBid:
    """One of an agency's own bids as its pages and API show it to that agency alone: for
    MSP/2, the sealed material opened for it (price, document, salt, receipt), and the
    entry that opened it once bidding has ended."""

    bid: Bid
    notice: Notice
    opened: SealedBid | None
    opened_in: int | None

    @property
    def public_id(self) -> str:
        return self.bid.public_id

    @property
    def status(self) -> str:
        return self.bid.status

    @property
    def protocol(self) -> int:
        return self.bid.protocol

    @property
    def document(self) -> bytes | None:
        return self.opened.document if self.opened is not None else self.bid.document

    @property
    def price_fen(self) -> int | None:
        if self.opened is None:
            return self.bid.price_fen
        price = protocol.parse_canonical(self.opened.document).get("price_fen")
        return price if isinstance(price, int) else None

    @property
    def receipt(self) -> str | None:
        return self.opened.receipt if self.opened is not None else self.bid.receipt

    @property
    def salt(self) -> str | None:
        return self.opened.salt.hex() if self.opened is not None else None

    # The row's own facts, by the names the pages use.
    seq = property(lambda self: self.bid.seq)
    leaf_hash = property(lambda self: self.bid.leaf_hash)
    commitment = property(lambda self: self.bid.commitment)
    bid_sha256 = property(lambda self: self.bid.bid_sha256)
    created_at = property(lambda self: self.bid.created_at)
    withdrawn_at = property(lambda self: self.bid.withdrawn_at)
    withdrawal_seq = property(lambda self: self.bid.withdrawal_seq)
