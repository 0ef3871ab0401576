"""Times on a page: China time for reading, UTC for the ``<time datetime>`` attribute, and
what is left until a deadline."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from market.core.clock import CHINA


# Pure, and called per row of every list: the same deadlines and amounts recur, and
# formatting one costs microseconds (zone conversion, strftime).
@lru_cache(maxsize=8192)
def china_time(value: datetime | None) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else "—"


@lru_cache(maxsize=8192)
def china_date(value: datetime | None) -> str:
    """The calendar day in China of an aware time (a registration, a rating): the UTC
    day is the day before for the first eight hours of every Chinese morning."""
    return value.astimezone(CHINA).strftime("%Y-%m-%d") if value else "—"


@lru_cache(maxsize=8192)
def utc_attr(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def local_input(value: datetime | None) -> str:
    """An aware time as the value of a ``datetime-local`` input, in China time."""
    return value.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M") if value else ""


def remaining(deadline: datetime, now: datetime) -> dict[str, int] | None:
    """Days, hours and minutes until the deadline (rounded down), or None once it passed."""
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return None
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return {"days": days, "hours": hours, "minutes": rest // 60, "seconds": seconds}
