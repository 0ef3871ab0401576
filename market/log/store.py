"""The append-only log in PostgreSQL: append inside the caller's transaction, read, prove,
checkpoint.

Locking. ``append`` takes a transaction-scoped advisory lock before it reads the log's
size, and keeps it until the caller's transaction ends. Appenders therefore queue: each one
reads the size only after the previous appender has committed (or rolled back), so ``seq``
is dense, with no gap and no duplicate, across any number of connections and server
processes. A rolled-back append leaves nothing, and the next appender reuses its ``seq``.
The lock is held until commit, so services append their entries last in a transaction,
after taking any row locks, which keeps lock waits short and deadlock-free. Needs READ
COMMITTED (PostgreSQL's default): each statement after the lock sees the previous commit.

Tree state. Besides each entry's bytes and leaf hash, the hash of every aligned perfect
subtree is stored (``log_subtree``, about 2n rows). Appending reads the few subtrees the
new leaf completes a parent with and writes the parents; any root or proof is a fold of
O(log n) stored hashes. Nothing ever reads the whole log except a verifier.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market import protocol
from market.core.db import log_failure
from market.core.errors import InvalidInput
from market.log.models import LogCheckpoint, LogEntry, LogSubtree
from market.log.signer import LogSigner

APPEND_LOCK = 7193000002
MAX_ENTRIES_PER_READ = 1000
RESERVED_FIELDS = frozenset({"v", "seq", "type", "ts"})
# The log is public forever. These never go in, whatever a caller passes.
PRIVATE_FIELDS = frozenset(
    {
        "email",
        "password",
        "password_hash",
        "phone",
        "contact_phone",
        "mobile",
        "legal_representative",
        "person_name",
    }
)
EMAIL_LIKE = re.compile(r"[^@\s\"]+@[^@\s\"]+\.[A-Za-z]{2,}")
TYPE_PATTERN = re.compile(r"^[a-z]+(\.[a-z_]+)+$")


class LogError(InvalidInput):
    """A caller tried to log something the log does not take (422: it is the input that
    is wrong, e.g. an e-mail address typed into a reason that will be published)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Appended:
    seq: int
    entry: bytes
    leaf_hash: bytes
    ts: str


def check_public(fields: dict[str, Any], path: str = "$") -> None:
    """Refuse personal data: private field names anywhere, and e-mail addresses in values."""
    for key, value in fields.items():
        if key in PRIVATE_FIELDS:
            raise LogError(f"{path}.{key}: personal data never goes into the public log")
        _check_value(value, f"{path}.{key}")


