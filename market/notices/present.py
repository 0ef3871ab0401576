"""The shapes of notices in answers. A notice's shape carries no bid data at all: sealing
is kept by construction, not by remembering to leave fields out (a bid's own shape is in
``market/bids/present.py``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from market.core.sql import Row
from market.notices.models import NoticeStatus
from market.notices.service import NoticeView
from market.selection.rules import FAIRNESS_NONE


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def notice_public_row(r: Row) -> dict[str, Any]:
    """A notice as every answer shows it, from a row of queries.NOTICE_LIST_COLUMNS (the
    public list's path) or the same keys built from the ORM (:func:`notice_public`)."""
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
        "project": {"id": r["project_public_id"], "name": r["project_name"], "code": r["project_code"]}
        if r["project_public_id"]
        else None,
        "avoid": [
            {"agency_id": a, "reason": reason}
            for a, reason in (json.loads(avoid) if isinstance(avoid, str) else avoid)
        ],
        "direct": {"agency_id": r["direct_agency_id"], "justification": r["direct_justification"]}
        if r["direct_agency_id"]
        else None,
        "selection_url": f"/api/v1/notices/{r['public_id']}/selection",
        "commit": r["commit"],
        "scheme": r["scheme"],
        "terms_sha256": r["terms_sha256"],
        # the selection protocol it follows (1 or 2) and how its bids are sealed until the
        # deadline (MSP/2: "server" or "tlock"; docs/protocol/msp.md)
        "protocol": r["protocol"] if r["status"] != NoticeStatus.draft else None,
        "sealing": r["sealing"],
        "fairness_note": FAIRNESS_NONE if r["scheme"] == "none" else None,
        "published_at": iso(r["published_at"]),
        "cancel_reason": r["cancel_reason"],
        # an owner's cancellation waiting for a supervisor's consent (published with its reason)
        "cancellation_requested": (
            {"reason": r["cancel_request_reason"], "requested_at": iso(r["cancel_requested_at"])}
            if r["cancel_requested_at"] is not None and r["status"] == NoticeStatus.open
            else None
        ),
        "created_at": iso(r["created_at"]),
    }


# The notice's own columns in a row of queries.NOTICE_LIST_COLUMNS, by the same names.
NOTICE_FIELDS = (
    "public_id",
    "status",
    "title",
    "description",
    "category",
    "required_level",
    "region",
    "budget_fen",
    "method",
    "winners",
    "min_candidates",
    "bid_deadline",
    "service_days",
    "direct_agency_id",
    "direct_justification",
    "commit",
    "scheme",
    "terms_sha256",
    "protocol",
    "sealing",
    "published_at",
    "cancel_reason",
    "cancel_request_reason",
    "cancel_requested_at",
    "created_at",
)


def notice_public(v: NoticeView, *, now: datetime) -> dict[str, Any]:
    """A notice loaded through the ORM, in the one shape :func:`notice_public_row` makes."""
    n = v.notice
    row: dict[str, Any] = {name: getattr(n, name) for name in NOTICE_FIELDS}
    row.update(
        org_public_id=v.org.public_id if v.org else None,
        org_name=v.org.name if v.org else None,
        project_public_id=v.project.public_id if v.project else None,
        project_name=v.project.name if v.project else None,
        project_code=v.project.code if v.project else None,
        avoid=[(a.agency_id, a.reason) for a in v.avoid],
        now=now,
    )
    return notice_public_row(row)
