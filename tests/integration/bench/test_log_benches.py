"""The log's benchmarks (ops/bench/log_append.py, ops/bench/log_verify.py), CI-sized: they
must run end to end on a scratch database of the test server and print their figures and
ratios. How fast is for the full-size runs of docs/performance.md, not for CI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_bench(script: str, server_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": server_url}
    result = subprocess.run(
        [sys.executable, f"ops/bench/{script}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    print(result.stdout)
    return result.stdout


def test_the_append_benchmark_runs_and_prints_its_ratio(server_url: str) -> None:
    out = run_bench("log_append.py", server_url, "--writers", "4", "--entries", "200")
    assert re.search(r"baseline \(bare append SQL\): [\d,]+ entries/s", out)
    assert re.search(r"ratio append/baseline: +\d+\.\d\d", out)


def test_the_append_benchmark_compares_a_prefilled_log_with_an_empty_one(server_url: str) -> None:
    # (a prefill this small is checked against the root of its entries, in the script)
    out = run_bench(
        "log_append.py", server_url, "--writers", "2", "--entries", "40", "--prefill", "5000", "--rounds", "2"
    )
    assert "prefilled 5,000 entries (with their subtree hashes)" in out
    assert re.search(r"append on an empty log: +[\d,]+ entries/s \(best of 2\)", out)
    assert re.search(r"append on a log of 5,000 entries: +[\d,]+ entries/s", out)
    assert re.search(r"ratio prefilled/empty: \d+\.\d\d \(goal >= 0\.95: (met|NOT met)\)", out)


def test_a_kept_prefill_is_measured_again_without_prefilling(server_url: str) -> None:
    out = run_bench(
        "log_append.py",
        server_url,
        "--writers",
        "2",
        "--entries",
        "20",
        "--prefill",
        "3000",
        "--keep",
        "--rounds",
        "0",
    )
    assert "prefilled 3,000 entries" in out and "ratio" not in out  # --rounds 0: the prefill alone
    kept = re.search(r"^kept: (\S+)$", out, re.M)
    assert kept is not None, out
    try:
        again = run_bench(
            "log_append.py",
            server_url,
            "--writers",
            "2",
            "--entries",
            "20",
            "--prefilled",
            kept[1],
            "--rounds",
            "1",
        )
        assert "prefilled database given: 3,000 entries" in again
        assert re.search(r"append on a log of 3,000 entries: +[\d,]+ entries/s", again)
        # The appends of the run stay in it: the next run starts from a longer log.
        third = run_bench(
            "log_append.py",
            server_url,
            "--writers",
            "2",
            "--entries",
            "20",
            "--prefilled",
            kept[1],
            "--rounds",
            "1",
        )
        assert "prefilled database given: 3,020 entries" in third
    finally:
        name = kept[1].rsplit("/", 1)[1]
        subprocess.run(
            [
                "psql",
                server_url.replace("+asyncpg", ""),
                "-c",
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            ],
            check=True,
            capture_output=True,
        )


def test_the_append_benchmark_refuses_rounds_without_a_prefill_to_keep(server_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "ops/bench/log_append.py", "--rounds", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": server_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--rounds 0 only prefills" in result.stderr


def test_the_verify_benchmark_runs_every_mode_and_prints_every_ratio(server_url: str) -> None:
    out = run_bench("log_verify.py", server_url, "--entries", "20000", "--new", "500")
    assert "filled 20,000 entries" in out and "(a state kept at 19,500)" in out
    assert re.search(r"checked [\d,]+ notices", out)
    assert re.search(r"ratio the log alone/baseline: \d+\.\d\d", out)
    assert re.search(r"ratio with every notice re-derived/baseline: \d+\.\d\d", out)
    assert re.search(r"ratio with --state/baseline: \d+\.\d\d", out)
    assert re.search(
        r"500 new entries: .*: [\d,]+ notice\(s\) with no new entry keep the verdict of .*; [1-9][\d,]* re-derived",
        out,
    )
