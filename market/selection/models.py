"""What closing, drawing and awarding leave behind, besides the log entries that prove it.

The log is the record; these tables are its index for pages and rules (who holds the award
now, which objection is pending, when publicity ends), written in the same transaction as
the entries they mirror.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core.clock import utcnow
from market.core.db import timestamp_column


class Outcome(enum.StrEnum):
    waiting = "waiting"  # closed, waiting for the committed beacon round
    drawn = "drawn"
    direct = "direct"
    failed = "failed"


class Selection(SQLModel, table=True):
    """One row per closed notice."""

    __tablename__ = "selection"
    __table_args__ = (
        sa.CheckConstraint("outcome IN ('waiting', 'drawn', 'direct', 'failed')", name="outcome_known"),
        # The scheduler's looks (service.claim_due, migration 0013): draws waiting for a
        # beacon, and awards to make final; each holds only the notices in flight, not the
        # history.
        sa.Index(
            "ix_selection_waiting", "beacon_checked_at", postgresql_where=sa.text("outcome = 'waiting'")
        ),
        sa.Index("ix_selection_final_pending", "publicity_ends", postgresql_where=sa.text("final_pending")),
        # The supervisors' board (supervision/web_live.board_context): the draws whose
        # latest step (the outcome, or the closing while there is none) was today, read in
        # the board's order so that its page ends the read (migration 0017).
        sa.Index("ix_selection_latest_step", sa.text("coalesce(outcome_at, closed_at)"), "notice_id"),
    )

    notice_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), primary_key=True))
    closed_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    closed_at: datetime = Field(sa_column=timestamp_column(nullable=False))
    secret: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    bids: list[Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    # MSP/2: every bid opened at the close, as logged (None for MSP/1 notices)
    openings: list[Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    candidates: list[Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    excluded: list[Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    eligible: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    outcome: str = Field(default=Outcome.waiting.value, sa_column=sa.Column(sa.String(16), nullable=False))
    outcome_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    outcome_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    failed_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    beacon: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    seed: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    order: list[str] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    ranking: list[str] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    winners: list[str] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    alternates: list[str] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    waiting_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    beacon_checked_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    publicity_ends: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    final_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    # An award in publicity, to be made final when it ends (if no objection is pending
    # then); false once final or failed. final_seq cannot say it: a winner may decline an
    # award already final, and its replacement's publicity starts again with final_seq set.
    final_pending: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )


class AwardStatus(enum.StrEnum):
    holding = "holding"
    declined = "declined"
    disqualified = "disqualified"


class Award(SQLModel, table=True):
    """One agency's hold on one winner's place (slot); a replacement opens a new row."""

    __tablename__ = "award"
    __table_args__ = (
        sa.CheckConstraint("status IN ('holding', 'declined', 'disqualified')", name="status_known"),
        sa.Index(
            "uq_award_holding_slot",
            "notice_id",
            "slot",
            unique=True,
            postgresql_where=sa.text("status = 'holding'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), nullable=False, index=True)
    )
    slot: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    agency_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("agency.id"), nullable=False, index=True)
    )
    agency_public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    status: str = Field(default=AwardStatus.holding.value, sa_column=sa.Column(sa.String(16), nullable=False))
    since_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    ended_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    end_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    replaced_by: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class ObjectionStatus(enum.StrEnum):
    filed = "filed"  # waiting for the owner's answer
    answered = "answered"  # waiting for a supervisor's decision
    upheld = "upheld"
    rejected = "rejected"


PENDING_OBJECTIONS = (ObjectionStatus.filed.value, ObjectionStatus.answered.value)


# The party of an objection filed by the notice's owner (a bidder's party is its agency id).
OWNER_PARTY = "owner"


class Objection(SQLModel, table=True):
    """异议: filed during publicity by a party with standing (the notice's owner, or an
    agency whose bid stood at the close), answered by the owner, decided by a supervisor.
    Texts are public on the notice's page; the log holds their hashes, and a salted
    commitment to the party, who is shown to supervisors only (docs/selection.md)."""

    __tablename__ = "objection"
    __table_args__ = (
        sa.CheckConstraint("status IN ('filed', 'answered', 'upheld', 'rejected')", name="status_known"),
        # One pending objection per party and notice, even when two requests race.
        sa.Index(
            "uq_objection_pending_party",
            "notice_id",
            "party",
            unique=True,
            postgresql_where=sa.text("status IN ('filed', 'answered')"),
        ),
        # The console's pending objections, counted and listed per hall without reading
        # the decided ones (supervision console; migration 0013, _console_upgrade).
        sa.Index(
            "ix_objection_pending", "hall", "id", postgresql_where=sa.text("status IN ('filed', 'answered')")
        ),
        # The province's pending objections, oldest first (objections/queries.pending_objections).
        sa.Index(
            "ix_objection_pending_id", "id", postgresql_where=sa.text("status IN ('filed', 'answered')")
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, unique=True))
    notice_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), nullable=False, index=True)
    )
    filed_by: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=False))
    agency_public_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    # Who objects: OWNER_PARTY or the bidding agency's public id; None only for objections
    # filed before standing was required (migration 0009).
    party: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    # Opens the log's objector_sha256 with the party; never published.
    party_salt: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    reasons: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    status: str = Field(
        default=ObjectionStatus.filed.value, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    filed_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    filed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    answer: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    answered_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    answered_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    # The hall whose supervisors decide it now: the notice's hall, then one level up each
    # time it goes undecided for the configured number of days (objection.escalated).
    hall: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(12), sa.ForeignKey("jurisdiction.code"), nullable=True)
    )
    escalated_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    decision_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    decided_by: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=True)
    )
    decided_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    decided_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


# -- input -------------------------------------------------------------------------------------


class DeclineInput(SQLModel):
    reason: str = Field(min_length=1, max_length=2000)


class ObjectionInput(SQLModel):
    reasons: str = Field(min_length=10, max_length=5000)
    agency_id: str | None = Field(default=None, max_length=16)


class AnswerInput(SQLModel):
    answer: str = Field(min_length=1, max_length=5000)


class Decision(enum.StrEnum):
    upheld = "upheld"
    rejected = "rejected"


class DecisionInput(SQLModel):
    decision: Decision
    reason: str = Field(min_length=1, max_length=5000)
