"""ops/bench/deadline.py, CI-sized (issue 24, item 3): a few agencies bid in a notice's
last seconds, and the result must reach the draw page's stream readers and the API with
the scheduler on. Latencies are printed, not asserted (a shared CI machine says little
about them); a result that never arrives fails."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from tests.conftest import in_thread

bench: ModuleType = importlib.import_module("ops.bench.deadline")

# The last bids are planned 1.5 s before the deadline: on a busy CI machine a bid can take
# that long, and one that arrives late is refused (as it should be), which is no failure.
SMALL = {
    "agencies": 30,
    "runs": 2,
    "viewers": 10,
    "window": 3.0,
    "margin": 1.5,
    "lead": 3.0,
    "warmup": 5,
    "workers": 1,
}


@pytest.fixture(autouse=True)
def few_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers inherit the environment: small pools, since CI shares one PostgreSQL
    (max_connections) between test workers."""
    monkeypatch.setenv("MARKET_DB_POOL_SIZE", "4")
    monkeypatch.setenv("MARKET_DB_POOL_OVERFLOW", "2")
    monkeypatch.setenv("MARKET_DB_READ_POOL_SIZE", "2")


@pytest.mark.committing
def test_the_result_reaches_the_stream_and_the_api_after_each_deadline(committed_database_url: str) -> None:
    options = bench.Options(**SMALL)
    # run() starts its own event loop; a thread of its own keeps it clear of pytest's.
    report = in_thread(lambda: bench.run(options, database_url=committed_database_url))
    lines = report.lines()
    print("\n".join(lines))
    assert report.failures == [], lines
    assert len(report.runs) == 2
    for run in report.runs:
        assert run.accepted + run.refused == 30 and run.five_xx == 0 and run.errors == 0
        assert run.candidates == run.accepted
        assert run.stream_told == run.viewers == 10
        # Every moment after the deadline, in the order the close makes them.
        assert run.closed_s is not None and run.drawn_s is not None and run.notify_s is not None
        assert 0 < run.closed_s <= run.drawn_s <= run.notify_s
        assert run.stream_s is not None and run.stream_first_s is not None and run.api_s is not None
        # The outcome's entry is stamped before its commit, which nobody sees before.
        assert run.drawn_s <= run.stream_first_s <= run.stream_s and run.drawn_s <= run.api_s
    assert any(line.startswith("API: p50") for line in lines), lines
    assert any(line.startswith("p99 goal < 2 s") for line in lines), lines


@pytest.mark.committing
def test_a_result_that_never_comes_fails_the_run(
    committed_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The servers inherit the environment: with the scheduler off nothing closes the notice.
    monkeypatch.setenv("MARKET_SCHEDULER_INTERVAL", "0")
    options = bench.Options(**{**SMALL, "agencies": 5, "runs": 1, "viewers": 2, "warmup": 0, "give_up": 2.0})
    report = in_thread(lambda: bench.run(options, database_url=committed_database_url))
    print("\n".join(report.lines()))
    run = report.runs[0]
    assert run.api_s is None and run.stream_s is None and run.stream_told == 0
    assert any("did not answer the result" in f for f in report.failures), report.failures
    assert any("stream readers were told" in f for f in report.failures), report.failures
    assert not report.goal_met
