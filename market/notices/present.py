"""The shapes of notices and bids in answers. A notice's shape carries no bid data at all:
sealing is kept by construction, not by remembering to leave fields out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from market.notices.models import Bid, NoticeStatus
from market.notices.service import NoticeView
from market.selection.rules import FAIRNESS_NONE



def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def notice_public(v: NoticeView, *, now: datetime) -> dict[str, Any]:
    n = v.notice
    return {
        "id": n.public_id,
        "status": n.status,
        "bidding_open": n.status == NoticeStatus.open and now < n.bid_deadline,
        "title": n.title,
        "description": n.description,
        "category": n.category,
        "required_level": n.required_level,
        "region": n.region,
        "budget_fen": n.budget_fen,
        "method": n.method,
        "winners": n.winners,
        "min_candidates": n.min_candidates,
        "bid_deadline": iso(n.bid_deadline),
        "service_days": n.service_days,
        "owner": {"id": v.org.public_id, "name": v.org.name} if v.org else None,
        "project": {"id": v.project.public_id, "name": v.project.name, "code": v.project.code} if v.project else None,
        "avoid": [{"agency_id": a.agency_id, "reason": a.reason} for a in v.avoid],
        "direct": {"agency_id": n.direct_agency_id, "justification": n.direct_justification} if n.direct_agency_id else None,
        "selection_url": f"/api/v1/notices/{n.public_id}/selection",
        "commit": n.commit,
        "scheme": n.scheme,
        "terms_sha256": n.terms_sha256,
        "fairness_note": FAIRNESS_NONE if n.scheme == "none" else None,
        "published_at": iso(n.published_at),
        "cancel_reason": n.cancel_reason,
        "created_at": iso(n.created_at),
    }


def bid_own(bid: Bid, notice_id: str) -> dict[str, Any]:
    """A bid as its own bidder sees it: everything, receipt included."""
    return {
        "bid_id": bid.public_id,
        "notice_id": notice_id,
        "status": bid.status,
        "price_fen": bid.price_fen,
        "nonce": bid.nonce,
        "bid_document": bid.document.decode("utf-8"),
        "bid_sha256": bid.bid_sha256,
        "seq": bid.seq,
        "leaf_hash": bid.leaf_hash,
        "receipt": bid.receipt,
        "created_at": iso(bid.created_at),
        "withdrawn_at": iso(bid.withdrawn_at),
    }
