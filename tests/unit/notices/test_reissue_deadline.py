"""The deadline a re-issued notice's draft starts with (issue 22)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from market.notices import rules

NOW = datetime(2026, 12, 6, 8, 30, 15, 123, tzinfo=UTC)


def test_the_failed_notice_window_is_counted_again_from_now_in_whole_minutes() -> None:
    published = datetime(2026, 11, 1, tzinfo=UTC)
    deadline = published + timedelta(days=10)
    got = rules.reissue_deadline(published_at=published, deadline=deadline, now=NOW)
    assert got == datetime(2026, 12, 16, 8, 31, tzinfo=UTC)


def test_a_short_window_becomes_at_least_a_day() -> None:
    published = datetime(2026, 11, 1, tzinfo=UTC)
    got = rules.reissue_deadline(published_at=published, deadline=published + timedelta(seconds=2), now=NOW)
    assert got - NOW >= timedelta(days=1) and got.second == 0 and got.microsecond == 0


def test_without_a_publication_time_a_day_is_given() -> None:
    got = rules.reissue_deadline(published_at=None, deadline=NOW, now=NOW)
    assert timedelta(days=1) <= got - NOW <= timedelta(days=1, minutes=1)
