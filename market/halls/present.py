"""Halls as the API shows them (the pages use the same shapes through their templates)."""

from __future__ import annotations

from typing import Any

from market.halls.models import Jurisdiction
from market.halls.service import Node, Overview
from market.notices.models import Notice
from market.stats.present import figures_public


def hall_public(hall: Jurisdiction) -> dict[str, Any]:
    return {
        "code": hall.code,
        "kind": hall.kind,
        "parent": hall.parent,
        "name_zh": hall.name_zh,
        "name_en": hall.name_en,
        "region": hall.region,
        "contact_phone": hall.contact_phone or None,
        "url": f"/halls/{hall.code}",
    }


def tree_public(node: Node) -> dict[str, Any]:
    return {**hall_public(node.hall), "children": [tree_public(c) for c in node.children]}


def notice_line(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.public_id,
        "title": notice.title,
        "status": notice.status,
        "hall": notice.hall,
        "budget_fen": notice.budget_fen,
        "bid_deadline": notice.bid_deadline.isoformat() if notice.bid_deadline else None,
        "published_at": notice.published_at.isoformat() if notice.published_at else None,
    }


def overview_public(o: Overview) -> dict[str, Any]:
    figures = figures_public(o.figures)
    figures.pop("agencies")  # agencies are province-wide: no hall has its own count
    return {
        **hall_public(o.hall),
        "above": [hall_public(h) for h in o.chain],
        "children": [hall_public(c.hall) for c in o.node.children],
        "open_notices": [notice_line(n) for n in o.open_notices],
        "latest_results": [notice_line(n) for n in o.results],
        "statistics": figures,
        # the statistics' summary's time: the figures are as of then (market/stats/summary.py)
        "statistics_as_of": o.figures_as_of.isoformat() if o.figures_as_of else None,
        "notices_url": f"/api/v1/notices?hall={o.hall.code}",
    }
