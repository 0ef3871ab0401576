"""public selection: closing, draws, awards, objections, messages; direct notices name their agency

Revision ID: 0005_selection
Revises: 0004_notices
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0005_selection"
down_revision: str | None = "0004_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE objection_public_seq")
    op.add_column("notice", sa.Column("direct_agency_id", sa.String(16), nullable=True))
    op.add_column("notice", sa.Column("direct_justification", sa.Text(), nullable=True))
    op.drop_constraint("ck_notice_status_known", "notice", type_="check")
    op.create_check_constraint(
        "ck_notice_status_known",
        "notice",
        "status IN ('draft', 'open', 'closed', 'selected', 'awarded', 'failed', 'cancelled')",
    )
    op.create_check_constraint(
        "ck_notice_direct_names_agency", "notice", "(method = 'direct') = (direct_agency_id IS NOT NULL)"
    )
    op.create_table(
        "selection",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("closed_seq", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("bids", sa.JSON(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("eligible", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_seq", sa.BigInteger(), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_reason", sa.Text(), nullable=True),
        sa.Column("beacon", sa.JSON(), nullable=True),
        sa.Column("seed", sa.String(64), nullable=True),
        sa.Column("order", sa.JSON(), nullable=True),
        sa.Column("ranking", sa.JSON(), nullable=True),
        sa.Column("winners", sa.JSON(), nullable=True),
        sa.Column("alternates", sa.JSON(), nullable=True),
        sa.Column("waiting_reason", sa.Text(), nullable=True),
        sa.Column("beacon_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publicity_ends", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_seq", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('waiting', 'drawn', 'direct', 'failed')", name="ck_selection_outcome_known"
        ),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name="fk_selection_notice_id_notice"),
        sa.PrimaryKeyConstraint("notice_id", name="pk_selection"),
    )
    op.create_table(
        "award",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("agency_public_id", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("since_seq", sa.BigInteger(), nullable=False),
        sa.Column("ended_seq", sa.BigInteger(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("replaced_by", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('holding', 'declined', 'disqualified')", name="ck_award_status_known"),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name="fk_award_notice_id_notice"),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name="fk_award_agency_id_agency"),
        sa.PrimaryKeyConstraint("id", name="pk_award"),
    )
    op.create_index("ix_award_notice_id", "award", ["notice_id"])
    op.create_index("ix_award_agency_id", "award", ["agency_id"])
    op.create_index(
        "uq_award_holding_slot",
        "award",
        ["notice_id", "slot"],
        unique=True,
        postgresql_where=sa.text("status = 'holding'"),
    )
    op.create_table(
        "objection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(16), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("filed_by", sa.Integer(), nullable=False),
        sa.Column("agency_public_id", sa.String(16), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_seq", sa.BigInteger(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_seq", sa.BigInteger(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_seq", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('filed', 'answered', 'upheld', 'rejected')", name="ck_objection_status_known"
        ),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name="fk_objection_notice_id_notice"),
        sa.ForeignKeyConstraint(["filed_by"], ["app_user.id"], name="fk_objection_filed_by_app_user"),
        sa.ForeignKeyConstraint(["decided_by"], ["app_user.id"], name="fk_objection_decided_by_app_user"),
        sa.PrimaryKeyConstraint("id", name="pk_objection"),
        sa.UniqueConstraint("public_id", name="uq_objection_public_id"),
    )
    op.create_index("ix_objection_notice_id", "objection", ["notice_id"])
    op.create_table(
        "inbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name="fk_inbox_message_user_id_app_user"),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name="fk_inbox_message_notice_id_notice"),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_message"),
    )
    op.create_index("ix_inbox_message_user_id", "inbox_message", ["user_id"])
    # The scheduler looks for due notices every second: open ones by deadline.
    op.create_index(
        "ix_notice_open_deadline",
        "notice",
        ["bid_deadline"],
        postgresql_where=sa.text("status IN ('open', 'closed', 'selected')"),
    )


def downgrade() -> None:
    op.drop_index("ix_notice_open_deadline", table_name="notice")
    op.drop_table("inbox_message")
    op.drop_table("objection")
    op.drop_table("award")
    op.drop_table("selection")
    op.drop_constraint("ck_notice_direct_names_agency", "notice", type_="check")
    op.drop_constraint("ck_notice_status_known", "notice", type_="check")
    op.create_check_constraint(
        "ck_notice_status_known", "notice", "status IN ('draft', 'open', 'closed', 'cancelled')"
    )
    op.drop_column("notice", "direct_justification")
    op.drop_column("notice", "direct_agency_id")
    op.execute("DROP SEQUENCE objection_public_seq")
