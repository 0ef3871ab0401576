"""The inbox's one table: a message left for a person by the services (won, replaced,
objections, cancellations, contracts, suspensions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core.clock import utcnow
from market.core.db import timestamp_column


class Message(SQLModel, table=True):
    """A message on a user's dashboard (won, replaced, objection to answer...). Text is
    rendered from ``kind`` and ``params`` in the reader's language."""

    __tablename__ = "inbox_message"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=False, index=True)
    )
    notice_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), nullable=True)
    )
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    params: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
