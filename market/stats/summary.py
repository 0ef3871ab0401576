"""The statistics' summary (``stats_figure``, ``stats_refresh``): kept by a background task
(market/stats/scheduler.py), read by the page, the CSV files, the API and the halls' pages.

Computing the figures reads every published notice with its selection and contracts and
every approved agency: 500-660 ms of SQL for a prefecture on the seeded data set (100,000
notices), ten times that at ten times the data. The summary holds the same figures per
hall (``queries.notice_figures_select(by_hall=True)``: the hall's total and its rows by
category, prefecture and month) and the agencies' counts, a few thousand rows whatever the
number of notices; a jurisdiction's figures are the sums of its halls' rows.

A refresh, in the caller's transaction:

- takes ``pg_try_advisory_xact_lock(REFRESH_LOCK)``: with several server processes (or
  hosts) one refreshes, the others find the lock taken and skip their turn; it never
  appends to the log, so never takes the log's lock;
- computes everything anew (``full``) when asked, when the summary was never computed,
  when its last full computation was on another China day (a daily pass catches whatever
  no log entry announced), when the log is shorter than the summary remembers (a restored
  database) or more than ``FULL_AFTER`` entries longer;
- otherwise recomputes only the halls of the notices named by the log entries since the
  last refresh (bids excepted: by far the most entries, and no figure counts them), and
  the agencies' rows when an ``agency.*`` entry is among them; nothing when the log has not
  moved. Every figure changes with a logged event (a publication, a selection, a contract's
  signing, completion or stop; an agency's approval or suspension), and each such entry
  names its notice, whose hall never changes once published;
- writes those rows that differ from what the summary holds (most refreshes write few or
  none), and the state row (``as_of``: the refresh's start, so every change committed before the
  stated time is counted), in that one transaction: a reader sees the old summary or the new one,
  never half of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.core.clock import CHINA
from market.log.models import LogEntry
from market.notices.models import Notice
from market.stats import queries
from market.stats.models import AGENCIES, StatsFigure, StatsRefresh

# pg_try_advisory_xact_lock(REFRESH_LOCK): one refresh at a time across server processes.
# The migrations lock 7193000001, the log's append 7193000002 (one-key advisory locks).
REFRESH_LOCK = 7193000024
FIGURES: sa.Table = StatsFigure.__table__  # type: ignore[attr-defined]
# Beyond this many new log entries, computing everything costs less than finding the halls.
FULL_AFTER = 200_000
NOT_COUNTED = "bid%"  # bid.accepted, bid.withdrawn, bid.sealed, bids.opened: no figure counts them
AGENCY_ENTRIES = "agency.%"


@dataclass(frozen=True)
class Refreshed:
    """What one refresh did: everything (``full``), or ``halls`` halls' rows and the
    agencies' (``agencies``); the log head it covers and the time it is as of."""

    full: bool
    halls: int
    agencies: bool
    log_seq: int
    as_of: datetime
    rows: int = 0  # rows written or removed


async def log_head(session: AsyncSession) -> int:
    return int(
        (await session.execute(sa.select(sa.func.coalesce(sa.func.max(col(LogEntry.seq)), 0)))).scalar_one()
    )


async def changes(session: AsyncSession, *, after: int, upto: int) -> tuple[list[str], bool]:
    """The halls of the notices named by the entries ``after`` < seq <= ``upto`` other than
    bids, and whether an agency's entry is among them. A range of the log's primary key:
    its cost is the entries since the last refresh, not the size of the log."""
    in_range = sa.and_(col(LogEntry.seq) > after, col(LogEntry.seq) <= upto)
    halls = (
        sa.select(col(Notice.hall))
        .select_from(LogEntry)
        .join(Notice, col(Notice.public_id) == col(LogEntry.notice_id))
        .where(in_range, col(LogEntry.notice_id).is_not(None), col(LogEntry.type).not_like(NOT_COUNTED))
        .where(col(Notice.hall).is_not(None))
        .distinct()
    )
    agencies = sa.select(sa.exists().where(in_range, col(LogEntry.type).like(AGENCY_ENTRIES)))
    found = sorted(h for h in (await session.execute(halls)).scalars() if h)
    return found, bool((await session.execute(agencies)).scalar_one())


KEY = ("hall", "kind", "key")
MEASURES = ("agencies", *queries.NOTICE_MEASURES)
BATCH = 1_000  # rows per statement when rows are written or removed (4,000 or 11,000 parameters)


