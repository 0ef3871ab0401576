"""Contracts after an award, their milestones and the deliverables handed in for them.

Statuses follow the provincial platforms (Augurit's 中介超市): 服务中 in service, 服务完成
completed, 服务中止 stopped with a reason. Before that, the owner's record of a contract
waits for the agency's confirmation (``proposed``); an agency that declines hands the award
to the next alternate (MSP/1 step 7), and the contract stays behind as ``declined``.

Terms follow the award (docs/contracts.md, "Contracts follow the award"): an agency that
declines because they do not leaves the contract ``disputed`` and keeps the award until a
supervisor decides; terms found wrong set the contract aside (``set_aside``) and the owner
records matching ones, terms found fine make it an ordinary decline.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from market.core.clock import utcnow
from market.core.db import timestamp_column
from market.core.i18n import N_
from market.notices.models import exact_int


class ContractStatus(enum.StrEnum):
    proposed = "proposed"  # recorded by the owner, waiting for the agency to confirm
    in_service = "in_service"  # 服务中
    completed = "completed"  # 服务完成
    stopped = "stopped"  # 服务中止
    declined = "declined"  # the agency declined to sign; the next alternate took the award
    disputed = "disputed"  # declined because the terms do not follow the award; a supervisor decides
    set_aside = "set_aside"  # a supervisor found the terms did not follow the award; the award stands


CONTRACT_STATUS_LABELS = {
    ContractStatus.proposed.value: N_("Waiting for the agency to confirm"),
    ContractStatus.in_service.value: N_("In service (服务中)"),
    ContractStatus.completed.value: N_("Completed (服务完成)"),
    ContractStatus.stopped.value: N_("Stopped (服务中止)"),
    ContractStatus.declined.value: N_("Declined by the agency"),
    ContractStatus.disputed.value: N_("Disputed: the terms do not follow the award (a supervisor decides)"),
    ContractStatus.set_aside.value: N_("Set aside: the terms did not follow the award"),
}
LIVE_CONTRACTS = (
    ContractStatus.proposed.value,
    ContractStatus.in_service.value,
    ContractStatus.completed.value,
    ContractStatus.stopped.value,
    ContractStatus.disputed.value,
)
# Contracts that are over without a service: another may follow on the same award.
ENDED_UNSIGNED = (ContractStatus.declined.value, ContractStatus.set_aside.value)


class DisputeDecision(enum.StrEnum):
    terms_fine = "terms_fine"  # the terms follow the award: the decline counts as any other
    terms_wrong = "terms_wrong"  # they do not: the contract is set aside, the award stands


DISPUTE_DECISION_LABELS = {
    DisputeDecision.terms_fine.value: N_("The terms follow the award: the decline counts"),
    DisputeDecision.terms_wrong.value: N_(
        "The terms do not follow the award: the owner offers matching terms"
    ),
}


class MilestoneStatus(enum.StrEnum):
    pending = "pending"
    submitted = "submitted"
    accepted = "accepted"
    returned = "returned"


class Contract(SQLModel, table=True):
    __tablename__ = "contract"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('proposed', 'in_service', 'completed', 'stopped', 'declined', 'disputed', 'set_aside')",
            name="status_known",
        ),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("start_on <= due_on", name="dates_in_order"),
        sa.CheckConstraint(
            "dispute_decision IS NULL OR dispute_decision IN ('terms_fine', 'terms_wrong')",
            name="dispute_decision_known",
        ),
        # One live contract per award: a declined or set-aside one may be followed by another.
        sa.Index(
            "uq_contract_live_award",
            "award_id",
            unique=True,
            postgresql_where=sa.text("status NOT IN ('declined', 'set_aside')"),
        ),
        # The disputes waiting for a supervisor, counted on every console page (issue 21,
        # ops/bench/halls.py): a few rows, where a scan read every contract.
        sa.Index(
            "ix_contract_disputed", "disputed_at", "id", postgresql_where=sa.text("status = 'disputed'")
        ),
        # An award's latest contract, whatever its status (an agency's public page lists its
        # awards each with its latest contract: agencies/present.awards_of, migration 0013).
        # Without it each award's max(id) read every contract.
        sa.Index("ix_contract_award_id", "award_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, unique=True))
    notice_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), nullable=False, index=True)
    )
    award_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("award.id"), nullable=False))
    agency_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("agency.id"), nullable=False, index=True)
    )
    owner_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=False, index=True)
    )
    amount_fen: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    signed_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    start_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    due_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    status: str = Field(
        default=ContractStatus.proposed.value, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    stop_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    recorded_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    signed_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    confirmed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    completed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    stopped_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    declined_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    # A decline because the terms do not follow the award, and the supervisor's decision on it
    dispute_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    disputed_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    disputed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    dispute_decision: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    dispute_decision_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    dispute_decided_by: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=True)
    )
    dispute_decided_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    dispute_decided_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class Milestone(SQLModel, table=True):
    __tablename__ = "milestone"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'submitted', 'accepted', 'returned')", name="status_known"),
        sa.UniqueConstraint("contract_id", "position", name="uq_milestone_contract_id_position"),
        # The overdue milestones waiting for the agency, by due day (the supervisors'
        # contracts page and dashboards), without reading every milestone (migration 0013).
        sa.Index(
            "ix_milestone_overdue",
            "due_on",
            "id",
            postgresql_where=sa.text("overdue_on IS NOT NULL AND status IN ('pending', 'returned')"),
        ),
        # The same within one hall, for a jurisdiction's supervisors: one range per hall of
        # the scope, merged by due day (queries.overdue_milestones). Without the hall on the
        # row the scoped page walked every overdue milestone of the province (migration 0015).
        sa.Index(
            "ix_milestone_overdue_hall",
            "hall",
            "due_on",
            "id",
            postgresql_where=sa.text("overdue_on IS NOT NULL AND status IN ('pending', 'returned')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("contract.id"), nullable=False, index=True)
    )
    # The contract's notice's hall (a published notice keeps its hall for life), so that a
    # hall's overdue milestones are an index range: set by the contracts service, and by a
    # trigger for a writer that leaves it out (the seed's COPY; migration 0015).
    hall: str = Field(sa_column=sa.Column(sa.String(12), nullable=False))
    position: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))  # 1, 2, ... in due order
    title: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    due_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    status: str = Field(
        default=MilestoneStatus.pending.value, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    note: str | None = Field(
        default=None, sa_column=sa.Column(sa.Text, nullable=True)
    )  # the agency's, with its deliverable
    return_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    submitted_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    accepted_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    overdue_on: date | None = Field(
        default=None, sa_column=sa.Column(sa.Date, nullable=True)
    )  # when the scheduler flagged it


class Deliverable(SQLModel, table=True):
    """A file handed in for a milestone: same rules as agency documents (PDF, PNG, JPEG by
    content, 10 MB), its bytes stored in the database by SHA-256 (market/files)."""

    __tablename__ = "deliverable"

    id: int | None = Field(default=None, primary_key=True)
    milestone_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("milestone.id"), nullable=False, index=True)
    )
    filename: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    content_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    size: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    sha256: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    uploaded_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


# -- input -------------------------------------------------------------------------------------


class MilestoneInput(SQLModel):
    title: str = Field(min_length=2, max_length=200)
    due_on: date


class ContractCreate(SQLModel):
    amount_fen: int
    signed_on: date
    start_on: date
    due_on: date
    milestones: list[MilestoneInput] = Field(min_length=1, max_length=20)

    _exact = field_validator("amount_fen", mode="before")(exact_int)


class ContractDeclineInput(SQLModel):
    reason: str = Field(min_length=1, max_length=2000)
    # "because the terms do not follow the award": goes to a supervisor, the award is kept
    # meanwhile, and the decline does not count toward the automatic suspension.
    terms_mismatch: bool = False


class DisputeDecisionInput(SQLModel):
    decision: DisputeDecision
    reason: str = Field(min_length=1, max_length=5000)


class StopInput(SQLModel):
    reason: str = Field(min_length=5, max_length=2000)


class ReturnInput(SQLModel):
    reason: str = Field(min_length=5, max_length=2000)
