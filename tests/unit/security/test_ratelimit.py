"""The pure parts of the log-in limits; the counting itself is in PostgreSQL and tested
there (tests/integration/security/test_shared_limits.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from market.security.ratelimit import account_key, backoff_delay, window_key, window_wait

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_the_wait_is_until_the_oldest_hit_leaves_the_window() -> None:
    hits = [NOW - timedelta(seconds=10), NOW - timedelta(seconds=5)]
    assert window_wait(hits, NOW, 60) == 50
    assert window_wait([NOW - timedelta(seconds=59, milliseconds=500)], NOW, 60) == 1  # never 0
    assert window_wait([], NOW, 60) == 60


def test_the_backoff_doubles_after_the_free_failures_up_to_the_longest() -> None:
    delays = [backoff_delay(n, free=5, longest=900.0) for n in range(1, 17)]
    assert delays[:4] == [None] * 4
    assert delays[4:] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert backoff_delay(100_000, free=5, longest=900.0) == 900  # no overflow however many


def test_an_account_is_its_address_as_typed_trimmed_and_lower_cased_and_hashed() -> None:
    assert account_key(" Victim@Example.CN ") == account_key("victim@example.cn")
    assert account_key("victim@example.cn") != account_key("other@example.cn")
    assert "victim" not in account_key("victim@example.cn") and len(account_key("x" * 10_000)) == 64


def test_a_key_too_long_to_index_is_hashed_and_a_short_one_kept() -> None:
    assert window_key("login:203.0.113.7") == "login:203.0.113.7"
    long = window_key("login:" + "a" * 500)
    assert long.startswith("sha256:") and len(long) <= 200
    assert long != window_key("login:" + "a" * 501)