def _check_value(value: Any, path: str) -> None:
    if isinstance(value, dict):
        check_public(value, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{path}[{i}]")
    elif isinstance(value, str) and EMAIL_LIKE.search(value):
        raise LogError(f"{path}: looks like an e-mail address; the public log refers to people by public id")


def build_entry(
    *, seq: int, type: str, ts: datetime, fields: dict[str, Any], version: int = protocol.VERSION
) -> bytes:
    """The canonical bytes of one entry (pure): what ``market_log_append`` assembles."""
    head, middle, tail = entry_parts(type=type, fields=fields, version=version)
    return head + str(seq).encode() + middle + protocol.format_ts(ts).encode() + tail


def _level_idx(start: int, end: int) -> tuple[int, int]:
    level = (end - start).bit_length() - 1
    return level, start >> level


async def _perfect_hashes(
    session: AsyncSession, ranges: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Stored hashes of aligned perfect subtrees, one round trip."""
    wanted = {_level_idx(s, e): (s, e) for s, e in ranges}
    if not wanted:
        return {}
    keys = list(wanted)
    stmt = sa.select(col(LogSubtree.level), col(LogSubtree.idx), col(LogSubtree.hash)).where(
        sa.tuple_(col(LogSubtree.level), col(LogSubtree.idx)).in_(keys)
    )
    found = {(level, idx): bytes(h) for level, idx, h in (await session.execute(stmt)).all()}
    missing = [wanted[k] for k in keys if k not in found]
    if missing:
        raise LookupError(f"the stored tree lacks subtrees {missing[:3]}")
    return {wanted[k]: found[k] for k in keys}


def entry_parts(
    *, type: str, fields: dict[str, Any], version: int = protocol.VERSION
) -> tuple[bytes, bytes, bytes]:
    """The entry's canonical bytes around its two values known only under the lock:
    ``head + seq + middle + ts + tail`` equals ``build_entry(...)`` (pure). Keys are ASCII
    and sorted, and "seq" sorts before "ts", so the two slots always come in that order.
    ``version``: the protocol whose rules the entry follows (a notice's entries carry the
    version the notice was published under)."""
    if version not in protocol.VERSIONS:
        raise LogError(f"protocol version {version!r} is not one of {protocol.VERSIONS}")
    if not TYPE_PATTERN.match(type):
        raise LogError(f"entry type {type!r} is not of the form domain.event")
    clash = RESERVED_FIELDS & fields.keys()
    if clash:
        raise LogError(f"fields {sorted(clash)} are set by the log itself")
    check_public(fields)
    body = {**fields, "v": version, "type": type}
    protocol.canonical_json(body)  # refuses floats, non-ASCII keys, huge integers...
    parts: list[str] = []
    current = "{"
    for i, key in enumerate(sorted([*body, "seq", "ts"])):
        current += "," if i else ""
        if key == "seq":
            parts.append(current + '"seq":')
            current = ""
        elif key == "ts":
            parts.append(current + '"ts":"')
            current = '"'
        else:
            current += json.dumps(key) + ":" + protocol.canonical_json(body[key]).decode("utf-8")
    parts.append(current + "}")
    head, middle, tail = (p.encode("utf-8") for p in parts)
    return head, middle, tail


APPEND_SQL = "SELECT seq, ts, entry, leaf_hash FROM market_log_append($1, $2, $3, $4, $5)"


async def append(
    session: AsyncSession, *, type: str, fields: dict[str, Any], version: int = protocol.VERSION
) -> Appended:
    """Append one entry inside the caller's transaction; it commits or rolls back with it.

    The whole append is one call of the database function ``market_log_append`` (migration
    0002), which takes the lock, so the time the lock is held is that call plus the
    caller's commit: the round trips and Python work of a client-side append, paid while
    every other appender waits, held throughput to about 700 entries/s (see
    docs/performance.md for each step and its figure)."""
    head, middle, tail = entry_parts(type=type, fields=fields, version=version)
    notice_id = fields.get("notice_id") if isinstance(fields.get("notice_id"), str) else None
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None  # an open asyncpg connection
    if not driver.is_in_transaction():
        # SQLAlchemy begins its transaction lazily, at the first statement it sends itself.
        await connection.exec_driver_sql("SELECT 1")
    # Straight through asyncpg: SQLAlchemy's result handling would run while the lock,
    # taken inside the call, is held.
    seq, ts, entry, leaf = await driver.fetchrow(APPEND_SQL, type, notice_id, head, middle, tail)
    session.info["log_appended"] = True
    if notice_id is not None and not type.startswith("bid."):  # a bid makes no OCDS release
        session.info.setdefault("ocds_notices", set()).add(
            notice_id
        )  # kept at commit (market/ocds/models.py)
    return Appended(seq=int(seq), entry=bytes(entry), leaf_hash=bytes(leaf), ts=str(ts))


async def committed_size(session: AsyncSession) -> int:
    return int(
        (await session.execute(sa.select(sa.func.coalesce(sa.func.max(LogEntry.seq) + 1, 0)))).scalar_one()
    )


async def read_entries(session: AsyncSession, start: int, end: int) -> list[bytes]:
    stmt = (
        sa.select(col(LogEntry.entry))
        .where(col(LogEntry.seq) >= start, col(LogEntry.seq) < end)
        .order_by(col(LogEntry.seq))
    )
    return [bytes(e) for e in (await session.execute(stmt)).scalars().all()]


async def root_at(session: AsyncSession, size: int) -> bytes:
    pieces = protocol.perfect_pieces(0, size)
    hashes = await _perfect_hashes(session, pieces)
    return protocol.hash_range(0, size, lambda s, e: hashes[(s, e)])


async def _range_hashes(session: AsyncSession, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each range, from the stored perfect pieces of all of them in one query."""
    pieces = [p for s, e in ranges for p in protocol.perfect_pieces(s, e)]
    stored = await _perfect_hashes(session, pieces)
    return [protocol.hash_range(s, e, lambda a, b: stored[(a, b)]) for s, e in ranges]


async def inclusion_proof(session: AsyncSession, index: int, size: int) -> tuple[bytes, list[bytes]]:
    """(leaf hash, proof hashes) of leaf ``index`` in the tree of ``size`` leaves."""
    ranges = [(index, index + 1), *protocol.subtree_ranges_for_inclusion(index, size)]
    leaf, *proof = await _range_hashes(session, ranges)
    return leaf, proof


async def consistency_proof(session: AsyncSession, first: int, second: int) -> list[bytes]:
    return await _range_hashes(session, protocol.subtree_ranges_for_consistency(first, second))


async def latest_checkpoint(session: AsyncSession) -> LogCheckpoint | None:
    stmt = sa.select(LogCheckpoint).order_by(col(LogCheckpoint.size).desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def checkpoint_at(session: AsyncSession, size: int) -> LogCheckpoint | None:
    return await session.get(LogCheckpoint, size)


async def ensure_checkpoint(session: AsyncSession, signer: LogSigner) -> LogCheckpoint:
    """The latest checkpoint, first signing one for the committed size if none covers it.
    Several processes may race here; the primary key on size lets exactly one row in."""
    size = await committed_size(session)
    latest = await latest_checkpoint(session)
    if latest is not None and latest.size >= size:
        return latest
    root = await root_at(session, size)
    note = signer.sign_checkpoint(size, root)
    await session.execute(
        pg_insert(LogCheckpoint)
        .values(size=size, root=root, note=note, created_at=sa.func.now())
        .on_conflict_do_nothing(index_elements=["size"])
    )
    row = await checkpoint_at(session, size)
    assert row is not None
    return row


class Checkpointer:
    """Signs a checkpoint after each batch of committed appends. Requests that appended
    wake it at once; it also looks every few seconds, for appends by other processes."""

    def __init__(self, db: Any, signer: LogSigner, *, interval: float = 2.0, min_gap: float = 0.25) -> None:
        self.db = db
        self.signer = signer
        self.interval = interval
        # Under a burst every appending request nudges; one round per min_gap covers them
        # all (a round signs whatever has committed by then) and keeps the signing and its
        # statements off the requests' CPU (ops/load: 0.6 rounds per bid without it).
        self.min_gap = min_gap
        self.wake = asyncio.Event()

    def nudge(self) -> None:
        self.wake.set()

    async def run_once(self) -> None:
        async with self.db.transaction() as session:
            await ensure_checkpoint(session, self.signer)

    async def run(self) -> None:
        import logging

        log = logging.getLogger("market.log")
        loop = asyncio.get_running_loop()
        last = float("-inf")
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=self.interval)
            except TimeoutError:
                pass
            if (wait := last + self.min_gap - loop.time()) > 0:
                await asyncio.sleep(wait)
            self.wake.clear()
            last = loop.time()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except (
                Exception
            ) as exc:  # a failed round is retried on the next; the request path never depends on it
                log_failure(log, "checkpoint round failed", exc)
