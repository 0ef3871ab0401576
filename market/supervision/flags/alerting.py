"""The red flags computed in the background: each view's flags kept for the pages
(``store.refresh``) and the new ones alerted to the supervisors whose view they appear in,
once; one computation for both.

The first alerted computation of a view is its baseline: the flags it finds are kept and
remembered as alerted, and instead of one message per flag each supervisor who would have
been alerted gets one message saying how many it found (``alerts.RED_FLAGS_FOUND``), with a
link to the list. On a bulk-loaded or upgraded database every existing flag is new to the
task: one message each was about 95,000 messages at the seeded size. The computations after
it alert each new flag as it appears.

Each hall is a view: the province sees the flags computed province-wide, a prefecture,
county or park those computed over its own notices (``service.all_flags(hall=...)``). Every
view looked at is computed and kept, watched or not (a supervisor of the province may look
at any hall's). A flag not seen before in a watched view is remembered in ``flag_alert``
(hall, kind, key) and alerted to that hall's supervisors, or those of the nearest hall
above with any (``supervision.alerts``), in the same transaction: the insert is ``ON
CONFLICT DO NOTHING``, so two server processes running the task at once alert a flag once,
and the second skips a view the first has just refreshed (``store.is_fresh``).

Cheap on large data: the task runs every few minutes (not every second), and looks again
only at the views where something happened since its last run (the halls of the notices
named by the log entries after the last seq it saw, a range of the log's primary key, and
the halls above them); every view once a day (a contract becomes late with no entry at
all). A jurisdiction's view reads only its own halls' notices (``hall = ANY(...)``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.core.clock import today_in_china, utcnow
from market.core.config import Settings
from market.core.db import log_failure
from market.halls import queries as halls
from market.halls import rules as hall_rules
from market.halls import service as halls_service
from market.log.models import LogEntry
from market.notices.models import Notice
from market.supervision import alerts
from market.supervision.flags import rules as F
from market.supervision.flags import store
from market.supervision.models import FlagAlert, FlagView

logger = logging.getLogger("market.supervision.flags.alerting")
INTERVAL = 300.0  # seconds between runs
ALERT_BATCH = 2_000  # flags remembered per INSERT statement
# The kind and subject of the flag_alert row that marks a view's baseline: a view whose first
# computation found nothing would otherwise look never computed at its next one.
BASELINE = ""


def interval_of(settings: Settings) -> float:
    """Seconds between the task's runs in a server (market/app.py); 0 when its scheduler is
    off (MARKET_SCHEDULER_INTERVAL=0), and nothing computes the flags in the background."""
    return max(settings.scheduler_interval, INTERVAL) if settings.scheduler_interval > 0 else 0.0


log_head = store.log_head


async def changed_halls(session: AsyncSession, *, after: int, upto: int) -> set[str]:
    """The halls of the notices named by log entries ``after`` < seq <= ``upto``."""
    stmt = (
        sa.select(col(Notice.hall))
        .select_from(LogEntry)
        .join(Notice, col(Notice.public_id) == col(LogEntry.notice_id))
        .where(col(LogEntry.seq) > after, col(LogEntry.seq) <= upto, col(Notice.hall).is_not(None))
        .distinct()
    )
    return {h for h in (await session.execute(stmt)).scalars() if h}


async def has_baseline(session: AsyncSession, hall: str) -> bool:
    """Whether ``hall``'s view has had its first alerted computation (any ``flag_alert`` row
    of the hall: the baseline's own, or a flag alerted before baselines existed)."""
    return bool((await session.execute(sa.select(sa.exists().where(col(FlagAlert.hall) == hall)))).scalar())


async def remember(session: AsyncSession, hall: str, flags: list[F.Flag]) -> list[F.Flag]:
    """Remember ``flags`` as alerted in ``hall``; those not remembered before, in their
    order, each alert key once. A few statements per view, not one per flag: the province's
    view holds 184,140 flags at ten times the seeded data."""
    keyed: dict[tuple[str, str], F.Flag] = {}
    for flag in flags:
        keyed.setdefault((flag.kind, F.alert_key(flag)[:160]), flag)
    now = utcnow()
    rows = [{"hall": hall, "flag_kind": k, "subject": s, "first_seen_at": now} for k, s in keyed]
    new: set[tuple[str, str]] = set()
    for start in range(0, len(rows), ALERT_BATCH):
        stmt = (
            insert(FlagAlert)
            .values(rows[start : start + ALERT_BATCH])
            .on_conflict_do_nothing()
            .returning(col(FlagAlert.flag_kind), col(FlagAlert.subject))
        )
        new.update((kind, subject) for kind, subject in (await session.execute(stmt)).all())
    return [flag for key, flag in keyed.items() if key in new]


