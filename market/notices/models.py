"""Owner organisations, projects, notices, their secrets and bids.

A notice's ``secret`` (MSP/1 step 1) lives in its own table, encrypted with a key kept in
the data directory, and is read only by closing; until then only its commitment is public.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from market.core import text
from market.core.clock import utcnow
from market.core.db import timestamp_column
from market.core.i18n import N_
from market.core.sql import region_digits_column


class Method(enum.StrEnum):
    lottery = "lottery"
    lowest_price = "lowest_price"
    direct = "direct"


METHOD_LABELS = {
    Method.lottery.value: N_("Lottery (random draw)"),
    Method.lowest_price.value: N_("Lowest price"),
    Method.direct.value: N_("Direct selection"),
}


class NoticeStatus(enum.StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"  # bidding closed; the draw waits for the committed beacon round
    selected = "selected"  # drawn or chosen directly; in publicity (公示)
    awarded = "awarded"  # publicity over with nothing pending: final
    failed = "failed"
    cancelled = "cancelled"


class BidStatus(enum.StrEnum):
    standing = "standing"
    withdrawn = "withdrawn"


class OwnerOrg(SQLModel, table=True):
    """业主单位: the organisation an owner user acts for."""

    __tablename__ = "owner_org"
    # The notices' search box finds an organisation's notices by its name (pg_trgm).
    __table_args__ = (
        sa.Index(
            "ix_owner_org_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        ),
        # A scoped administrator's accounts page: a hall's owners in id order (migration 0016).
        sa.Index("ix_owner_org_hall_created_by", "hall", "created_by"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, unique=True))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    credit_code: str = Field(sa_column=sa.Column(sa.String(18), nullable=False, unique=True))
    region: str = Field(sa_column=sa.Column(sa.String(6), sa.ForeignKey("region.code"), nullable=False))
    # The hall it belongs to: its region's own or a park inside it; changed only by staff, logged.
    hall: str = Field(sa_column=sa.Column(sa.String(12), sa.ForeignKey("jurisdiction.code"), nullable=False))
    # Published nowhere; compared with the agencies it deals with (the related_contact flag).
    contact_phone: str = Field(
        default="", sa_column=sa.Column(sa.String(40), nullable=False, server_default="")
    )
    created_by: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=False, unique=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class Project(SQLModel, table=True):
    __tablename__ = "project"
    # The notices' search box finds a project's notices by its name (pg_trgm).
    __table_args__ = (
        sa.Index(
            "ix_project_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, unique=True))
    org_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("owner_org.id"), nullable=False, index=True)
    )
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    code: str = Field(sa_column=sa.Column(sa.String(24), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


# The public list's indexes (name: leading columns; each then ``id``, on published notices).
PUBLIC_LIST_INDEXES = {
    "category": ("category",),
    "category_province": ("category", "region_province"),
    "category_prefecture": ("category", "region_prefecture"),
    "category_region": ("category", "region"),
    "province": ("region_province",),
    "prefecture": ("region_prefecture",),
    "region": ("region",),
}

# What the Atom feed's version (max(updated_at) and count(*) of a filter) reads.
FEED_VERSION_COLUMNS = ["updated_at", "category", "region", "hall"]


class Notice(SQLModel, table=True):
    __tablename__ = "notice"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'closed', 'selected', 'awarded', 'failed', 'cancelled')",
            name="status_known",
        ),
        sa.CheckConstraint(
            "(method = 'direct') = (direct_agency_id IS NOT NULL)", name="direct_names_agency"
        ),
        sa.CheckConstraint("method IN ('lottery', 'lowest_price', 'direct')", name="method_known"),
        sa.CheckConstraint("protocol IN (1, 2)", name="protocol_known"),
        sa.CheckConstraint("sealing IS NULL OR sealing IN ('server', 'tlock')", name="sealing_known"),
        sa.CheckConstraint("budget_fen > 0", name="budget_positive"),
        sa.CheckConstraint("winners >= 1 AND min_candidates >= 1", name="counts_positive"),
        sa.Index("ix_notice_status_id", "status", "id"),
        # A hall's page: its newest open notices and results, one (status, hall) pair at a
        # time (halls/queries.hall_notices, migration 0013).
        sa.Index("ix_notice_status_hall_id", "status", "hall", "id"),
        # The scheduler looks for due notices every second (selection/service.claim_due,
        # next_deadline_in): open notices by deadline, and cancelled tlock notices not yet
        # opened (migration 0013: one index per kind of step, each probed, not walked).
        sa.Index(
            "ix_notice_open_deadline",
            "bid_deadline",
            postgresql_where=sa.text("status = 'open'"),
        ),
        # The supervisors' board: today's deadlines of the notices still in play
        # (supervision/web_live.board_context, migration 0013), by day, not from every notice.
        sa.Index(
            "ix_notice_live_deadline",
            "bid_deadline",
            postgresql_where=sa.text("status IN ('open', 'closed', 'selected')"),
        ),
        sa.Index(
            "ix_notice_tlock_unopened",
            "bid_deadline",
            postgresql_where=sa.text("status = 'cancelled' AND sealing = 'tlock' AND opened_seq IS NULL"),
        ),
        # A hall's lists and its staff's console: newest first within the halls in scope.
        sa.Index("ix_notice_hall_id", "hall", "id"),
        sa.CheckConstraint("status = 'draft' OR hall IS NOT NULL", name="published_has_hall"),
        # The search box (queries.notice_list): words in the title, and a matching project's
        # or organisation's notices (migration 0011, pg_trgm).
        sa.Index(
            "ix_notice_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}
        ),
        sa.Index("ix_notice_project_id", "project_id"),
        sa.Index("ix_notice_org_id", "org_id"),
        # A failed notice is re-issued once: a second request finds the first (migration 0011).
        sa.Index(
            "ix_notice_reissued_from",
            "reissued_from",
            unique=True,
            postgresql_where=sa.text("reissued_from IS NOT NULL"),
        ),
        # The Atom feed's entries, newest publication first (notify/queries.feed_entries,
        # migration 0013): a page of index entries, not a sort of every published notice
        # (a filter is checked on the way, passing over the notices outside it). It includes
        # what the feed's version reads (notify/queries.feed_version: the same entries' ids
        # and times), so that an unchanged feed's poll is an index-only scan of them.
        sa.Index(
            "ix_notice_feed_published",
            "published_at",
            "id",
            postgresql_include=FEED_VERSION_COLUMNS,
            postgresql_where=sa.text("status <> 'draft' AND published_at IS NOT NULL"),
        ),
        # The public list, newest first (queries.notice_list, migration 0013): one index per
        # filter it offers, with or without a category, at each level of region (the region's
        # first 2 digits, first 4, all 6), so that a page reads its rows in id order and
        # discards none, however many notices lie outside the filter.
        *(
            sa.Index(
                f"ix_notice_public_{name}",
                *columns,
                "id",
                postgresql_where=sa.text("status <> 'draft'"),
            )
            for name, columns in PUBLIC_LIST_INDEXES.items()
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, unique=True))
    owner_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=False, index=True)
    )
    org_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("owner_org.id"), nullable=True)
    )
    project_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("project.id"), nullable=True)
    )
    # The owner organisation's hall at publication, kept for life (a later move of the
    # organisation does not move its notices); None only for a draft.
    hall: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(12), sa.ForeignKey("jurisdiction.code"), nullable=True)
    )
    title: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    description: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    category: str = Field(
        sa_column=sa.Column(sa.String(32), sa.ForeignKey("service_category.code"), nullable=False)
    )
    required_level: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    region: str = Field(sa_column=sa.Column(sa.String(6), sa.ForeignKey("region.code"), nullable=False))
    # The region's province and prefecture digits, generated by PostgreSQL from ``region``
    # (so no writer sets them): a list filtered by an area compares one of them by equality
    # (core.sql.region_scope_column), which an index serves; LIKE on a prefix is not, under
    # C.UTF-8.
    region_province: str | None = Field(default=None, sa_column=region_digits_column(2))
    region_prefecture: str | None = Field(default=None, sa_column=region_digits_column(4))
    budget_fen: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    method: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    winners: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    min_candidates: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    bid_deadline: datetime = Field(sa_column=timestamp_column(nullable=False))
    service_days: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, nullable=True))
    # Direct selection names its agency and says why up front, in the published terms.
    direct_agency_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    direct_justification: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    status: str = Field(default=NoticeStatus.draft.value, sa_column=sa.Column(sa.String(16), nullable=False))
    commit: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    scheme: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    # The selection protocol the notice follows for life (docs/protocol/msp.md): notices
    # published before MSP/2 finish under MSP/1; set at publication.
    protocol: int = Field(default=2, sa_column=sa.Column(sa.SmallInteger, nullable=False, server_default="2"))
    # MSP/2: how its bids are sealed until the deadline, "server" or "tlock" (None: MSP/1 or a draft).
    sealing: str | None = Field(default=None, sa_column=sa.Column(sa.String(8), nullable=True))
    # MSP/2: the entry that opened its bids (bidding.closed, notice.cancelled or bids.opened)
    opened_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    # tlock: when the deadline round was last asked for (the close waits for it)
    tlock_checked_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    terms: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary, nullable=True))
    terms_sha256: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    published_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    cancel_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # A cancellation the owner asked for and a supervisor has not yet decided (consent or
    # refusal): its published reason and the seq of its notice.cancel_requested entry.
    cancel_request_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    cancel_requested_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    cancel_requested_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    # The failed notice this one re-issues (notices.service.reissue), if any.
    reissued_from: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class NoticeAvoid(SQLModel, table=True):
    """回避: agencies the owner excludes from a notice, each with a published reason."""

    __tablename__ = "notice_avoid"

    notice_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), primary_key=True))
    agency_id: str = Field(sa_column=sa.Column(sa.String(16), primary_key=True))
    reason: str = Field(sa_column=sa.Column(sa.Text, nullable=False))


class NoticeRevision(SQLModel, table=True):
    """Each amendment: what changed (old and new values), why, and the terms it produced,
    so that bidders can see exactly what moved. The log holds the same terms' hash."""

    __tablename__ = "notice_revision"

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), nullable=False, index=True)
    )
    changes: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    reason: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    terms_sha256: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    log_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class NoticeSecret(SQLModel, table=True):
    __tablename__ = "notice_secret"

    notice_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), primary_key=True))
    sealed: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))  # AES-GCM nonce || ciphertext


