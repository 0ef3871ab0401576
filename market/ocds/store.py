"""Keeping every OCDS release and serving them back (market/ocds/models.py says why)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from market.core.clock import utcnow
from market.notices.models import Notice
from market.ocds import mapping
from market.ocds.models import OcdsRelease

logger = logging.getLogger(__name__)
PREFIX_TOKEN = "⟦ocid⟧"  # the ocid prefix, filled in when served (MARKET_OCID_PREFIX)
BASE_TOKEN = "⟦base⟧"  # the public URL, filled in when served (MARKET_PUBLIC_URL)
# How long the commit hook waits for a release row another transaction holds before it
# gives up (keep_changed): far above an insert's usual wait, far below a bidder's patience.
LOCK_TIMEOUT = "500ms"
# lock_not_available (lock_timeout), deadlock_detected: the hook then gives up, not the change.
GAVE_UP = frozenset({"55P03", "40P01"})


def rows(processes: Sequence[mapping.Process]) -> list[dict[str, Any]]:
    """The rows of the processes' current releases, in the stored (token) form."""
    out = []
    now = utcnow()
    for p in processes:
        for r in mapping.releases(p, prefix=PREFIX_TOKEN, base_url=BASE_TOKEN):
            key = r["id"][len(PREFIX_TOKEN) :]
            stage, seq = key[len(p.notice.public_id) + 1 :].rsplit("-", 1)
            out.append(
                {
                    "key": key,
                    "notice_id": p.notice.id,
                    "stage": stage,
                    "seq": int(seq),
                    "date": datetime.fromisoformat(r["date"]),
                    "body": json.dumps(r, ensure_ascii=False, separators=(",", ":")),
                    "kept_at": now,
                }
            )
    return out


def by_key(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in key order, the order every writer inserts in: two transactions inserting
    overlapping releases then wait on each other in one direction, never in a cycle."""
    return sorted(found, key=lambda r: str(r["key"]))


async def insert(session: AsyncSession, found: Sequence[dict[str, Any]]) -> int:
    """Insert the rows not stored yet (an id is never stored twice: the same id always has
    the same content); how many were. Callers commit at once after it, or bound its waits
    (keep_changed)."""
    done = 0
    for start in range(0, len(found), 500):  # PostgreSQL's bound parameters are counted
        stmt = pg_insert(OcdsRelease).values(list(found[start : start + 500]))
        result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        done += int(getattr(result, "rowcount", 0) or 0)
    return done


async def stored_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of these release keys are stored."""
    if not keys:
        return set()
    stmt = sa.select(col(OcdsRelease.key)).where(col(OcdsRelease.key).in_(list(keys)))
    return set((await session.execute(stmt)).scalars().all())


async def keep_changed(session: AsyncSession) -> None:
    """Before the commit: the releases of every notice the transaction wrote a log entry
    for (market/log/store.append notes them), so each change keeps its own release.

    This runs while the log's lock is held (until the commit), so it must never wait long
    on another transaction: were it to wait on a release row someone else inserted and has
    not committed, every log append on the site (bids too) would wait with it. The insert
    runs in a savepoint with a short lock_timeout; when it cannot have its rows in time,
    the savepoint is rolled back, the user's change commits without its release rows and
    they are kept when first served (docs/ocds.md, "Releases kept forever")."""
    changed = session.info.pop("ocds_notices", None)
    if not changed:
        return
    from market.ocds import service  # service reads through this module

    notices = (
        (
            await session.execute(
                select(Notice).where(
                    col(Notice.public_id).in_(sorted(changed)),
                    col(Notice.status).in_(service.PUBLISHED),
                    col(Notice.published_at).is_not(None),
                )
            )
        )
        .scalars()
        .all()
    )
    if not notices:
        return
    try:
        found = by_key(rows(await service.processes(session, list(notices))))
    except sa_exc.DBAPIError:
        raise  # the transaction is aborted anyway: the change fails with it
    except Exception:
        # A release that cannot be built must not undo the marketplace's change; it is
        # kept when first served instead, and the log has the history.
        logger.exception("ocds: releases of %s not kept at commit", sorted(changed))
        return
    # A savepoint of the connection, not of the ORM session: rolling it back leaves the
    # session's objects, which the handler still answers with, as they are.
    connection = await session.connection()
    savepoint = await connection.begin_nested()
    try:
        # SET LOCAL lasts until the transaction ends unless its savepoint is rolled back:
        # the value before is read and put back after.
        before = (await connection.execute(sa.text("SELECT current_setting('lock_timeout')"))).scalar_one()
        await connection.execute(sa.text("SELECT set_config('lock_timeout', :t, true)"), {"t": LOCK_TIMEOUT})
        await insert(session, found)
        await connection.execute(sa.text("SELECT set_config('lock_timeout', :t, true)"), {"t": before})
    except sa_exc.DBAPIError as exc:
        if _sqlstate(exc) not in GAVE_UP:
            raise
        await savepoint.rollback()
        logger.warning(
            "ocds: releases of %s not kept at commit: another transaction holds them (%s); "
            "they are kept when first served",
            sorted(changed),
            _sqlstate(exc),
        )
        return
    await savepoint.commit()


def _sqlstate(exc: sa_exc.DBAPIError) -> str | None:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return str(code) if code is not None else None


async def kept(session: AsyncSession, notice_ids: Sequence[int]) -> dict[int, list[tuple[str, int, str]]]:
    """Every stored release of these notices, oldest first (by the seq that made it): its
    key, seq and body."""
    stmt = (
        sa.select(
            col(OcdsRelease.notice_id), col(OcdsRelease.key), col(OcdsRelease.seq), col(OcdsRelease.body)
        )
        .where(col(OcdsRelease.notice_id).in_(list(notice_ids)))
        .order_by(col(OcdsRelease.notice_id), col(OcdsRelease.seq), col(OcdsRelease.key))
    )
    out: dict[int, list[tuple[str, int, str]]] = {}
    for notice_id, key, seq, body in (await session.execute(stmt)).all():
        out.setdefault(int(notice_id), []).append((key, int(seq), body))
    return out


def fill(body: str, *, prefix: str, base_url: str) -> dict[str, Any]:
    """A stored release as served: the deployment's ocid prefix and public URL put in."""
    prefix_json = json.dumps(prefix)[1:-1]
    base_json = json.dumps(base_url)[1:-1]
    filled: dict[str, Any] = json.loads(
        body.replace(PREFIX_TOKEN, prefix_json).replace(BASE_TOKEN, base_json)
    )
    return filled
