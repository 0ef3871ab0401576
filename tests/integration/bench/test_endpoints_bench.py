"""The HTTP benchmarks of ops/bench/endpoints.py, CI-sized (issue 10, item 2): a tiny seeded
database, one worker, about a second per run. It checks that the harness runs end to end
(market and the bare baseline served, wrk driven, its output read, RSS sampled) and that
the baseline answers market's JSON byte for byte, so the ratio compares equal work. Speed
is printed, never asserted: a shared CI machine says little about it."""

from __future__ import annotations

import asyncio
import importlib
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import in_thread

bench: ModuleType = importlib.import_module("ops.bench.endpoints")

# Enough rows for several pages per filter, so that cursors are deep and not first pages.
TINY = {"agencies": 60, "notices": 600, "bids": 600, "log_entries": 600, "rng_seed": 1}


@pytest.mark.committing
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (Debian package wrk)")
def test_http_benchmarks_run_and_the_baseline_answers_market_s_json(
    committed_database_url: str, tmp_path: Path
) -> None:
    from ops.bench.seed import seed

    keys = tmp_path / "keys"  # the servers get copies: sealed secrets stay readable
    in_thread(lambda: asyncio.run(seed(committed_database_url, **TINY, data_dir=keys)))
    options = bench.Options(
        workers=(1,),
        duration=1,
        rounds=1,
        warmup=0,
        targets=40,
        json_checks=20,
        keys=str(keys),
        diagnose=True,
    )
    # run() starts its own event loops; a thread of its own keeps it clear of pytest's.
    report = in_thread(lambda: bench.run(options, database_url=committed_database_url))
    lines = report.lines()
    print("\n".join(lines))

    assert report.failures == [], lines
    assert report.json_checked == 20 and report.json_mismatches == []
    assert [r.benchmark for r in report.rows] == [b.name for b in bench.BENCHMARKS]
    for row in report.rows:
        assert row.workers == 1
        assert row.baseline.requests > 0 and row.market.requests > 0
        assert row.ratio > 0 and row.max_rss_mb > 0
        assert row.market.p50_ms > 0 and row.market.p99_ms >= row.market.p50_ms
        # --diagnose: both servers' workers ran ops/bench/diagnose.py's probes and told what
        # they saw (their own count of requests, the loop's lag, each request's spans).
        for side in (row.baseline, row.market):
            seen = side.diagnosis
            assert 0 < seen["requests"] <= side.requests + 32, seen
            assert seen["spans_ms"]["total"]["p99"] >= seen["spans_ms"]["total"]["p50"] > 0
            assert seen["lag_ms"]["p50"] >= 0 and set(seen["gc"]) == {"0", "1", "2"}
        # The printed table has the benchmark's row with its ratio.
        assert any(line.startswith(row.benchmark) and f"{row.ratio:.2f}" in line for line in lines), lines
    # The JSON list: both sides read on a readers' connection, market through its
    # first-come queue (core.db.Database.reading), the baseline straight from asyncpg's pool.
    listed = report.rows[0]
    assert listed.baseline.diagnosis["median_ms"]["pool_wait"] > 0
    assert listed.baseline.diagnosis["median_ms"]["queue_wait"] == 0
    assert listed.market.diagnosis["median_ms"]["queue_wait"] > 0
    assert set(report.memory()) == {1} and report.memory()[1] > 0
    assert any(re.search(r"memory: .* 1 worker\(s\): \d+ MB", line) for line in lines), lines


WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:8000
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    15.20ms    3.10ms  1.02s    90.00%
    Req/Sec     2.10k   100.00     2.30k    80.00%
  Latency Distribution
     50%  850.00us
     75%   14.90ms
     90%   17.00ms
     99%    1.20s
  2105 requests in 1.00s, 40.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   2104.50
Transfer/sec:     40.00MB
"""


def test_wrk_output_is_read_with_its_units_and_errors() -> None:
    result = bench.parse_wrk(WRK_OUTPUT)
    assert result.requests_per_s == 2104.5 and result.requests == 2105
    assert result.p50_ms == pytest.approx(0.85) and result.p99_ms == pytest.approx(1200.0)
    assert result.non_2xx == 7 and result.socket_errors == 2 and result.timeouts == 1
    assert not result.clean


def test_a_run_answered_with_errors_fails_the_report() -> None:
    clean = bench.WrkResult(
        requests_per_s=100.0, p50_ms=1.0, p99_ms=2.0, requests=100, non_2xx=0, socket_errors=0
    )
    bad = bench.WrkResult(
        requests_per_s=100.0, p50_ms=1.0, p99_ms=2.0, requests=100, non_2xx=3, socket_errors=0
    )
    row = bench.Row(
        benchmark="list JSON",
        workers=1,
        goal=0.8,
        baseline=clean,
        market=clean,
        max_rss_mb=100.0,
        baseline_max_rss_mb=90.0,
        runs={"baseline": [clean], "market": [clean]},
    )
    report = bench.Report(options={}, rows=[row], json_checked=1)
    assert report.failures == [] and row.ratio == 1.0 and row.met
    row.runs["market"].append(bad)
    assert report.failures and "3 non-2xx" in report.failures[0]