class Bid(SQLModel, table=True):
    """A bid. MSP/1 bids (of notices published before MSP/2) keep their document in the
    clear, as MSP/1 logged its hash beside the bidder's id. MSP/2 bids keep no price and no
    document readable here: ``sealed`` holds them (with the salts and the receipt) under
    the server's seal key, and only the close or a cancellation opens it; with tlock
    sealing, not even that: the public entry's timelock ciphertext is the only copy."""

    __tablename__ = "bid"
    __table_args__ = (
        sa.CheckConstraint("status IN ('standing', 'withdrawn')", name="status_known"),
        # The database itself refuses an MSP/2 bid with a readable price or document.
        sa.CheckConstraint(
            "(protocol = 1 AND document IS NOT NULL AND bid_sha256 IS NOT NULL AND receipt IS NOT NULL AND nonce IS NOT NULL) OR "
            "(protocol = 2 AND price_fen IS NULL AND document IS NULL AND nonce IS NULL AND bid_sha256 IS NULL "
            "AND receipt IS NULL AND commitment IS NOT NULL)",
            name="protocol_columns",
        ),
        # MSP/1 step 2: at most one standing bid per agency and notice.
        sa.Index(
            "uq_bid_standing",
            "notice_id",
            "agency_id",
            unique=True,
            postgresql_where=sa.text("status = 'standing'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, unique=True))
    notice_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), nullable=False, index=True)
    )
    agency_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("agency.id"), nullable=False, index=True)
    )
    protocol: int = Field(default=2, sa_column=sa.Column(sa.SmallInteger, nullable=False, server_default="2"))
    # MSP/1 only (None for MSP/2 bids)
    price_fen: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    nonce: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    document: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary, nullable=True))
    bid_sha256: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    receipt: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # MSP/2 only: the commitment its bid.sealed entry holds, the sealed opening material, and
    # the withdrawal's sealed entry
    commitment: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    sealed: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary, nullable=True))
    withdrawal_seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    withdrawal_sealed: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary, nullable=True))
    # the entry that accepted (MSP/1) or sealed (MSP/2) it
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    leaf_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    status: str = Field(default=BidStatus.standing.value, sa_column=sa.Column(sa.String(16), nullable=False))
    created_at: datetime = Field(sa_column=timestamp_column(nullable=False))
    withdrawn_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


