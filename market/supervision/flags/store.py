"""The red flags as last computed, per hall's view: written in the background, read a page
at a time.

Computing every flag is reading every award, bid, amendment and contract of a view
(``service.all_flags``): 15 s for the province on the seeded data set (100,000 notices),
and ten times that at ten times the data. A page cannot pay that per request, so the task
that already computed the flags to alert them (``alerting.FlagAlertTask``) keeps what it
computed: ``refresh`` replaces a view's rows in ``red_flag`` (each flag at its position
in the view's order, ``rules.sort_flags``) and its ``flag_view`` row (when, for which day,
at which log head, under which thresholds, how many of each kind and severity), in one
transaction, so a reader sees the old set or the new one, never half of each. One
computation serves both: the task alerts the flags the refresh returns.

The pages and the API read ``flag_view`` (one row: the totals and the time, shown as "as
of ...") and a page of ``red_flag`` by an index range (``hall``, ``position``; with a kind
or a severity, ``ix_red_flag_kind`` / ``ix_red_flag_severity``). A request never computes a
view: one never computed, or computed under other thresholds, reads as not computed yet
(``read_page`` answers None) until the task or ``market flags refresh`` computes it. The
province's view took about 100 s at ten times the seeded data, beyond a request's statement
timeout: the first page asking for it answered 504, and held a connection that long.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.core.clock import utcnow
from market.core.config import Settings
from market.core.sql import json_column, like_pattern
from market.log.models import LogEntry
from market.supervision.flags import rules as F
from market.supervision.flags import service
from market.supervision.models import FlagView, RedFlag

PAGE = 50  # flags per page (the page and the API)
INSERT_BATCH = 2_000  # rows per INSERT statement when a view is written
# pg_advisory_xact_lock(REFRESH_LOCK, hashtext(hall)): one refresh of a view at a time,
# across server processes (each runs the task); log.store's append lock is 7193000002.
REFRESH_LOCK = 719300


def settings_key(settings: Settings) -> str:
    """What the flags depend on besides the records: every threshold (``flag_*``) and the
    days to sign a contract. A view computed under other values is computed again."""
    values = {name: getattr(settings, name) for name in sorted(vars(settings)) if name.startswith("flag_")}
    values["contract_days"] = settings.contract_days
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


async def log_head(session: AsyncSession) -> int:
    return int(
        (await session.execute(sa.select(sa.func.coalesce(sa.func.max(col(LogEntry.seq)), 0)))).scalar_one()
    )


def counts_of(flags: list[F.Flag]) -> dict[str, dict[str, int]]:
    """{kind: {severity: n}} over ``flags``, every kind present (0 when none)."""
    out: dict[str, dict[str, int]] = {kind: {} for kind in F.KINDS}
    for f in flags:
        by = out.setdefault(f.kind, {})
        by[f.severity] = by.get(f.severity, 0) + 1
    return out


def _body(flag: F.Flag) -> dict[str, Any]:
    return {
        "numbers": flag.numbers,
        "evidence": [[e.type, e.ref] for e in flag.evidence],
        "params": flag.params,
    }


def flag_of(row: RedFlag) -> F.Flag:
    """The flag a stored row holds, equal to the one computed (tests hold it so)."""
    body = json_column(row.body)
    return F.Flag(
        kind=row.kind,
        subject=row.subject,
        subject_name=row.subject_name,
        severity=row.severity,
        numbers=body["numbers"],
        evidence=tuple(F.Evidence(kind, ref) for kind, ref in body["evidence"]),
        params=body["params"],
    )


async def lock(session: AsyncSession, hall: str) -> None:
    """Wait until no other transaction refreshes ``hall``'s view; held until this one ends
    (taking it again in the same transaction is free)."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(REFRESH_LOCK, sa.func.hashtext(hall))))


