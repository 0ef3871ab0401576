"""The read standby's lag from one reading of each server (market/core/replica.lag_of): the
standby is trusted for what it provably holds, never for "received = replayed" alone."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from market.core.replica import _lsn, lag_of

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PRIMARY = {"system": 7, "started": T0, "written": "0/3000000"}


def standby(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "system": 7,
        "started": T0 + timedelta(seconds=5),
        "recovery": True,
        "replayed": "0/3000000",
        "replayed_at": None,
        "paused": False,
        "receiver": "streaming",
        "now": T0 + timedelta(hours=1),
    }
    return {**values, **overrides}


def test_lsn_text_is_read_as_a_number() -> None:
    assert _lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert _lsn("0/3000000") < _lsn("0/3000001") < _lsn("1/0")  # type: ignore[operator]
    assert _lsn(None) is None


def test_a_standby_holding_what_the_primary_wrote_just_now_is_not_behind() -> None:
    history = deque([(100.0, _lsn("0/3000000") or 0)])
    lag = lag_of(PRIMARY, standby(), history, 100.002)
    assert lag.role == "standby" and lag.seconds is not None and lag.seconds < 0.01


def test_an_idle_primary_does_not_make_an_old_replay_time_a_lag() -> None:
    """Nothing written for an hour: the last replayed transaction is an hour old, yet the
    standby holds everything the primary has."""
    history = deque([(100.0, _lsn("0/3000000") or 0)])
    lag = lag_of(PRIMARY, standby(replayed_at=T0), history, 100.0)
    assert lag.seconds == 0.0


def test_paused_replay_is_behind_since_the_last_reading_it_covers() -> None:
    history = deque([(90.0, 0x2000000), (95.0, 0x3000000), (99.0, 0x3800000), (100.0, 0x4000000)])
    lag = lag_of(PRIMARY, standby(replayed="0/3000000", paused=True), history, 100.0)
    assert lag.seconds == 5.0 and lag.replay_paused is True


def test_the_last_replayed_transaction_bounds_the_lag_too() -> None:
    """Steady writes: the standby's last replayed commit, 0.3 s ago, says more than the
    readings one second apart."""
    now = T0 + timedelta(seconds=10)
    history = deque([(99.0, 0x2000000), (100.0, 0x4000000)])
    fresh = standby(replayed="0/3000000", replayed_at=now - timedelta(seconds=0.3), now=now)
    assert lag_of(PRIMARY, fresh, history, 100.0).seconds == pytest.approx(0.3)


def test_a_standby_that_stopped_receiving_is_not_caught_up_once_the_primary_moves_on() -> None:
    """Receive = replay on a standby cut off from its primary: it says nothing of what the
    primary wrote since. The readings do."""
    history = deque([(90.0, 0x3000000), (100.0, 0x5000000)])
    cut_off = standby(replayed="0/3000000", receiver=None, replayed_at=None)
    assert lag_of(PRIMARY, cut_off, history, 100.0).seconds == 10.0


def test_behind_every_remembered_reading_is_at_least_that_old() -> None:
    history = deque([(80.0, 0x4000000), (100.0, 0x5000000)])
    lag = lag_of(PRIMARY, standby(replayed="0/3000000"), history, 100.0)
    assert lag.seconds == 20.0


def test_a_server_of_another_cluster_is_never_read() -> None:
    lag = lag_of(PRIMARY, standby(system=8), deque([(100.0, 1)]), 100.0)
    assert lag.role == "other" and lag.seconds is None


def test_the_primary_itself_is_not_behind_and_a_promoted_standby_is_never_read() -> None:
    itself = standby(recovery=False, started=T0, replayed="0/3000000")
    assert lag_of(PRIMARY, itself, deque([(100.0, 1)]), 100.0).seconds == 0.0
    promoted = standby(recovery=False, replayed="0/9000000")  # same cluster, another server
    lag = lag_of(PRIMARY, promoted, deque([(100.0, 1)]), 100.0)
    assert lag.role == "other" and lag.seconds is None
