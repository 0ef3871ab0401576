"""The status pages show is the status as of now: no page says "Open for bids" after the
deadline, even from a row that is seconds old (a read standby, the home page's cache)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from market.notices.rules import shown_status
from market.web.labels import notice_status

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_an_open_notice_past_its_deadline_shows_closed() -> None:
    assert shown_status("open", NOW - timedelta(seconds=1), NOW) == "closed"
    assert shown_status("open", NOW, NOW) == "closed"  # the deadline itself: bids are refused


def test_an_open_notice_before_its_deadline_and_every_other_status_show_as_stored() -> None:
    assert shown_status("open", NOW + timedelta(seconds=1), NOW) == "open"
    for status in ("draft", "closed", "selected", "awarded", "failed", "cancelled"):
        assert shown_status(status, NOW - timedelta(days=1), NOW) == status
    assert shown_status("draft", None, NOW) == "draft"


def test_pages_use_the_clock_of_the_moment_they_are_made() -> None:
    past = SimpleNamespace(status="open", bid_deadline=datetime.now(UTC) - timedelta(seconds=1))
    future = SimpleNamespace(status="open", bid_deadline=datetime.now(UTC) + timedelta(hours=1))
    assert notice_status(past) == "closed" and notice_status(future) == "open"
