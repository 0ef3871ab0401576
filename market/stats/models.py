"""The statistics as last computed (market/stats/summary.py): the figures per hall, each
hall's rows rolled up by the page for a jurisdiction, and when they were computed.

A summary, not a record: every row is derived from the notices, selections, contracts and
agencies, replaced whole by the refresh and never logged (nothing here is a state change
of the market; the log holds those)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core.db import timestamp_column

AGENCIES = "*"  # the hall of the agencies' rows: province-wide, in no hall


class StatsFigure(SQLModel, table=True):
    """One hall's figures, for all its notices (``kind`` "total", ``key`` ""), or for those
    of one category, one prefecture (of the notice's region) or one China-time month of
    publication (``kind`` "category", "region", "month"; ``key`` the code or ``YYYY-MM``).
    The rows of ``hall`` :data:`AGENCIES` count the approved agencies, province-wide, by the
    same kinds; every other row counts notices and leaves ``agencies`` 0. A jurisdiction's
    figures are the sums over its halls' rows and the agencies' rows, by kind and key: each
    notice lies in one hall, so the sums are exact."""

    __tablename__ = "stats_figure"
    # The halls' totals (the halls' pages and the home page): the province's are every hall's
    # total row, read by this index rather than by filtering every row of the table.
    __table_args__ = (sa.Index("ix_stats_figure_total", "hall", postgresql_where=sa.text("kind = 'total'")),)

    hall: str = Field(sa_column=sa.Column(sa.String(12), primary_key=True))
    kind: str = Field(sa_column=sa.Column(sa.String(8), primary_key=True))
    key: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    agencies: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
    notices: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
    selections: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
    signed: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
    completed: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
    on_time: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
    amount_fen: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
    budget_fen: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))


class StatsRefresh(SQLModel, table=True):
    """The summary's one state row (``id`` 1): the time its figures are as of (the start of
    the last refresh, or of the last look that found nothing new), the log head they cover
    (entries up to ``log_seq`` are counted in), and when everything was last computed anew
    (``full_at``: at least daily)."""

    __tablename__ = "stats_refresh"
    __table_args__ = (sa.CheckConstraint("id = 1", name="one_row"),)

    id: int = Field(default=1, sa_column=sa.Column(sa.SmallInteger, primary_key=True, autoincrement=False))
    as_of: datetime = Field(sa_column=timestamp_column(nullable=False))
    log_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
    full_at: datetime = Field(sa_column=timestamp_column(nullable=False))
