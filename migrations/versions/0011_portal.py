"""Issue 22, each person lands where their work is: the OCDS releases kept forever, and the
notification queue, preferences and subscriptions. One section per part.

Revision ID: 0011_portal
Revises: 0010_halls
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0011_portal"
down_revision: str | None = "0010_halls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _ocds_upgrade()
    _notify_upgrade()
    _search_upgrade()
    _reissue_upgrade()


def downgrade() -> None:
    _reissue_downgrade()
    _search_downgrade()
    _notify_downgrade()
    _ocds_downgrade()


# -- OCDS: every release kept forever -------------------------------------------------


def _ocds_upgrade() -> None:
    # Every OCDS release ever published (market/ocds/models.py). Releases of processes
    # from before this table are kept from their first serving on: the ones a harvester
    # held before the upgrade are the current ones, which are the first kept.
    op.create_table(
        "ocds_release",
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name="fk_ocds_release_notice_id_notice"),
        sa.PrimaryKeyConstraint("key", name="pk_ocds_release"),
    )
    op.create_index("ix_ocds_release_notice_id", "ocds_release", ["notice_id"])
    # Append-only: a release once served is never changed or taken back.
    op.execute(
        """
        CREATE FUNCTION ocds_release_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ocds_release is append-only';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER ocds_release_append_only BEFORE UPDATE OR DELETE ON ocds_release "
        "FOR EACH ROW EXECUTE FUNCTION ocds_release_append_only()"
    )


def _ocds_downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ocds_release_append_only ON ocds_release")
    op.execute("DROP FUNCTION IF EXISTS ocds_release_append_only()")
    op.drop_index("ix_ocds_release_notice_id", table_name="ocds_release")
    op.drop_table("ocds_release")


# -- Notifications: the e-mail queue, preferences, subscriptions ------------------------


def _notify_upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("to_addr", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_mail_outbox_status_known")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_mail_outbox_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    op.create_index(op.f("ix_mail_outbox_user_id"), "mail_outbox", ["user_id"])
    op.create_index(
        "ix_mail_outbox_due",
        "mail_outbox",
        ["next_attempt_at", "id"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_mail_outbox_failed", "mail_outbox", ["id"], postgresql_where=sa.text("status = 'failed'")
    )
    op.create_table(
        "mail_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_mail_preference_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_mail_preference")),
    )
    op.create_table(
        "subscription_category",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["category"],
            ["service_category.code"],
            name=op.f("fk_subscription_category_category_service_category"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_subscription_category_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("user_id", "category", name=op.f("pk_subscription_category")),
    )
    op.create_index("ix_subscription_category_category", "subscription_category", ["category", "user_id"])
    # The Atom feed's ETag (notify/queries.feed_version) is max(updated_at) and count(*) of
    # the published notices of a filter, asked by every poll: read from this small covering
    # index alone (an index-only scan), a category's range only when the feed has one,
    # rather than from the whole notice table. An index, not a cache, so that a new notice
    # changes the feed at once in every process.
    op.create_index(
        "ix_notice_feed",
        "notice",
        ["category", "updated_at"],
        postgresql_include=["region", "hall"],
        postgresql_where=sa.text("status <> 'draft' AND published_at IS NOT NULL"),
    )
    op.create_table(
        "subscription_region",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("prefix", sa.String(length=6), nullable=False),
        sa.ForeignKeyConstraint(
            ["region"], ["region.code"], name=op.f("fk_subscription_region_region_region")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_subscription_region_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("user_id", "region", name=op.f("pk_subscription_region")),
    )


def _notify_downgrade() -> None:
    op.drop_index("ix_notice_feed", table_name="notice")
    op.drop_table("subscription_region")
    op.drop_index("ix_subscription_category_category", table_name="subscription_category")
    op.drop_table("subscription_category")
    op.drop_table("mail_preference")
    op.drop_index("ix_mail_outbox_failed", table_name="mail_outbox")
    op.drop_index("ix_mail_outbox_due", table_name="mail_outbox")
    op.drop_index(op.f("ix_mail_outbox_user_id"), table_name="mail_outbox")
    op.drop_table("mail_outbox")


# -- Search: the portal's search box (notice title, project, owner organisation) ----------

# pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
# Trigram GIN indexes serve ILIKE '%words%' for three characters and more, Chinese
# included; the foreign-key indexes take a matching project or organisation to its notices.
SEARCH_TRGM = (
    ("ix_notice_title_trgm", "notice", "title"),
    ("ix_project_name_trgm", "project", "name"),
    ("ix_owner_org_name_trgm", "owner_org", "name"),
)


def _search_upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in SEARCH_TRGM:
        op.create_index(
            name, table, [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}
        )
    op.create_index("ix_notice_project_id", "notice", ["project_id"])
    op.create_index("ix_notice_org_id", "notice", ["org_id"])


def _search_downgrade() -> None:
    op.drop_index("ix_notice_org_id", table_name="notice")
    op.drop_index("ix_notice_project_id", table_name="notice")
    for name, table, _ in SEARCH_TRGM:
        op.drop_index(name, table_name=table)
    # The extension stays: dropping it could break anything else that came to use it.


# -- Re-issue: a failed notice is re-issued once ------------------------------------------


def _reissue_upgrade() -> None:
    # The draft a failed notice was re-issued as points back to it; unique, so that a
    # second request (a double click, a resent form) finds the first draft instead of
    # making another.
    op.add_column("notice", sa.Column("reissued_from", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_notice_reissued_from_notice"), "notice", "notice", ["reissued_from"], ["id"]
    )
    op.create_index(
        "ix_notice_reissued_from",
        "notice",
        ["reissued_from"],
        unique=True,
        postgresql_where=sa.text("reissued_from IS NOT NULL"),
    )


def _reissue_downgrade() -> None:
    op.drop_index("ix_notice_reissued_from", table_name="notice")
    op.drop_constraint(op.f("fk_notice_reissued_from_notice"), "notice", type_="foreignkey")
    op.drop_column("notice", "reissued_from")
