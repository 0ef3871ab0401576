"""A stored file and its chunks.

``stored_file`` says what the bytes are (the type they were recognised as, their size, how
many chunks); ``stored_file_chunk`` holds them, CHUNK_BYTES at a time, so that a 10 MB file
is never one value to build in memory or send in one piece, and a download reads one
chunk per short query. A file is never changed once written: the same SHA-256 is the same
bytes, so storing it again is a no-op."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core.clock import utcnow
from market.core.db import timestamp_column


class StoredFile(SQLModel, table=True):
    __tablename__ = "stored_file"

    sha256: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    content_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    size: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    chunks: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class StoredFileChunk(SQLModel, table=True):
    __tablename__ = "stored_file_chunk"

    sha256: str = Field(
        sa_column=sa.Column(
            sa.String(64), sa.ForeignKey("stored_file.sha256", ondelete="CASCADE"), primary_key=True
        )
    )
    n: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