# -- input -------------------------------------------------------------------------------------


def exact_int(value: object) -> object:
    """Money and counts are JSON integers: "300", 300.0 and true are refused, not coerced.
    (Field-level strictness is not enough: Litestar validates bodies with strict=False.)"""
    if value is not None and type(value) is not int:
        raise ValueError(N_("Enter a whole number."))
    return value


class OrgCreate(SQLModel):
    name: str = Field(min_length=2, max_length=200)
    credit_code: str = Field(min_length=1, max_length=40)
    region: str = Field(min_length=1, max_length=6)
    contact_phone: str = Field(default="", max_length=40)
    # The hall it belongs to: its region's own (the default) or a development park inside it.
    hall: str | None = Field(default=None, max_length=12)

    _names = field_validator("name")(text.validate_name)


class OrgHallChange(SQLModel):
    """Staff moving an organisation to another hall of its region (logged with the reason)."""

    hall: str = Field(min_length=1, max_length=12)
    reason: str = Field(min_length=1, max_length=500)


class ProjectCreate(SQLModel):
    name: str = Field(min_length=2, max_length=200)
    code: str = Field(min_length=1, max_length=40)

    _names = field_validator("name")(text.validate_name)


class AvoidInput(SQLModel):
    agency_id: str = Field(min_length=1, max_length=16)
    reason: str = Field(min_length=1, max_length=500)