async def _replace(session: AsyncSession, fresh: sa.Select[Any], where: sa.ColumnElement[bool]) -> int:
    """Make the rows matching ``where`` those of ``fresh`` (columns hall, kind, key and any
    of MEASURES, the others 0), writing only the rows that differ: a refresh that finds the
    same figures writes nothing, and the table every page reads does not fill with dead rows
    (rewriting all of it each time left 2,015 pages for 6,951 rows). How many rows changed."""
    f = FIGURES
    new: dict[tuple[str, str, str], tuple[int, ...]] = {}
    for r in (await session.execute(fresh)).mappings():
        new[(r["hall"], r["kind"], r["key"])] = tuple(int(r.get(m) or 0) for m in MEASURES)
    old = {
        (r.hall, r.kind, r.key): tuple(int(getattr(r, m)) for m in MEASURES)
        for r in await session.execute(sa.select(*[f.c[c] for c in (*KEY, *MEASURES)]).where(where))
    }
    changed = [dict(zip((*KEY, *MEASURES), (*k, *v), strict=True)) for k, v in new.items() if old.get(k) != v]
    gone = [k for k in old if k not in new]
    for i in range(0, len(changed), BATCH):
        stmt = insert(f).values(changed[i : i + BATCH])
        await session.execute(
            stmt.on_conflict_do_update(index_elements=list(KEY), set_={m: stmt.excluded[m] for m in MEASURES})
        )
    for i in range(0, len(gone), BATCH):
        await session.execute(
            sa.delete(f).where(sa.tuple_(f.c.hall, f.c.kind, f.c.key).in_(gone[i : i + BATCH]))
        )
    return len(changed) + len(gone)


async def _write_notices(session: AsyncSession, halls: list[str] | None) -> int:
    """The notice rows of ``halls`` (None: every hall's) made the records' figures."""
    f = FIGURES
    where = f.c.hall != AGENCIES
    if halls is not None:
        where = sa.and_(where, f.c.hall == sa.any_(sa.literal(halls, type_=sa.ARRAY(sa.String))))
    return await _replace(session, queries.notice_figures_select(halls, by_hall=True), where)


async def _write_agencies(session: AsyncSession) -> int:
    counts = queries.agency_counts_select().subquery("a")
    fresh = sa.select(
        sa.literal(AGENCIES, sa.String).label("hall"), counts.c.kind, counts.c.key, counts.c.agencies
    )
    return await _replace(session, fresh, FIGURES.c.hall == AGENCIES)


async def refresh(session: AsyncSession, *, now: datetime, full: bool = False) -> Refreshed | None:
    """Bring the summary up to the log's head in the caller's transaction (the module's
    docstring says how); None when another process is refreshing it. The caller commits."""
    locked = (await session.execute(sa.select(sa.func.pg_try_advisory_xact_lock(REFRESH_LOCK)))).scalar_one()
    if not locked:
        return None
    # JIT compiling the grouping-sets statement costs more than it saves at these sizes
    # (137 ms of 325 for seven halls' 10,233 notices on the seeded data set).
    await session.execute(sa.text("SET LOCAL jit = off"))
    state = (await session.execute(sa.select(col(StatsRefresh.log_seq), col(StatsRefresh.full_at)))).first()
    head = await log_head(session)
    everything = (
        full
        or state is None
        or state.full_at.astimezone(CHINA).date() != now.astimezone(CHINA).date()
        or head < state.log_seq
        or head - state.log_seq > FULL_AFTER
    )
    if everything:
        rows = await _write_notices(session, None) + await _write_agencies(session)
        done = Refreshed(full=True, halls=0, agencies=True, log_seq=head, as_of=now, rows=rows)
    else:
        assert state is not None  # for mypy: ``everything`` otherwise
        halls, agencies = (
            await changes(session, after=state.log_seq, upto=head) if head > state.log_seq else ([], False)
        )
        rows = await _write_notices(session, halls) if halls else 0
        if agencies:
            rows += await _write_agencies(session)
        done = Refreshed(full=False, halls=len(halls), agencies=agencies, log_seq=head, as_of=now, rows=rows)
    values = {"id": 1, "as_of": now, "log_seq": head}
    stmt = insert(StatsRefresh).values(**values, full_at=now)
    keep = {"as_of": stmt.excluded.as_of, "log_seq": stmt.excluded.log_seq}
    if everything:
        keep["full_at"] = stmt.excluded.full_at
    await session.execute(stmt.on_conflict_do_update(index_elements=[col(StatsRefresh.id)], set_=keep))
    return done
