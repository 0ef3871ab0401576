"""Agencies (中介机构): profile, service categories, qualifications, documents, reviews.

Contact details (legal representative, phone, address) are private: never in the log, the
public directory or the API's public shape."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from market.core import text
from market.core.clock import utcnow
from market.core.db import timestamp_column
from market.core.i18n import N_
from market.core.sql import region_digits_column


class AgencyStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    suspended = "suspended"
    blacklisted = "blacklisted"


STATUS_LABELS = {
    AgencyStatus.pending.value: N_("Pending review"),
    AgencyStatus.approved.value: N_("Approved"),
    AgencyStatus.rejected.value: N_("Rejected"),
    AgencyStatus.suspended.value: N_("Suspended"),
    AgencyStatus.blacklisted.value: N_("Blacklisted"),
}


class ReviewStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    superseded = "superseded"


class Agency(SQLModel, table=True):
    __tablename__ = "agency"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'suspended', 'blacklisted')", name="status_known"
        ),
        sa.Index("ix_agency_status_id", "status", "id"),
        # The directory filtered by an area (queries.directory_page, migration 0013): status,
        # the region's digits at the filter's level, then id for the keyset order.
        sa.Index("ix_agency_status_province_id", "status", "region_province", "id"),
        sa.Index("ix_agency_status_prefecture_id", "status", "region_prefecture", "id"),
        sa.Index("ix_agency_status_region_id", "status", "region", "id"),
        # A scoped administrator's accounts page: an area's agency accounts in id order
        # (migration 0016; a county's area is its region).
        sa.Index("ix_agency_prefecture_owner", "region_prefecture", "owner_id"),
        sa.Index("ix_agency_region_owner", "region", "owner_id"),
        # The review queue's oldest waiting agencies (queries.review_queue, migration 0014).
        sa.Index("ix_agency_pending_updated", "updated_at", postgresql_where=sa.text("status = 'pending'")),
        # The console's search by a part of the name (supervision.queries.search; pg_trgm).
        sa.Index(
            "ix_agency_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, unique=True))
    owner_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=False, unique=True)
    )
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    credit_code: str = Field(sa_column=sa.Column(sa.String(18), nullable=False, unique=True))
    region: str = Field(sa_column=sa.Column(sa.String(6), sa.ForeignKey("region.code"), nullable=False))
    # Generated from ``region`` (as on notice; core.sql.region_scope_column says why).
    region_province: str | None = Field(default=None, sa_column=region_digits_column(2))
    region_prefecture: str | None = Field(default=None, sa_column=region_digits_column(4))
    legal_representative: str = Field(
        default="", sa_column=sa.Column(sa.String(100), nullable=False, server_default="")
    )
    contact_phone: str = Field(
        default="", sa_column=sa.Column(sa.String(40), nullable=False, server_default="")
    )
    address: str = Field(default="", sa_column=sa.Column(sa.String(300), nullable=False, server_default=""))
    status: str = Field(
        default=AgencyStatus.pending.value, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    status_reason: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    status_until: date | None = Field(default=None, sa_column=sa.Column(sa.Date, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class AgencyCount(SQLModel, table=True):
    """Agencies by status, and the pending qualifications of each status's agencies, kept by
    triggers in the same transaction as every change of agency and qualification (migration
    0014 says how): the review page's counts without reading every agency. A status may
    have several rows (changes of concurrent transactions not yet folded): read their sum."""

    __tablename__ = "agency_count"

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, primary_key=True))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    agencies: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    pending_qualifications: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class AgencyOrgLink(SQLModel, table=True):
    """An admin's finding that an agency and an owner organisation are one party (the same
    group, owner or people), beyond a shared credit code: the agency can never bid on, or be
    named directly by, that organisation's notices. Logged as agency.linked."""

    __tablename__ = "agency_org_link"
    __table_args__ = (sa.UniqueConstraint("agency_id", "org_id"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("agency.id"), nullable=False))
    org_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("owner_org.id"), nullable=False, index=True)
    )
    reason: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    linked_by: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=False))
    log_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class AgencyCategory(SQLModel, table=True):
    __tablename__ = "agency_category"
    # The directory filtered by category (queries.directory_page, migration 0013): a
    # category's agencies in id order, bounded by the page's cursor.
    __table_args__ = (sa.Index("ix_agency_category_category", "category", "agency_id"),)

    agency_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("agency.id"), primary_key=True))
    category: str = Field(
        sa_column=sa.Column(sa.String(32), sa.ForeignKey("service_category.code"), primary_key=True)
    )


