"""Read-only queries behind the public log pages: list, filter and look up entries.

The log's own reads and proofs (``store.py``) stay the single path for anything a
verifier depends on; these only find rows to show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.log.models import LogCheckpoint, LogEntry

# seq is a PostgreSQL bigint: a larger number from a URL or cursor matches no row, and
# must not reach the driver (which refuses it with an overflow error).
MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class EntryRow:
    seq: int
    type: str
    ts: str
    notice_id: str | None


def ts_of(entry: bytes) -> str:
    """The ``ts`` an entry was written with (UTC, as written), or "" if it has none."""
    try:
        value = json.loads(entry).get("ts")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


# Each type's first index entry, then a jump past it, a step per type (a "loose index
# scan" over ix_log_entry_type_seq): some 17 descents of the index whatever the log's
# size, where SELECT DISTINCT read every entry of it (0.35 s at 1,000,000 entries). A
# table of types kept by the append would cost every append a statement under the lock.
ENTRY_TYPES = sa.text(
    """
    WITH RECURSIVE found(type) AS (
        (SELECT type FROM log_entry ORDER BY type LIMIT 1)
        UNION ALL
        SELECT (SELECT e.type FROM log_entry e WHERE e.type > found.type ORDER BY e.type LIMIT 1)
        FROM found WHERE found.type IS NOT NULL
    )
    SELECT type FROM found WHERE type IS NOT NULL
    """
)


async def entry_types(session: AsyncSession) -> list[str]:
    """Every entry type present in the log, alphabetically (for the filter)."""
    return [str(t) for t in (await session.execute(ENTRY_TYPES)).scalars().all()]


async def list_entries(
    session: AsyncSession, *, type: str | None, notice_id: str | None, before: int | None, limit: int
) -> tuple[list[EntryRow], int | None]:
    """Entries newest first, optionally of one type and one notice, with seq below
    ``before``; and the seq to continue below when more remain (else None).

    The page's seqs first, from the index of the filter alone (type, seq) or (notice_id,
    seq) without touching the table, then those rows by key. Asked for rows, the planner
    prefers walking the primary key and filtering by type when the type is common in the
    statistics, and a type common in the log but absent from its newest part (agency
    approvals after an import) then discards hundreds of thousands of rows."""
    page = sa.select(col(LogEntry.seq))
    if type:
        page = page.where(col(LogEntry.type) == type)
    if notice_id:
        page = page.where(col(LogEntry.notice_id) == notice_id)
    if before is not None:
        page = page.where(col(LogEntry.seq) < max(0, min(before, MAX_SEQ)))
    page = page.order_by(col(LogEntry.seq).desc()).limit(limit + 1)
    stmt = (
        sa.select(col(LogEntry.seq), col(LogEntry.type), col(LogEntry.notice_id), col(LogEntry.entry))
        .where(col(LogEntry.seq).in_(page.scalar_subquery()))
        .order_by(col(LogEntry.seq).desc())
    )
    found = (await session.execute(stmt)).all()
    rows = [
        EntryRow(seq=seq, type=kind, ts=ts_of(bytes(entry)), notice_id=nid)
        for seq, kind, nid, entry in found[:limit]
    ]
    more = rows[-1].seq if len(found) > limit and rows else None
    return rows, more


async def get_entry(session: AsyncSession, seq: int) -> sa.Row[Any] | None:
    """One entry's row (seq, type, notice_id, entry, leaf_hash), or None."""
    if not 0 <= seq <= MAX_SEQ:
        return None
    stmt = sa.select(
        col(LogEntry.seq),
        col(LogEntry.type),
        col(LogEntry.notice_id),
        col(LogEntry.entry),
        col(LogEntry.leaf_hash),
    ).where(col(LogEntry.seq) == seq)
    return (await session.execute(stmt)).one_or_none()


async def recent_checkpoints(session: AsyncSession, limit: int) -> list[LogCheckpoint]:
    """The latest ``limit`` stored checkpoints, newest first."""
    result = await session.execute(
        sa.select(LogCheckpoint).order_by(col(LogCheckpoint.size).desc()).limit(limit)
    )
    return list(result.scalars())
