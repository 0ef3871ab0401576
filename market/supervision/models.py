"""What the red-flag task remembers: each flag it has alerted a hall's supervisors of, so
that a flag is alerted once, and each hall's flags as last computed, which the pages read
(market/supervision/flags/alerting.py, flags/store.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core.clock import utcnow
from market.core.db import timestamp_column


class FlagAlert(SQLModel, table=True):
    """A red flag of ``flag_kind`` about ``subject`` (rules.alert_key: the subject, and for a
    share the scope it was counted in) first raised in ``hall``'s view at ``first_seen_at``.
    The row with an empty kind and subject says that ``hall``'s view had its first alerted
    computation then, its baseline (flags/alerting.py)."""

    __tablename__ = "flag_alert"

    hall: str = Field(
        sa_column=sa.Column(sa.String(12), sa.ForeignKey("jurisdiction.code"), primary_key=True)
    )
    flag_kind: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    subject: str = Field(sa_column=sa.Column(sa.String(160), primary_key=True))
    first_seen_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class FlagView(SQLModel, table=True):
    """The red flags of one hall's view as last computed (flags/store.py): when, for which
    China day (``signed_late`` counts days), at which log head, under which thresholds
    (``settings_key``), and how many of each kind and severity (``counts``:
    {kind: {severity: n}}), so that a page reads its totals from one row."""

    __tablename__ = "flag_view"

    hall: str = Field(
        sa_column=sa.Column(sa.String(12), sa.ForeignKey("jurisdiction.code"), primary_key=True)
    )
    computed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    day: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    log_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    settings_key: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    # Whether these flags were also alerted (the task's refresh) or only computed and kept
    # (`market flags refresh`; the task computes and alerts them at its next look).
    alerted: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


class RedFlag(SQLModel, table=True):
    """One flag of a hall's view, at its ``position`` in the view's order (rules.sort_flags:
    most severe first), so that a page of them is an index range. ``body`` holds the rest of
    the flag (numbers, evidence, params) as ``json``, which keeps the keys' order the page
    shows them in (``jsonb`` would not)."""

    __tablename__ = "red_flag"
    __table_args__ = (
        sa.Index("ix_red_flag_kind", "hall", "kind", "position"),
        sa.Index("ix_red_flag_severity", "hall", "severity", "position"),
    )

    hall: str = Field(
        sa_column=sa.Column(
            sa.String(12), sa.ForeignKey("flag_view.hall", ondelete="CASCADE"), primary_key=True
        )
    )
    position: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    severity: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    subject: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    subject_name: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    body: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
