"""The log's tables. Every one of them is insert-only (triggers refuse UPDATE, DELETE and
TRUNCATE): the entries, the agencies each names, the hashes of the tree's perfect subtrees,
and every checkpoint."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core.clock import utcnow
from market.core.db import timestamp_column


class LogEntry(SQLModel, table=True):
    __tablename__ = "log_entry"
    __table_args__ = (
        sa.Index("ix_log_entry_type_seq", "type", "seq"),
        sa.Index(
            "ix_log_entry_notice_seq", "notice_id", "seq", postgresql_where=sa.text("notice_id IS NOT NULL")
        ),
        # The draw page's timeline (market/selection/queries.TIMELINE): a notice's entries
        # without its bids, read newest first without stepping over the bids one by one.
        # The predicate is the query's NOT_A_BID word for word (migration 0013).
        sa.Index(
            "ix_log_entry_notice_story",
            "notice_id",
            "seq",
            postgresql_where=sa.text(
                "notice_id IS NOT NULL AND type NOT IN ('bid.accepted', 'bid.withdrawn', 'bid.sealed')"
            ),
        ),
    )

    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    notice_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    entry: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))  # the exact canonical bytes
    leaf_hash: bytes = Field(sa_column=sa.Column(sa.LargeBinary(32), nullable=False))


class LogEntryAgency(SQLModel, table=True):
    """Every agency an entry names (agency id, seq): an agency's history read by its key,
    newest first, instead of searching every entry (the supervision console). Written by
    ``market_log_append`` in the same call as the entry, from the entry's own bytes, with
    the rule of the console's JSON path (migration 0013, ``market_log_named_agencies``);
    insert-only like the entries."""

    __tablename__ = "log_entry_agency"

    agency_id: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))


class LogSubtree(SQLModel, table=True):
    """The hash of the aligned perfect subtree covering leaves [idx·2^level, (idx+1)·2^level).
    Every proof and every historical root is a fold of O(log n) of these."""

    __tablename__ = "log_subtree"

    level: int = Field(sa_column=sa.Column(sa.SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=sa.Column(sa.LargeBinary(32), nullable=False))


class LogCheckpoint(SQLModel, table=True):
    __tablename__ = "log_checkpoint"

    size: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=sa.Column(sa.LargeBinary(32), nullable=False))
    note: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # the signed note, exactly as served
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class LogCosigner(SQLModel, table=True):
    """A supervisor's witness key (C2SP tlog-cosignature v1, Ed25519): co-signatures by it
    are accepted and served after the operator's signature."""

    __tablename__ = "log_cosigner"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=False, index=True)
    )
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    public_key: bytes = Field(sa_column=sa.Column(sa.LargeBinary(32), nullable=False))
    key_id: bytes = Field(sa_column=sa.Column(sa.LargeBinary(4), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class LogCosignature(SQLModel, table=True):
    """One cosigner's signature over the stored checkpoint of ``size`` entries."""

    __tablename__ = "log_cosignature"
    __table_args__ = (sa.UniqueConstraint("size", "cosigner_id"),)

    id: int | None = Field(default=None, primary_key=True)
    # The checkpoint's size. Not a foreign key: log_checkpoint is insert-only (its triggers
    # refuse UPDATE, DELETE and TRUNCATE), so its rows never go away, and a foreign key
    # would make PostgreSQL refuse a TRUNCATE before the append-only trigger can say why.
    # Only sizes of stored checkpoints are inserted (market.log.service.add_cosignature).
    size: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    cosigner_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("log_cosigner.id"), nullable=False, index=True)
    )
    timestamp: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    signature: bytes = Field(sa_column=sa.Column(sa.LargeBinary(64), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
