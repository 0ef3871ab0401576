"""Leaving messages for people, and reading one's own: the only writer of ``Message``.

Every service that tells someone something (selection, contracts, notices, ratings) leaves
it here, in the same transaction as the change it tells of."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser
from market.core.clock import utcnow
from market.inbox.models import Message
from market.notices.models import Notice
from market.notify import service as notify


async def leave(
    session: AsyncSession, *, user_id: int, kind: str, notice: Notice | None = None, **params: Any
) -> None:
    """A message of ``kind`` for one user; about a notice, its params start with the
    notice's id and title (the pages link and name it)."""
    if notice is not None:
        params = {"notice_id": notice.public_id, "title": notice.title, **params}
    session.add(
        Message(
            user_id=user_id, notice_id=notice.id if notice is not None else None, kind=kind, params=params
        )
    )
    # ...and its e-mail, queued in the same transaction if the user wants this kind by mail.
    await notify.queue_for_message(session, user_id=user_id, kind=kind, params=params)


async def messages_for(
    session: AsyncSession, user: AppUser, *, limit: int = 50
) -> list[tuple[Message, Notice | None]]:
    stmt = (
        sa.select(Message, Notice)
        .outerjoin(Notice, col(Notice.id) == Message.notice_id)
        .where(col(Message.user_id) == user.id)
        .order_by(col(Message.id).desc())
        .limit(limit)
    )
    return [(m, n) for m, n in (await session.execute(stmt)).all()]


async def unread_count(session: AsyncSession, user: AppUser) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(Message)
        .where(col(Message.user_id) == user.id, col(Message.read_at).is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark_read(session: AsyncSession, user: AppUser, message_ids: Sequence[int]) -> None:
    """Mark the messages the user has been shown as read (not those beyond the page)."""
    if not message_ids:
        return
    stmt = (
        sa.update(Message)
        .where(
            col(Message.user_id) == user.id,
            col(Message.id).in_(list(message_ids)),
            col(Message.read_at).is_(None),
        )
        .values(read_at=utcnow())
    )
    await session.execute(stmt)
