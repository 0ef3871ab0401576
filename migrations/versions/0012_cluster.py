"""Issue 23, when one server is not enough: every piece of state in PostgreSQL (uploaded
files, the shared rate limiter) so that any app host serves any request. One section per part.

Revision ID: 0012_cluster
Revises: 0011_portal
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0012_cluster"
down_revision: str | None = "0011_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _files_upgrade()
    _ratelimit_upgrade()


def downgrade() -> None:
    _ratelimit_downgrade()
    _files_downgrade()


# -- files: uploaded documents and deliverables in the database -------------------------


def _files_upgrade() -> None:
    # Files already on disk are imported by `market files import`, which `market serve` and
    # `market db upgrade` run after migrating (market/files/legacy.py): a migration cannot
    # see the data dir.
    op.create_table(
        "stored_file",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_stored_file")),
    )
    op.create_table(
        "stored_file_chunk",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["stored_file.sha256"],
            name=op.f("fk_stored_file_chunk_sha256_stored_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sha256", "n", name=op.f("pk_stored_file_chunk")),
    )
    # PDFs, PNGs and JPEGs are compressed already: TOAST's compression would cost CPU on
    # every write and read for nothing, so the chunks are stored out of line as they are.
    op.execute("ALTER TABLE stored_file_chunk ALTER COLUMN data SET STORAGE EXTERNAL")


def _files_downgrade() -> None:
    op.drop_table("stored_file_chunk")
    op.drop_table("stored_file")


# -- ratelimit: the log-in and registration limits shared by every app host -------------


def _ratelimit_upgrade() -> None:
    # UNLOGGED (market/security/models.py): a log-in attempt does not wait for the
    # synchronous standby, and after a failover the counts start afresh.
    op.create_table(
        "rate_window",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("hits", sa.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_window"),
        prefixes=["UNLOGGED"],
    )
    op.create_index("ix_rate_window_last_at", "rate_window", ["last_at"])
    op.create_table(
        "login_failure",
        sa.Column("account_key", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_key", name="pk_login_failure"),
        prefixes=["UNLOGGED"],
    )
    op.create_index("ix_login_failure_last_at", "login_failure", ["last_at"])


def _ratelimit_downgrade() -> None:
    op.drop_index("ix_login_failure_last_at", table_name="login_failure")
    op.drop_table("login_failure")
    op.drop_index("ix_rate_window_last_at", table_name="rate_window")
    op.drop_table("rate_window")
