"""notices and sealed bids: owner organisations, projects, notices, sealed secrets, bids

Revision ID: 0004_notices
Revises: 0003_agencies
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0004_notices"
down_revision: str | None = "0003_agencies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQUENCES = ("owner_org_public_seq", "project_public_seq", "notice_public_seq", "bid_public_seq")


def upgrade() -> None:
    for name in SEQUENCES:
        op.execute(f"CREATE SEQUENCE {name}")
    op.create_table(
        "owner_org",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["region"], ["region.code"], name="fk_owner_org_region_region"),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], name="fk_owner_org_created_by_app_user"),
        sa.PrimaryKeyConstraint("id", name="pk_owner_org"),
        sa.UniqueConstraint("public_id", name="uq_owner_org_public_id"),
        sa.UniqueConstraint("credit_code", name="uq_owner_org_credit_code"),
        sa.UniqueConstraint("created_by", name="uq_owner_org_created_by"),
    )
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(16), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("code", sa.String(24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["owner_org.id"], name="fk_project_org_id_owner_org"),
        sa.PrimaryKeyConstraint("id", name="pk_project"),
        sa.UniqueConstraint("public_id", name="uq_project_public_id"),
        sa.UniqueConstraint("code", name="uq_project_code"),
    )
    op.create_index("ix_project_org_id", "project", ["org_id"])
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("required_level", sa.String(32), nullable=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("winners", sa.SmallInteger(), nullable=False),
        sa.Column("min_candidates", sa.SmallInteger(), nullable=False),
        sa.Column("bid_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_days", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("scheme", sa.String(64), nullable=True),
        sa.Column("terms", sa.LargeBinary(), nullable=True),
        sa.Column("terms_sha256", sa.String(64), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'closed', 'cancelled')", name="ck_notice_status_known"
        ),
        sa.CheckConstraint("method IN ('lottery', 'lowest_price', 'direct')", name="ck_notice_method_known"),
        sa.CheckConstraint("budget_fen > 0", name="ck_notice_budget_positive"),
        sa.CheckConstraint("winners >= 1 AND min_candidates >= 1", name="ck_notice_counts_positive"),
        sa.ForeignKeyConstraint(["owner_id"], ["app_user.id"], name="fk_notice_owner_id_app_user"),
        sa.ForeignKeyConstraint(["org_id"], ["owner_org.id"], name="fk_notice_org_id_owner_org"),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name="fk_notice_project_id_project"),
        sa.ForeignKeyConstraint(
            ["category"], ["service_category.code"], name="fk_notice_category_service_category"
        ),
        sa.ForeignKeyConstraint(["region"], ["region.code"], name="fk_notice_region_region"),
        sa.PrimaryKeyConstraint("id", name="pk_notice"),
        sa.UniqueConstraint("public_id", name="uq_notice_public_id"),
    )
    op.create_index("ix_notice_status_id", "notice", ["status", "id"])
    op.create_index("ix_notice_owner_id", "notice", ["owner_id"])
    op.create_table(
        "notice_avoid",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name="fk_notice_avoid_notice_id_notice"),
        sa.PrimaryKeyConstraint("notice_id", "agency_id", name="pk_notice_avoid"),
    )
    op.create_table(
        "notice_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("terms_sha256", sa.String(64), nullable=False),
        sa.Column("log_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name="fk_notice_revision_notice_id_notice"),
        sa.PrimaryKeyConstraint("id", name="pk_notice_revision"),
    )
    op.create_index("ix_notice_revision_notice_id", "notice_revision", ["notice_id"])
    op.create_table(
        "notice_secret",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name="fk_notice_secret_notice_id_notice"),
        sa.PrimaryKeyConstraint("notice_id", name="pk_notice_secret"),
    )
    op.create_table(
        "bid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(16), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=True),
        sa.Column("nonce", sa.String(32), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("bid_sha256", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('standing', 'withdrawn')", name="ck_bid_status_known"),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name="fk_bid_notice_id_notice"),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name="fk_bid_agency_id_agency"),
        sa.PrimaryKeyConstraint("id", name="pk_bid"),
        sa.UniqueConstraint("public_id", name="uq_bid_public_id"),
    )
    op.create_index("ix_bid_notice_id", "bid", ["notice_id"])
    op.create_index("ix_bid_agency_id", "bid", ["agency_id"])
    op.create_index(
        "uq_bid_standing",
        "bid",
        ["notice_id", "agency_id"],
        unique=True,
        postgresql_where=sa.text("status = 'standing'"),
    )


def downgrade() -> None:
    for table in (
        "bid",
        "notice_secret",
        "notice_revision",
        "notice_avoid",
        "notice",
        "project",
        "owner_org",
    ):
        op.drop_table(table)
    for name in SEQUENCES:
        op.execute(f"DROP SEQUENCE {name}")
