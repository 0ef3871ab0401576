"""witness co-signatures of log checkpoints (C2SP tlog-cosignature v1)

Revision ID: 0007_witness
Revises: 0006_contracts
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0007_witness"
down_revision: str | None = "0006_contracts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # log_cosignature.size names a row of log_checkpoint but is no foreign key: that table
    # is insert-only (triggers), and a foreign key would pre-empt its TRUNCATE trigger.
    op.create_table(
        "log_cosigner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_id", sa.LargeBinary(length=4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_log_cosigner_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_cosigner")),
        sa.UniqueConstraint("key_id", name=op.f("uq_log_cosigner_key_id")),
    )
    op.create_index(op.f("ix_log_cosigner_user_id"), "log_cosigner", ["user_id"], unique=False)
    op.create_table(
        "log_cosignature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("cosigner_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cosigner_id"], ["log_cosigner.id"], name=op.f("fk_log_cosignature_cosigner_id_log_cosigner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_cosignature")),
        sa.UniqueConstraint("size", "cosigner_id", name=op.f("uq_log_cosignature_size_cosigner_id")),
    )
    op.create_index(op.f("ix_log_cosignature_cosigner_id"), "log_cosignature", ["cosigner_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_log_cosignature_cosigner_id"), table_name="log_cosignature")
    op.drop_table("log_cosignature")
    op.drop_index(op.f("ix_log_cosigner_user_id"), table_name="log_cosigner")
    op.drop_table("log_cosigner")