async def refresh(
    session: AsyncSession,
    settings: Settings,
    today: date,
    *,
    hall: str,
    log_seq: int | None = None,
    alerted: bool = False,
) -> list[F.Flag]:
    """Compute ``hall``'s view now and keep it (replacing what was kept); the flags, most
    severe first. ``log_seq``: the log head the computation starts from (read here when
    None), so that an entry appended meanwhile makes the view stale, not lost. ``alerted``:
    the caller alerts these flags in this transaction (the task does; ``market flags
    refresh`` does not, and the task alerts them at its next look)."""
    await lock(session, hall)
    head = await log_head(session) if log_seq is None else log_seq
    flags = await service.all_flags(session, settings, today, hall=hall)
    values = {
        "computed_at": utcnow(),
        "day": today,
        "log_seq": head,
        "settings_key": settings_key(settings),
        "alerted": alerted,
        "counts": counts_of(flags),
    }
    await session.execute(
        insert(FlagView)
        .values(hall=hall, **values)
        .on_conflict_do_update(index_elements=[col(FlagView.hall)], set_=values)
    )
    await session.execute(sa.delete(RedFlag).where(col(RedFlag.hall) == hall))
    rows = [
        {
            "hall": hall,
            "position": position,
            "kind": f.kind,
            "severity": f.severity,
            "subject": f.subject,
            "subject_name": f.subject_name,
            "body": _body(f),
        }
        for position, f in enumerate(flags)
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        await session.execute(sa.insert(RedFlag), rows[start : start + INSERT_BATCH])
    return flags


async def view_of(session: AsyncSession, hall: str) -> FlagView | None:
    return (await session.execute(sa.select(FlagView).where(col(FlagView.hall) == hall))).scalar_one_or_none()


def is_fresh(view: FlagView | None, settings: Settings, *, head: int, today: date) -> bool:
    """Whether ``view`` already says, and has alerted, what a computation now would:
    computed and alerted for today, under these thresholds, with no log entry since."""
    return (
        view is not None
        and view.alerted
        and view.day == today
        and view.settings_key == settings_key(settings)
        and view.log_seq >= head
    )


@dataclass(frozen=True)
class Filters:
    kind: str = ""
    severity: str = ""
    q: str = ""


@dataclass
class Page:
    """A page of a view's flags and what the page says around them."""

    computed_at: datetime
    log_seq: int
    total: int
    by_kind: dict[str, int]
    matching: int  # the flags the filters keep, over every page
    flags: list[F.Flag]
    next_after: int | None  # the position the next page starts after (None: the last page)


def _filtered(stmt: sa.Select[Any], hall: str, filters: Filters) -> sa.Select[Any]:
    stmt = stmt.where(col(RedFlag.hall) == hall)
    if filters.kind:
        stmt = stmt.where(col(RedFlag.kind) == filters.kind)
    if filters.severity:
        stmt = stmt.where(col(RedFlag.severity) == filters.severity)
    if filters.q:
        pattern = like_pattern(filters.q)
        stmt = stmt.where(
            sa.or_(
                col(RedFlag.subject).ilike(pattern, escape="\\"),
                col(RedFlag.subject_name).ilike(pattern, escape="\\"),
            )
        )
    return stmt


async def read_page(
    session: AsyncSession,
    settings: Settings,
    *,
    hall: str,
    filters: Filters,
    after: int | None = None,
    limit: int | None = None,
) -> Page | None:
    """A page of ``hall``'s flags as last computed, those ``filters`` keep, after position
    ``after``; None when the view has not been computed (under these thresholds) yet."""
    limit = limit or PAGE
    view = await view_of(session, hall)
    if view is None or view.settings_key != settings_key(settings):
        return None
    counts: dict[str, dict[str, int]] = json_column(view.counts)
    by_kind = {kind: sum(counts.get(kind, {}).values()) for kind in F.KINDS}
    if filters.q:
        matching = int(
            (
                await session.execute(
                    _filtered(sa.select(sa.func.count()).select_from(RedFlag), hall, filters)
                )
            ).scalar_one()
        )
    else:
        matching = sum(
            n
            for kind, by in counts.items()
            if not filters.kind or kind == filters.kind
            for severity, n in by.items()
            if not filters.severity or severity == filters.severity
        )
    stmt = _filtered(sa.select(RedFlag), hall, filters).order_by(col(RedFlag.position)).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(col(RedFlag.position) > after)
    rows = list((await session.execute(stmt)).scalars().all())
    return Page(
        computed_at=view.computed_at,
        log_seq=view.log_seq,
        total=sum(by_kind.values()),
        by_kind=by_kind,
        matching=matching,
        flags=[flag_of(r) for r in rows[:limit]],
        next_after=rows[limit - 1].position if len(rows) > limit else None,
    )
