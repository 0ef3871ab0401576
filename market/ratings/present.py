"""The shapes of ratings and credit on the pages: the agency's profile's credit section,
with a small server-rendered chart of its score over time."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.agencies.models import Agency
from market.core.i18n import N_
from market.ratings import rules, service
from market.ratings.models import DIMENSION_LABELS, DIMENSIONS

KIND_LABELS = {
    "rating": N_("Rating"),
    "decline": N_("Declined an award"),
    "overdue": N_("Overdue"),
    "disqualified": N_("Disqualified on an upheld objection"),
}
SVG_WIDTH, SVG_HEIGHT, SVG_PAD = 480, 160, 24


def history_chart(points: list[rules.HistoryPoint]) -> dict[str, Any]:
    """Coordinates for a small server-rendered line of the score over time (0 to 200).
    ``days`` counts the distinct days: with fewer than two there is no line to draw (every
    point would sit on the left edge of an empty box), and the page says the score instead."""
    if not points:
        return {"polyline": "", "dots": [], "width": SVG_WIDTH, "height": SVG_HEIGHT, "days": 0}
    first, last = points[0].on, points[-1].on
    span = max(1, (last - first).days)
    inner_w, inner_h = SVG_WIDTH - 2 * SVG_PAD, SVG_HEIGHT - 2 * SVG_PAD

    def xy(p: rules.HistoryPoint) -> tuple[float, float]:
        x = SVG_PAD + inner_w * ((p.on - first).days / span if len(points) > 1 else 1)
        y = SVG_PAD + inner_h * (1 - float(p.score) / float(rules.MAX_SCORE))
        return round(x, 1), round(y, 1)

    dots = [{"x": xy(p)[0], "y": xy(p)[1], "point": p} for p in points]
    base_y = round(SVG_PAD + inner_h * (1 - float(rules.BASE) / float(rules.MAX_SCORE)), 1)
    return {
        "polyline": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "dots": dots,
        "width": SVG_WIDTH,
        "height": SVG_HEIGHT,
        "base_y": base_y,
        "days": len({p.on for p in points}),
        "left": SVG_PAD,
        "right": SVG_WIDTH - SVG_PAD,
    }


async def profile_context(
    session: AsyncSession, agency: Agency, *, today: date, contract_days: int
) -> dict[str, Any]:
    """What the agency's public profile shows about its ratings and credit."""
    standing = await service.standing_of(session, agency, today=today, contract_days=contract_days)
    scored = standing.credit(today)
    points = rules.history(standing.events, today)
    return {
        "credit": scored,
        "credit_history": points,
        "credit_chart": history_chart(points),
        "rating_summary": standing.summary(),
        "rating_views": await service.ratings_of(session, agency),
        "DIMENSIONS": DIMENSIONS,
        "DIMENSION_LABELS": DIMENSION_LABELS,
        "CREDIT_KIND_LABELS": KIND_LABELS,
    }
