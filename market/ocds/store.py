"""Keeping every OCDS release and serving them back (market/ocds/models.py says why)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from market.core.clock import utcnow
from market.notices.models import Notice
from market.ocds import mapping
from market.ocds.models import OcdsRelease

logger = logging.getLogger(__name__)
PREFIX_TOKEN = "⟦ocid⟧"  # the ocid prefix, filled in when served (MARKET_OCID_PREFIX)
BASE_TOKEN = "⟦base⟧"  # the public URL, filled in when served (MARKET_PUBLIC_URL)


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


async def keep(session: AsyncSession, processes: Sequence[mapping.Process]) -> None:
    """Store the processes' current releases not stored yet (an id is never stored twice:
    the same id always has the same content)."""
    found = rows(processes)
    for start in range(0, len(found), 500):  # PostgreSQL's bound parameters are counted
        stmt = insert(OcdsRelease).values(found[start : start + 500])
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))


async def keep_changed(session: AsyncSession) -> None:
    """Before the commit: the releases of every notice the transaction wrote a log entry
    for (market/log/store.append notes them), so each change keeps its own release."""
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
        found = await service.processes(session, list(notices))
        await keep(session, found)
    except sa_exc.DBAPIError:
        raise  # the transaction is aborted anyway: the change fails with it
    except Exception:
        # A release that cannot be built must not undo the marketplace's change; it is
        # kept when first served instead, and the log has the history.
        logger.exception("ocds: releases of %s not kept at commit", sorted(changed))


async def kept(session: AsyncSession, notice_ids: Sequence[int]) -> dict[int, list[str]]:
    """Every stored release body of these notices, oldest first (by the seq that made it)."""
    stmt = (
        sa.select(col(OcdsRelease.notice_id), col(OcdsRelease.body))
        .where(col(OcdsRelease.notice_id).in_(list(notice_ids)))
        .order_by(col(OcdsRelease.notice_id), col(OcdsRelease.seq), col(OcdsRelease.key))
    )
    out: dict[int, list[str]] = {}
    for notice_id, body in (await session.execute(stmt)).all():
        out.setdefault(int(notice_id), []).append(body)
    return out


def fill(body: str, *, prefix: str, base_url: str) -> dict[str, Any]:
    """A stored release as served: the deployment's ocid prefix and public URL put in."""
    prefix_json = json.dumps(prefix)[1:-1]
    base_json = json.dumps(base_url)[1:-1]
    filled: dict[str, Any] = json.loads(
        body.replace(PREFIX_TOKEN, prefix_json).replace(BASE_TOKEN, base_json)
    )
    return filled
