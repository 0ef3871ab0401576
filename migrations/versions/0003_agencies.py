"""agency registry: reference data (catalogue, regions), agencies, qualifications,
documents, reviews

Revision ID: 0003_agencies
Revises: 0002_log
Create Date: 2026-11-27
"""

from collections.abc import Iterator, Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0003_agencies"
down_revision: str | None = "0002_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _all_regions(parent: str | None = None) -> Iterator[object]:
    from market.reference import regions

    for region in regions.children(parent):
        yield region
        yield from _all_regions(region.code)


def _load_reference_data() -> None:
    # The shipped catalogue and regions as they are at this revision; a later change to
    # either comes with its own migration.
    from market.reference import catalogue

    category = sa.table(
        "service_category",
        sa.column("code"),
        sa.column("name_zh"),
        sa.column("name_en"),
        sa.column("position"),
    )
    level = sa.table(
        "category_level",
        sa.column("category"),
        sa.column("code"),
        sa.column("name_zh"),
        sa.column("name_en"),
        sa.column("rank"),
    )
    region = sa.table(
        "region",
        sa.column("code"),
        sa.column("name_zh"),
        sa.column("name_en"),
        sa.column("level"),
        sa.column("parent"),
    )
    op.bulk_insert(
        category,
        [
            {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "position": i}
            for i, c in enumerate(catalogue.CATEGORIES)
        ],
    )
    op.bulk_insert(
        level,
        [
            {"category": c.code, "code": lv.code, "name_zh": lv.name_zh, "name_en": lv.name_en, "rank": rank}
            for c in catalogue.CATEGORIES
            for rank, lv in enumerate(c.levels)
        ],
    )
    op.bulk_insert(
        region,
        [
            {"code": r.code, "name_zh": r.name_zh, "name_en": r.name_en, "level": r.level, "parent": r.parent}
            for r in _all_regions()
        ],  # type: ignore[attr-defined]
    )


def upgrade() -> None:
    op.create_table(
        "service_category",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(64), nullable=False),
        sa.Column("name_en", sa.String(128), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_service_category"),
    )
    op.create_table(
        "category_level",
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(32), nullable=False),
        sa.Column("name_en", sa.String(64), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category"], ["service_category.code"], name="fk_category_level_category_service_category"
        ),
        sa.PrimaryKeyConstraint("category", "code", name="pk_category_level"),
    )
    op.create_table(
        "region",
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("name_zh", sa.String(64), nullable=False),
        sa.Column("name_en", sa.String(128), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent", sa.String(6), nullable=True),
        sa.ForeignKeyConstraint(["parent"], ["region.code"], name="fk_region_parent_region"),
        sa.PrimaryKeyConstraint("code", name="pk_region"),
    )
    _load_reference_data()

    op.execute("CREATE SEQUENCE agency_public_seq")
    op.create_table(
        "agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("legal_representative", sa.String(100), server_default="", nullable=False),
        sa.Column("contact_phone", sa.String(40), server_default="", nullable=False),
        sa.Column("address", sa.String(300), server_default="", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("status_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'suspended', 'blacklisted')",
            name="ck_agency_status_known",
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["app_user.id"], name="fk_agency_owner_id_app_user"),
        sa.ForeignKeyConstraint(["region"], ["region.code"], name="fk_agency_region_region"),
        sa.PrimaryKeyConstraint("id", name="pk_agency"),
        sa.UniqueConstraint("public_id", name="uq_agency_public_id"),
        sa.UniqueConstraint("owner_id", name="uq_agency_owner_id"),
        sa.UniqueConstraint("credit_code", name="uq_agency_credit_code"),
    )
    op.create_index("ix_agency_status_id", "agency", ["status", "id"])
    op.create_table(
        "agency_category",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name="fk_agency_category_agency_id_agency"),
        sa.ForeignKeyConstraint(
            ["category"], ["service_category.code"], name="fk_agency_category_category_service_category"
        ),
        sa.PrimaryKeyConstraint("agency_id", "category", name="pk_agency_category"),
    )
    op.create_table(
        "qualification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("level", sa.String(32), nullable=True),
        sa.Column("certificate_no", sa.String(64), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("review_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'superseded')",
            name="ck_qualification_status_known",
        ),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name="fk_qualification_agency_id_agency"),
        sa.ForeignKeyConstraint(
            ["category"], ["service_category.code"], name="fk_qualification_category_service_category"
        ),
        sa.ForeignKeyConstraint(
            ["category", "level"],
            ["category_level.category", "category_level.code"],
            name="fk_qualification_category_category_level",
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["qualification.id"], name="fk_qualification_replaces_id_qualification"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_qualification"),
    )
    op.create_index("ix_qualification_agency", "qualification", ["agency_id"])
    op.create_table(
        "agency_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name="fk_agency_document_agency_id_agency"),
        sa.PrimaryKeyConstraint("id", name="pk_agency_document"),
    )
    op.create_index("ix_agency_document_agency", "agency_document", ["agency_id"])
    op.create_table(
        "agency_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("log_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name="fk_agency_review_agency_id_agency"),
        sa.ForeignKeyConstraint(["actor_id"], ["app_user.id"], name="fk_agency_review_actor_id_app_user"),
        sa.PrimaryKeyConstraint("id", name="pk_agency_review"),
    )
    op.create_index("ix_agency_review_agency", "agency_review", ["agency_id"])


def downgrade() -> None:
    for table in ("agency_review", "agency_document", "qualification", "agency_category", "agency"):
        op.drop_table(table)
    op.execute("DROP SEQUENCE agency_public_seq")
    for table in ("region", "category_level", "service_category"):
        op.drop_table(table)
