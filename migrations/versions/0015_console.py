"""Issue 24, the supervision console at ten times the data: a jurisdiction's overdue
milestones read by an index range of its halls, where the contracts page walked every
overdue milestone of the province and dropped those of other halls.

Revision ID: 0015_console
Revises: 0014_counts
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0015_console"
down_revision: str | None = "0014_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A writer that does not name the hall (ops/bench/seed.py's COPY lists its columns) gets
# the notice's. ENABLE ALWAYS: the seed loads under ``session_replication_role = replica``.
_HALL_FUNCTION = """
CREATE FUNCTION milestone_hall() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.hall IS NULL THEN
        SELECT n.hall INTO NEW.hall FROM contract AS c JOIN notice AS n ON n.id = c.notice_id
        WHERE c.id = NEW.contract_id;
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    # The milestone's hall is its contract's notice's, which a published notice keeps for
    # life: copied once here, then by the contracts service when it records a contract.
    op.add_column("milestone", sa.Column("hall", sa.String(12), nullable=True))
    op.execute(
        "UPDATE milestone AS m SET hall = n.hall FROM contract AS c JOIN notice AS n ON n.id = c.notice_id "
        "WHERE c.id = m.contract_id"
    )
    op.alter_column("milestone", "hall", existing_type=sa.String(12), nullable=False)
    op.execute(_HALL_FUNCTION)
    op.execute(
        "CREATE TRIGGER milestone_hall BEFORE INSERT ON milestone FOR EACH ROW EXECUTE FUNCTION milestone_hall()"
    )
    op.execute("ALTER TABLE milestone ENABLE ALWAYS TRIGGER milestone_hall")
    op.create_index(
        "ix_milestone_overdue_hall",
        "milestone",
        ["hall", "due_on", "id"],
        postgresql_where=sa.text("overdue_on IS NOT NULL AND status IN ('pending', 'returned')"),
    )


def downgrade() -> None:
    op.drop_index("ix_milestone_overdue_hall", table_name="milestone")
    op.execute("DROP TRIGGER milestone_hall ON milestone")
    op.execute("DROP FUNCTION milestone_hall()")
    op.drop_column("milestone", "hall")
