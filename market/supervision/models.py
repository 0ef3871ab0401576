"""What the red-flag alert task remembers: each flag it has alerted a hall's supervisors of,
so that a flag is alerted once (market/supervision/flags/alerting.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core.clock import utcnow
from market.core.db import timestamp_column


class FlagAlert(SQLModel, table=True):
    """A red flag of ``flag_kind`` about ``subject`` (rules.alert_key: the subject, and for a
    share the scope it was counted in) first raised in ``hall``'s view at ``first_seen_at``."""

    __tablename__ = "flag_alert"

    hall: str = Field(
        sa_column=sa.Column(sa.String(12), sa.ForeignKey("jurisdiction.code"), primary_key=True)
    )
    flag_kind: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    subject: str = Field(sa_column=sa.Column(sa.String(160), primary_key=True))
    first_seen_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
