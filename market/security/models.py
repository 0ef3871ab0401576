"""The log-in limits' counts (market/security/ratelimit.py), in PostgreSQL so that every
app host counts against the same budget.

Both tables are UNLOGGED: their writes skip the write-ahead log, so a log-in attempt does
not wait for the synchronous standby (a commit that wrote only unlogged tables is not
replicated and not waited for), and they are not copied to any standby. The price: after
a crash of the primary or a failover to the standby the counts start afresh, which gives
a guesser at most one more window's budget once per failover. Counts that must outlive
the server they were made on would be logged; these need not."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core.db import timestamp_column


class RateWindow(SQLModel, table=True):
    """One client address and action (``login:203.0.113.7``): the times of its attempts
    still inside the window, oldest first (at most the limit of them), so the window
    slides exactly as it did in memory. ``last_at`` finds idle rows to prune."""

    __tablename__ = "rate_window"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: str = Field(sa_column=sa.Column(sa.String(200), primary_key=True))
    hits: list[datetime] = Field(sa_column=sa.Column(sa.ARRAY(sa.DateTime(timezone=True)), nullable=False))
    last_at: datetime = Field(sa_column=timestamp_column(nullable=False, index=True))


class LoginFailure(SQLModel, table=True):
    """One account's failed log-ins (the key is a hash of the address as typed, known or
    not: the table holds no one's e-mail address) and the time of the last one."""

    __tablename__ = "login_failure"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    account_key: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    failures: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    last_at: datetime = Field(sa_column=timestamp_column(nullable=False, index=True))
