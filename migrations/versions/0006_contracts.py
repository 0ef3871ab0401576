"""contracts, milestones, deliverables and ratings

Revision ID: 0006_contracts
Revises: 0005_selection
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0006_contracts"
down_revision: str | None = "0005_selection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SEQUENCES = ("contract_public_seq", "rating_public_seq")


def upgrade() -> None:
    for name in SEQUENCES:
        op.execute(f"CREATE SEQUENCE {name}")
    # An automatic suspension (repeated declines) is the platform's decision: no actor.
    op.alter_column("agency_review", "actor_id", existing_type=sa.Integer(), nullable=True)
    op.create_table(
        "contract",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("award_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("recorded_seq", sa.BigInteger(), nullable=False),
        sa.Column("signed_seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('proposed', 'in_service', 'completed', 'stopped', 'declined')",
            name=op.f("ck_contract_status_known"),
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_contract_amount_positive")),
        sa.CheckConstraint("start_on <= due_on", name=op.f("ck_contract_dates_in_order")),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name=op.f("fk_contract_agency_id_agency")),
        sa.ForeignKeyConstraint(["award_id"], ["award.id"], name=op.f("fk_contract_award_id_award")),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name=op.f("fk_contract_notice_id_notice")),
        sa.ForeignKeyConstraint(["owner_id"], ["app_user.id"], name=op.f("fk_contract_owner_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract")),
        sa.UniqueConstraint("public_id", name=op.f("uq_contract_public_id")),
    )
    op.create_index(op.f("ix_contract_agency_id"), "contract", ["agency_id"], unique=False)
    op.create_index(op.f("ix_contract_notice_id"), "contract", ["notice_id"], unique=False)
    op.create_index(op.f("ix_contract_owner_id"), "contract", ["owner_id"], unique=False)
    op.create_index(
        "uq_contract_live_award",
        "contract",
        ["award_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'declined'"),
    )
    op.create_table(
        "milestone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'submitted', 'accepted', 'returned')",
            name=op.f("ck_milestone_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=op.f("fk_milestone_contract_id_contract")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestone")),
        sa.UniqueConstraint("contract_id", "position", name="uq_milestone_contract_id_position"),
    )
    op.create_index(op.f("ix_milestone_contract_id"), "milestone", ["contract_id"], unique=False)
    op.create_table(
        "rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("quality", sa.SmallInteger(), nullable=False),
        sa.Column("timeliness", sa.SmallInteger(), nullable=False),
        sa.Column("attitude", sa.SmallInteger(), nullable=False),
        sa.Column("fees", sa.SmallInteger(), nullable=False),
        sa.Column("compliance", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("attitude BETWEEN 1 AND 5", name=op.f("ck_rating_attitude_in_range")),
        sa.CheckConstraint("compliance BETWEEN 1 AND 5", name=op.f("ck_rating_compliance_in_range")),
        sa.CheckConstraint("fees BETWEEN 1 AND 5", name=op.f("ck_rating_fees_in_range")),
        sa.CheckConstraint("quality BETWEEN 1 AND 5", name=op.f("ck_rating_quality_in_range")),
        sa.CheckConstraint("timeliness BETWEEN 1 AND 5", name=op.f("ck_rating_timeliness_in_range")),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name=op.f("fk_rating_agency_id_agency")),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=op.f("fk_rating_contract_id_contract")
        ),
        sa.ForeignKeyConstraint(["voided_by"], ["app_user.id"], name=op.f("fk_rating_voided_by_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_rating_contract_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_rating_public_id")),
    )
    op.create_index(op.f("ix_rating_agency_id"), "rating", ["agency_id"], unique=False)
    op.create_table(
        "deliverable",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["milestone_id"], ["milestone.id"], name=op.f("fk_deliverable_milestone_id_milestone")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliverable")),
    )
    op.create_index(op.f("ix_deliverable_milestone_id"), "deliverable", ["milestone_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_deliverable_milestone_id"), table_name="deliverable")
    op.drop_table("deliverable")
    op.drop_index(op.f("ix_rating_agency_id"), table_name="rating")
    op.drop_table("rating")
    op.drop_index(op.f("ix_milestone_contract_id"), table_name="milestone")
    op.drop_table("milestone")
    op.drop_index(
        "uq_contract_live_award", table_name="contract", postgresql_where=sa.text("status <> 'declined'")
    )
    op.drop_index(op.f("ix_contract_owner_id"), table_name="contract")
    op.drop_index(op.f("ix_contract_notice_id"), table_name="contract")
    op.drop_index(op.f("ix_contract_agency_id"), table_name="contract")
    op.drop_table("contract")
    for name in SEQUENCES:
        op.execute(f"DROP SEQUENCE {name}")
    op.execute("DELETE FROM agency_review WHERE actor_id IS NULL")
    op.alter_column("agency_review", "actor_id", existing_type=sa.Integer(), nullable=False)