async def alert_new_flags(
    session: AsyncSession, settings: Settings, today: date, *, hall: str, log_seq: int | None = None
) -> int:
    """Compute ``hall``'s view and keep it for the pages (``store.refresh``, from the log
    head ``log_seq``), then alert the supervisors of ``hall`` (its own, or the nearest above
    with any) of each flag in it not alerted before; how many were alerted one by one. The
    first such computation is the baseline: one message per supervisor saying how many flags
    it found, none per flag. No flag is remembered as alerted for a hall nobody watches: its
    baseline is made once somebody does."""
    flags = await store.refresh(session, settings, today, hall=hall, log_seq=log_seq, alerted=True)
    if not await halls_service.supervisors_for(session, hall):
        return 0
    found = await halls.get_hall(session, hall)
    hall_name = {"zh_Hans": found.name_zh, "en": found.name_en} if found is not None else None
    first = not await has_baseline(session, hall)
    new = await remember(session, hall, flags)
    if first:
        await session.execute(
            insert(FlagAlert)
            .values(hall=hall, flag_kind=BASELINE, subject=BASELINE, first_seen_at=utcnow())
            .on_conflict_do_nothing()
        )
        if flags:
            await alerts.alert(
                session, hall=hall, kind=alerts.RED_FLAGS_FOUND, found=len(flags), hall_name=hall_name
            )
            logger.info("hall %s: first computation of its red flags, %d found", hall, len(flags))
        return 0
    for flag in new:
        await alerts.alert(
            session,
            hall=hall,
            kind=alerts.RED_FLAG,
            flag_kind=flag.kind,
            subject=flag.subject,
            subject_name=flag.subject_name,
            severity=flag.severity,
            hall_name=hall_name,
        )
    return len(new)


async def views_of(session: AsyncSession, changed: set[str] | None) -> list[str]:
    """Every hall's view (``changed`` None), or the views containing a ``changed`` hall."""
    if changed is None:
        return await halls.hall_codes(session)
    return sorted({view for hall in changed for view in hall_rules.chain(hall)})


async def run_views(
    session: AsyncSession, settings: Settings, today: date, *, changed: set[str] | None
) -> int:
    """Alert the new flags of every hall's view (``changed`` None: the daily look), or of
    the views that contain one of the ``changed`` halls (each with the halls above it)."""
    alerted = 0
    for view in await views_of(session, changed):
        alerted += await alert_new_flags(session, settings, today, hall=view)
    return alerted


class FlagAlertTask:
    def __init__(
        self,
        db: Any,
        settings: Settings,
        *,
        interval: float = INTERVAL,
        today: Callable[[], date] = today_in_china,
    ) -> None:
        self.db = db
        self.settings = settings
        self.interval = max(interval, 1.0)
        self.today = today
        self.last_seq: int | None = None
        self.last_day: date | None = None

    async def run_once(self) -> int:
        """One look; the first of the day looks at every view. Each view in a transaction of
        its own: the daily look covers every hall, and one transaction over them all grew
        with the halls and their data. A view that fails leaves those before it committed;
        the look is made again whole, and a flag already alerted is not alerted twice."""
        day = self.today()
        async with self.db.transaction() as session:
            if self.last_day is None:
                await self.resume(session, day)
            head = await log_head(session)
            changed = None
            if self.last_day == day and self.last_seq is not None:
                if head == self.last_seq:
                    return 0
                changed = await changed_halls(session, after=self.last_seq, upto=head)
            views = await views_of(session, changed)
        alerted = 0
        for view in views:
            async with self.db.transaction() as session:
                await store.lock(session, view)  # then what another process did is seen
                kept = await store.view_of(session, view)
                if store.is_fresh(kept, self.settings, head=head, today=day):
                    continue  # another server process has just computed and alerted it
                alerted += await alert_new_flags(session, self.settings, day, hall=view, log_seq=head)
        self.last_seq, self.last_day = head, day
        return alerted

    async def resume(self, session: AsyncSession, day: date) -> None:
        """A process's first look carries on from the kept views instead of recomputing
        every one. Every server process started (a deploy, a restart, each worker of each
        host) recomputed every hall's view at its first look, while serving: 114 views and
        more than a minute of the worker's CPU on the seeded data, its requests at 0.3-0.5
        of their rate meanwhile (issue 24). When every hall's view was computed and alerted
        today under these thresholds, the look starts from the oldest of their log heads, as
        if this process had made them: the views with a change since are computed again."""
        kept = (
            await session.execute(
                sa.select(
                    col(FlagView.hall),
                    col(FlagView.log_seq),
                    col(FlagView.day),
                    col(FlagView.settings_key),
                    col(FlagView.alerted),
                )
            )
        ).all()
        key = store.settings_key(self.settings)
        current = {
            hall: seq
            for hall, seq, kept_day, kept_key, alerted in kept
            if alerted and kept_day == day and kept_key == key
        }
        codes = set(await halls.hall_codes(session))
        if codes and codes <= current.keys():
            self.last_seq = min(current[hall] for hall in codes)
            self.last_day = day

    async def run(self) -> None:
        while True:
            try:
                alerted = await self.run_once()
                if alerted:
                    logger.info("alerted %d new red flag(s)", alerted)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # tried again after ``interval``
                log_failure(logger, "could not alert new red flags; trying again later", exc)
            await asyncio.sleep(self.interval)