class NoticeCreate(SQLModel):
    title: str = Field(min_length=2, max_length=200)
    description: str = Field(default="", max_length=20_000)
    category: str = Field(min_length=1, max_length=32)
    region: str = Field(default="530000", min_length=1, max_length=6)
    budget_fen: int
    method: Method
    winners: int = 1
    min_candidates: int | None = None
    bid_deadline: datetime
    required_level: str | None = Field(default=None, max_length=32)
    service_days: int | None = Field(default=None, ge=1, le=3650)
    project_id: str | None = Field(default=None, max_length=16)
    avoid: list[AvoidInput] = Field(default_factory=list, max_length=50)
    direct_agency_id: str | None = Field(default=None, max_length=16)
    direct_justification: str | None = Field(default=None, max_length=5000)

    _exact = field_validator("budget_fen", "winners", "min_candidates", mode="before")(exact_int)

    @field_validator("title", "description")
    @classmethod
    def strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("direct_agency_id", "direct_justification")
    @classmethod
    def empty_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("required_level")
    @classmethod
    def empty_level_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value

    _names = field_validator("title")(text.validate_name)


class NoticeAmend(SQLModel):
    """What an owner may change in an open notice; omitted fields keep their values."""

    title: str | None = Field(default=None, min_length=2, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    budget_fen: int | None = None
    bid_deadline: datetime | None = None
    required_level: str | None = Field(default=None, max_length=32)
    service_days: int | None = Field(default=None, ge=1, le=3650)
    reason: str = Field(default="", max_length=2000)

    _exact = field_validator("budget_fen", mode="before")(exact_int)

    _names = field_validator("title")(text.validate_name)


class CancelInput(SQLModel):
    reason: str = Field(min_length=1, max_length=2000)


class CancelDecision(SQLModel):
    """A supervisor's answer to a pending cancellation; a refusal says why."""

    consent: bool
    reason: str = Field(default="", max_length=2000)


class BidInput(SQLModel):
    price_fen: int | None = None

    _exact = field_validator("price_fen", mode="before")(exact_int)
