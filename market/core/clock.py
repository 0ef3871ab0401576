"""The clock: UTC for storage, China's time zone for dates people read and deadlines."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


CHINA = ZoneInfo("Asia/Shanghai")


def today_in_china() -> date:
    """Certificates, suspensions and deadlines are dated in China's time zone: a
    certificate valid until the 27th is valid all of the 27th in Kunming."""
    return datetime.now(CHINA).date()
