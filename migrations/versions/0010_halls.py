"""Issue 21, halls for every level: the jurisdiction tree, and every staff account, owner
organisation, notice and objection placed in it. One section per part.

Upgrade without loss: existing staff become province-level; existing organisations belong
to their region's hall (the province's when their region is outside it); a published
notice belongs to its organisation's hall, or for one published without an organisation
to its own region's hall; an objection is decided by its notice's hall.

Revision ID: 0010_halls
Revises: 0009_fair_play
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0010_halls"
down_revision: str | None = "0009_fair_play"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As at this revision (market/halls/rules.PROVINCE); a later change there does not rewrite history.
PROVINCE = "530000"


def upgrade() -> None:
    _tree_upgrade()
    _staff_upgrade()
    _orgs_upgrade()
    _notices_upgrade()
    _objections_upgrade()
    _alerts_upgrade()
    _bench_indexes_upgrade()


def downgrade() -> None:
    _bench_indexes_downgrade()
    _alerts_downgrade()
    _objections_downgrade()
    _notices_downgrade()
    _orgs_downgrade()
    _staff_downgrade()
    _tree_downgrade()


# --- the tree: the province, its prefectures and counties, from the region table ---
def _tree_upgrade() -> None:
    op.create_table(
        "jurisdiction",
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column("parent", sa.String(12), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(160), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("contact_phone", sa.String(40), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_jurisdiction"),
        sa.ForeignKeyConstraint(
            ["parent"], ["jurisdiction.code"], name="fk_jurisdiction_parent_jurisdiction"
        ),
        sa.ForeignKeyConstraint(["region"], ["region.code"], name="fk_jurisdiction_region_region"),
        sa.CheckConstraint(
            "kind IN ('province', 'prefecture', 'county', 'park')", name="ck_jurisdiction_kind_known"
        ),
        sa.CheckConstraint(
            "(kind = 'province') = (parent IS NULL)", name="ck_jurisdiction_root_has_no_parent"
        ),
    )
    op.create_index("ix_jurisdiction_parent", "jurisdiction", ["parent"])
    # One statement: PostgreSQL checks the self-reference at its end, and code order puts
    # every parent first anyway.
    op.execute(
        sa.text(
            "INSERT INTO jurisdiction (code, parent, kind, name_zh, name_en, region, created_at)"
            " SELECT code, CASE WHEN level = 'province' THEN NULL ELSE parent END, level, name_zh, name_en,"
            " code, now() FROM region WHERE code LIKE :prefix ORDER BY code"
        ).bindparams(prefix=PROVINCE[:2] + "%")
    )


def _tree_downgrade() -> None:
    op.drop_index("ix_jurisdiction_parent", table_name="jurisdiction")
    op.drop_table("jurisdiction")


# --- staff: every existing admin and supervisor holds the province ---
def _staff_upgrade() -> None:
    op.add_column("app_user", sa.Column("jurisdiction", sa.String(12), nullable=True))
    op.execute(
        sa.text("UPDATE app_user SET jurisdiction = :p WHERE role IN ('supervisor', 'admin')").bindparams(
            p=PROVINCE
        )
    )
    op.create_foreign_key(
        "fk_app_user_jurisdiction_jurisdiction", "app_user", "jurisdiction", ["jurisdiction"], ["code"]
    )
    op.create_index("ix_app_user_jurisdiction", "app_user", ["jurisdiction"])
    op.create_check_constraint(
        "ck_app_user_staff_have_jurisdiction",
        "app_user",
        "role IN ('owner', 'agency') OR jurisdiction IS NOT NULL",
    )


def _staff_downgrade() -> None:
    op.drop_constraint("ck_app_user_staff_have_jurisdiction", "app_user", type_="check")
    op.drop_index("ix_app_user_jurisdiction", table_name="app_user")
    op.drop_constraint("fk_app_user_jurisdiction_jurisdiction", "app_user", type_="foreignkey")
    op.drop_column("app_user", "jurisdiction")


# --- owner organisations: their region's hall ---
def _orgs_upgrade() -> None:
    op.add_column("owner_org", sa.Column("hall", sa.String(12), nullable=True))
    op.execute(
        sa.text(
            "UPDATE owner_org o SET hall = CASE WHEN EXISTS (SELECT 1 FROM jurisdiction j WHERE j.code = o.region)"
            " THEN o.region ELSE :p END"
        ).bindparams(p=PROVINCE)
    )
    op.alter_column("owner_org", "hall", nullable=False)
    op.create_foreign_key("fk_owner_org_hall_jurisdiction", "owner_org", "jurisdiction", ["hall"], ["code"])
    op.create_index("ix_owner_org_hall", "owner_org", ["hall"])


def _orgs_downgrade() -> None:
    op.drop_index("ix_owner_org_hall", table_name="owner_org")
    op.drop_constraint("fk_owner_org_hall_jurisdiction", "owner_org", type_="foreignkey")
    op.drop_column("owner_org", "hall")


# --- notices: the organisation's hall, for life ---
def _notices_upgrade() -> None:
    op.add_column("notice", sa.Column("hall", sa.String(12), nullable=True))
    op.execute(
        sa.text(
            "UPDATE notice n SET hall = COALESCE("
            " (SELECT o.hall FROM owner_org o WHERE o.id = n.org_id),"
            " (SELECT j.code FROM jurisdiction j WHERE j.code = n.region), :p)"
            " WHERE n.status <> 'draft'"
        ).bindparams(p=PROVINCE)
    )
    op.create_foreign_key("fk_notice_hall_jurisdiction", "notice", "jurisdiction", ["hall"], ["code"])
    op.create_index("ix_notice_hall_id", "notice", ["hall", "id"])
    op.create_check_constraint(
        "ck_notice_published_has_hall", "notice", "status = 'draft' OR hall IS NOT NULL"
    )


def _notices_downgrade() -> None:
    op.drop_constraint("ck_notice_published_has_hall", "notice", type_="check")
    op.drop_index("ix_notice_hall_id", table_name="notice")
    op.drop_constraint("fk_notice_hall_jurisdiction", "notice", type_="foreignkey")
    op.drop_column("notice", "hall")


# --- objections: decided by the notice's hall, escalating upwards ---
def _objections_upgrade() -> None:
    op.add_column("objection", sa.Column("hall", sa.String(12), nullable=True))
    op.add_column("objection", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE objection x SET hall = n.hall FROM notice n WHERE n.id = x.notice_id"))
    op.create_foreign_key("fk_objection_hall_jurisdiction", "objection", "jurisdiction", ["hall"], ["code"])


def _objections_downgrade() -> None:
    op.drop_constraint("fk_objection_hall_jurisdiction", "objection", type_="foreignkey")
    op.drop_column("objection", "escalated_at")
    op.drop_column("objection", "hall")


# --- red-flag alerts: what each hall's supervisors were told of (market/supervision/models.py) ---
def _alerts_upgrade() -> None:
    op.create_table(
        "flag_alert",
        sa.Column("hall", sa.String(12), nullable=False),
        sa.Column("flag_kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(160), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hall"], ["jurisdiction.code"], name="fk_flag_alert_hall_jurisdiction"),
        sa.PrimaryKeyConstraint("hall", "flag_kind", "subject", name="pk_flag_alert"),
    )


def _alerts_downgrade() -> None:
    op.drop_table("flag_alert")


# --- indexes the scoped console needs on the seeded data set (ops/bench/halls.py) ---
def _bench_indexes_upgrade() -> None:
    # The console counts the disputes waiting for a supervisor on every page: a scan of
    # every contract (70,420 on the seeded data set) for a handful of rows.
    op.create_index(
        "ix_contract_disputed",
        "contract",
        ["disputed_at", "id"],
        postgresql_where=sa.text("status = 'disputed'"),
    )


def _bench_indexes_downgrade() -> None:
    op.drop_index("ix_contract_disputed", table_name="contract")
