"""Issue 23, when one server is not enough: every piece of state in PostgreSQL (uploaded
files, the shared rate limiter) so that any app host serves any request. One section per part.

Revision ID: 0012_cluster
Revises: 0011_portal
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401
from alembic import op  # noqa: F401

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
    pass


def _files_downgrade() -> None:
    pass


# -- ratelimit: the log-in and registration limits shared by every app host -------------


def _ratelimit_upgrade() -> None:
    pass


def _ratelimit_downgrade() -> None:
    pass
