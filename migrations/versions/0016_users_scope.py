"""Issue 24, a prefecture's or county's accounts page at ten times the data: each kind of
account read in id order from an index of its place (accounts.service._scoped_page), where
the page walked every account from the first id and decided each by the organisations and
agencies of the whole scope, read first. The (jurisdiction, id) and (hall, created_by)
indexes replace the single-column ones they start with.

Revision ID: 0016_users_scope
Revises: 0015_console
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0016_users_scope"
down_revision: str | None = "0015_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_app_user_jurisdiction_id", "app_user", ["jurisdiction", "id"])
    op.drop_index("ix_app_user_jurisdiction", table_name="app_user")
    op.create_index("ix_owner_org_hall_created_by", "owner_org", ["hall", "created_by"])
    op.drop_index("ix_owner_org_hall", table_name="owner_org")
    op.create_index("ix_agency_prefecture_owner", "agency", ["region_prefecture", "owner_id"])
    op.create_index("ix_agency_region_owner", "agency", ["region", "owner_id"])


def downgrade() -> None:
    op.drop_index("ix_agency_region_owner", table_name="agency")
    op.drop_index("ix_agency_prefecture_owner", table_name="agency")
    op.create_index("ix_owner_org_hall", "owner_org", ["hall"])
    op.drop_index("ix_owner_org_hall_created_by", table_name="owner_org")
    op.create_index("ix_app_user_jurisdiction", "app_user", ["jurisdiction"])
    op.drop_index("ix_app_user_jurisdiction_id", table_name="app_user")