class Qualification(SQLModel, table=True):
    """A qualification certificate. A new or changed one is ``pending`` until an admin
    approves it; approving a change marks the one it replaces ``superseded``."""

    __tablename__ = "qualification"
    __table_args__ = (
        sa.ForeignKeyConstraint(["category", "level"], ["category_level.category", "category_level.code"]),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'superseded')", name="status_known"
        ),
        sa.Index("ix_qualification_agency", "agency_id"),
        # The admins' queue of qualification changes, oldest first (queries.review_queue,
        # migration 0013): the few pending ones, not every qualification ever reviewed.
        sa.Index("ix_qualification_pending", "id", postgresql_where=sa.text("status = 'pending'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("agency.id"), nullable=False))
    category: str = Field(
        sa_column=sa.Column(sa.String(32), sa.ForeignKey("service_category.code"), nullable=False)
    )
    level: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    certificate_no: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    valid_until: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    status: str = Field(
        default=ReviewStatus.pending.value, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    replaces_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("qualification.id"), nullable=True)
    )
    review_reason: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class AgencyDocument(SQLModel, table=True):
    __tablename__ = "agency_document"
    __table_args__ = (sa.Index("ix_agency_document_agency", "agency_id"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("agency.id"), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    filename: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    content_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    size: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    sha256: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    uploaded_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class AgencyReview(SQLModel, table=True):
    """Every status change with who made it and why: the admin's history view. The same
    facts, without the actor's name, are in the public log."""

    __tablename__ = "agency_review"
    __table_args__ = (sa.Index("ix_agency_review_agency", "agency_id"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("agency.id"), nullable=False))
    action: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    from_status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    to_status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    reason: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    until: date | None = Field(default=None, sa_column=sa.Column(sa.Date, nullable=True))
    # None: the platform's own rule decided (automatic suspension after repeated declines).
    actor_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=True)
    )
    log_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


# -- input -----------------------------------------------------------------------------------


class QualificationInput(SQLModel):
    category: str = Field(min_length=1, max_length=32)
    level: str | None = Field(default=None, max_length=32)
    certificate_no: str = Field(min_length=1, max_length=64)
    valid_until: date

    @field_validator("certificate_no")
    @classmethod
    def certificate_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(N_("Enter the certificate number."))
        return value

    @field_validator("level")
    @classmethod
    def empty_level_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value


class AgencyCreate(SQLModel):
    name: str = Field(min_length=2, max_length=200)
    credit_code: str = Field(min_length=1, max_length=40)
    region: str = Field(min_length=1, max_length=6)
    categories: list[str] = Field(min_length=1, max_length=20)
    qualifications: list[QualificationInput] = Field(default_factory=list, max_length=50)
    legal_representative: str = Field(default="", max_length=100)
    contact_phone: str = Field(default="", max_length=40)
    address: str = Field(default="", max_length=300)

    @field_validator("name", "legal_representative", "address", "contact_phone")
    @classmethod
    def strip(cls, value: str) -> str:
        return value.strip()

    _names = field_validator("name")(text.validate_name)


class ReviewInput(SQLModel):
    decision: str
    reason: str = Field(default="", max_length=2000)


class LinkInput(SQLModel):
    org_id: str = Field(min_length=1, max_length=16)
    reason: str = Field(min_length=1, max_length=2000)


class StatusChangeInput(SQLModel):
    reason: str = Field(min_length=1, max_length=2000)
    until: date | None = None
