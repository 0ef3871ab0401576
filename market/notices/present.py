"""The shapes of notices and bids in answers. A notice's shape carries no bid data at all:
sealing is kept by construction, not by remembering to leave fields out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from market.notices.models import Bid, NoticeStatus
from market.notices.service import NoticeView
from market.selection.rules import FAIRNESS_NONE



def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def notice_public_row(r: Mapping[str, Any]) -> dict[str, Any]:
    """The same shape as :func:`notice_public`, from a row of queries.NOTICE_LIST_COLUMNS
    (the public list's path; tests/integration/notices/test_list_rows.py holds the two equal)."""
    avoid = r["avoid"]
    return {
        "id": r["public_id"],
        "status": r["status"],
        "bidding_open": r["status"] == NoticeStatus.open and r["now"] < r["bid_deadline"],
        "title": r["title"],
        "description": r["description"],
        "category": r["category"],
        "required_level": r["required_level"],
        "region": r["region"],
        "budget_fen": r["budget_fen"],
        "method": r["method"],
        "winners": r["winners"],
        "min_candidates": r["min_candidates"],
        "bid_deadline": iso(r["bid_deadline"]),
        "service_days": r["service_days"],
        "owner": {"id": r["org_public_id"], "name": r["org_name"]} if r["org_public_id"] else None,
        "project": {"id": r["project_public_id"], "name": r["project_name"], "code": r["project_code"]} if r["project_public_id"] else None,
        "avoid": [{"agency_id": a, "reason": reason} for a, reason in (json.loads(avoid) if isinstance(avoid, str) else avoid)],
        "direct": {"agency_id": r["direct_agency_id"], "justification": r["direct_justification"]} if r["direct_agency_id"] else None,
        "selection_url": f"/api/v1/notices/{r['public_id']}/selection",
        "commit": r["commit"],
        "scheme": r["scheme"],
        "terms_sha256": r["terms_sha256"],
        "fairness_note": FAIRNESS_NONE if r["scheme"] == "none" else None,
        "published_at": iso(r["published_at"]),
        "cancel_reason": r["cancel_reason"],
        "created_at": iso(r["created_at"]),
    }


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
