"""accounts: app_user and its public id sequence

Revision ID: 0001_accounts
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0001_accounts"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE app_user_public_seq")
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(16), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_app_user"),
        sa.UniqueConstraint("public_id", name="uq_app_user_public_id"),
        sa.CheckConstraint(
            "role IN ('owner', 'agency', 'supervisor', 'admin')", name="ck_app_user_role_known"
        ),
    )
    op.create_index("uq_app_user_email_lower", "app_user", [sa.text("lower(email)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_app_user_email_lower", table_name="app_user")
    op.drop_table("app_user")
    op.execute("DROP SEQUENCE app_user_public_seq")
