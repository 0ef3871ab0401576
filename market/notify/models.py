"""The notification tables: the e-mail queue, each user's e-mail choices, and agencies'
subscriptions to categories and regions (docs/notifications.md)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core.clock import utcnow
from market.core.db import timestamp_column


class MailOutbox(SQLModel, table=True):
    """One e-mail to send, written in the same transaction as the inbox message (or the
    publication) it tells of, so that a rollback sends nothing. The sender claims due rows
    with FOR UPDATE SKIP LOCKED (market/notify/sender.py)."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
        # The sender's look-up: due pending rows, oldest first; sent rows drop out of it.
        sa.Index(
            "ix_mail_outbox_due",
            "next_attempt_at",
            "id",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        # The admins' list of failed e-mails (and the dashboard's count): without it, a
        # look that finds none reads the whole queue, sent rows included.
        sa.Index("ix_mail_outbox_failed", "id", postgresql_where=sa.text("status = 'failed'")),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, primary_key=True))
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=False, index=True)
    )
    to_addr: str = Field(sa_column=sa.Column(sa.String(254), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    subject: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    status: str = Field(default="pending", sa_column=sa.Column(sa.String(8), nullable=False))
    attempts: int = Field(default=0, sa_column=sa.Column(sa.SmallInteger, nullable=False))
    next_attempt_at: datetime = Field(
        default_factory=utcnow,
        sa_column=timestamp_column(nullable=False, server_default=sa.func.now()),
    )
    last_error: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class MailPreference(SQLModel, table=True):
    """A user's own choice for one kind of message: e-mail on or off. Only choices that
    differ from nothing stored are kept; a kind with no row takes its default (rules.py)."""

    __tablename__ = "mail_preference"

    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), primary_key=True))
    kind: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    email: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))


class SubscriptionCategory(SQLModel, table=True):
    """An agency user hears of new notices of this service category."""

    __tablename__ = "subscription_category"
    __table_args__ = (sa.Index("ix_subscription_category_category", "category", "user_id"),)

    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), primary_key=True))
    category: str = Field(
        sa_column=sa.Column(sa.String(32), sa.ForeignKey("service_category.code"), primary_key=True)
    )


class SubscriptionRegion(SQLModel, table=True):
    """...in this region (and every region inside it); none at all: the whole province.
    ``prefix`` is the region's significant digits (53, 5301, 530102), so that a notice's
    region matches with ``LIKE prefix || '%'``."""

    __tablename__ = "subscription_region"

    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), primary_key=True))
    region: str = Field(sa_column=sa.Column(sa.String(6), sa.ForeignKey("region.code"), primary_key=True))
    prefix: str = Field(sa_column=sa.Column(sa.String(6), nullable=False))
