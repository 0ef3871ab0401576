"""Storing an uploaded file in the database and reading it back, chunk by chunk.

A file is stored in the transaction of the row that names it (the agency document, the
deliverable): if that transaction rolls back, so does the file, and nothing is left behind
to clean up. Files are content-addressed, so storing bytes that are already there adds
nothing; two uploads of the same new file at once meet at the primary key and the second
waits for the first, then adds nothing either (or stores it, if the first rolled back).

Reading is done outside any transaction: the handler checks who may see the file and
looks up its size in the request's transaction, which ends before the response starts;
then each chunk is one SELECT of its own on a pooled connection given back at once. A
slow client holding a 10 MB download open holds no transaction, no snapshot and no
connection, only its place in the list of chunks (files are never changed, so reading
them in pieces without a snapshot still gives the same bytes).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.core.clock import utcnow
from market.core.db import Database
from market.files.models import StoredFile, StoredFileChunk

# 256 KiB: large enough that a 10 MB file is 40 rows, small enough that one chunk is one
# cheap round trip and never a large value held in memory at once. The value is written
# into each file's row (``chunks``), so changing it later leaves stored files readable.
CHUNK_BYTES = 256 * 1024

_CHUNK = "SELECT data FROM stored_file_chunk WHERE sha256 = $1 AND n = $2"


def chunk_count(size: int) -> int:
    return max(1, -(-size // CHUNK_BYTES))


async def store(session: AsyncSession, *, content: bytes, content_type: str) -> str:
    """Store ``content`` (already checked by the caller) unless the same bytes are stored;
    returns its SHA-256 (hex). Commits or rolls back with ``session``'s transaction."""
    digest = hashlib.sha256(content).hexdigest()
    count = chunk_count(len(content))
    statement: Any = (
        insert(StoredFile)
        .values(
            sha256=digest, content_type=content_type, size=len(content), chunks=count, created_at=utcnow()
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
        .returning(sa.column("sha256"))
    )
    if (await session.execute(statement)).first() is not None:
        await session.execute(
            sa.insert(StoredFileChunk),
            [
                {"sha256": digest, "n": n, "data": content[n * CHUNK_BYTES : (n + 1) * CHUNK_BYTES]}
                for n in range(count)
            ],
        )
    return digest


async def find(session: AsyncSession, sha256: str) -> StoredFile | None:
    """The stored file's size, type and chunk count; None when it is not in the database
    (a file of an older version not imported yet, see market/files/legacy.py)."""
    return await session.get(StoredFile, sha256)


async def chunks(db: Database, stored: StoredFile) -> AsyncIterator[bytes]:
    """The file's bytes in order, each chunk read by a query of its own outside any
    transaction (the module's docstring says why)."""
    for n in range(stored.chunks):
        async with db.single_statement() as connection:
            data = await connection.fetchval(_CHUNK, stored.sha256, n)
        if data is None:  # chunks are written with their file and never deleted alone
            raise LookupError(f"chunk {n} of stored file {stored.sha256} is missing")
        yield bytes(data)


async def read(session: AsyncSession, sha256: str) -> bytes | None:
    """The whole file in one piece, or None: for checks and tools, not for downloads."""
    rows = await session.execute(
        sa.select(col(StoredFileChunk.data))
        .where(col(StoredFileChunk.sha256) == sha256)
        .order_by(col(StoredFileChunk.n))
    )
    parts = list(rows.scalars())
    return b"".join(parts) if parts else None
