"""Alerts for supervisors: something in a hall wants a supervisor's eye.

An alert is an inbox message (kind ``alert_*``, text in templates/selection/messages.html)
left for each of the hall's supervisors (``halls.service.supervisors_for``: the hall's own,
or those of the nearest hall above that has any), plus a live event on the ``market_alerts``
channel carrying the user's id, which the console's badge stream (supervision/web_live.py)
turns into a new unread count.

The event is a ``pg_notify`` run in the caller's transaction: PostgreSQL delivers it at
commit, to every server process listening, and never for a rolled-back transaction, so a
badge never counts a message that does not exist, nor misses one that does.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.halls import service as halls
from market.inbox import service as inbox
from market.inbox.models import Message
from market.notices.models import Notice

CHANNEL = "market_alerts"  # NOTIFY channel: payload is the alerted user's id

# The kinds of alert (inbox message kinds; each has its text in selection/messages.html).
SELECTION_FAILED = "alert_selection_failed"
MILESTONE_OVERDUE = "alert_milestone_overdue"
RED_FLAG = "alert_red_flag"
# A view's first computation: how many flags it found, instead of one message each.
RED_FLAGS_FOUND = "alert_red_flags_found"
OBJECTION_FILED = "alert_objection_filed"
OBJECTION_ESCALATED = "alert_objection_escalated"
KINDS = frozenset(
    {SELECTION_FAILED, MILESTONE_OVERDUE, RED_FLAG, RED_FLAGS_FOUND, OBJECTION_FILED, OBJECTION_ESCALATED}
)
PREFIX = "alert_"  # every alert kind starts so (the badge counts unread messages of these kinds)


async def alert(
    session: AsyncSession, *, hall: str | None, kind: str, notice: Notice | None = None, **params: Any
) -> None:
    """Leave a message of ``kind`` for every supervisor of ``hall`` (or of the nearest hall
    above with any) and tell their open consoles, once the transaction commits."""
    if not kind.startswith(PREFIX):
        raise ValueError(f"an alert kind starts with {PREFIX!r}: {kind!r}")
    for user in await halls.supervisors_for(session, hall):
        assert user.id is not None
        await inbox.leave(session, user_id=user.id, kind=kind, notice=notice, hall=hall, **params)
        await notify(session, user.id)


async def notify(session: AsyncSession, user_id: int) -> None:
    # Delivered at commit, to every process listening, and never for a rolled-back one.
    await session.execute(
        sa.text("SELECT pg_notify(:channel, :user)"), {"channel": CHANNEL, "user": str(user_id)}
    )


async def unread_alerts(session: AsyncSession, user_id: int) -> int:
    """The user's unread alert messages (the console's badge)."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(Message)
        .where(
            col(Message.user_id) == user_id,
            col(Message.read_at).is_(None),
            col(Message.kind).like(PREFIX + "%"),
        )
    )
    return int((await session.execute(stmt)).scalar_one())
