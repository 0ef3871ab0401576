"""The scale-1 against scale-10 benchmark (ops/bench/scale.py, issue 24), CI-sized: two tiny
seeded databases, one twice the other. It checks that the script runs end to end: URLs
picked the same way on both, every page asked and its statements explained on the larger
one, market served on both and wrk driven small-then-large with a row per page. wrk runs
at least a second, so the HTTP part measures three pages here (every page would take two
minutes); the EXPLAIN part asks every page through the app and fails on an
answer >= 400, so every page is still requested. Speed and plans are printed, never
asserted: a tiny table is read sequentially by any sensible planner, and a shared CI
machine says little about throughput."""

from __future__ import annotations

import asyncio
import importlib
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import _drop, _recreate, in_thread, run_blocking, url_for

bench: ModuleType = importlib.import_module("ops.bench.scale")
halls: ModuleType = importlib.import_module("ops.bench.halls")
ROOT = Path(__file__).resolve().parents[3]

# Three kinds of page for the HTTP part: a filtered, cursored list, a console page with the
# supervisor's session and a log page with a type and a cursor.
HTTP_PAGES = ("list_json_prefecture", "console_search", "log_type")


@pytest.fixture
def second_database_url(server_url: str, database_url: str) -> Iterator[str]:
    """Another fresh, migrated database where commits are real (committed_database_url's twin)."""
    name = f"{make_url(database_url).database}_s{secrets.token_hex(4)}"
    run_blocking(_recreate(server_url, name, template=make_url(database_url).database))
    yield url_for(server_url, name)
    run_blocking(_drop(server_url, name))


def scale(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "ops/bench/scale.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[-1] == "result: ok", lines
    return lines


@pytest.mark.committing
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (Debian package wrk)")
def test_the_scale_benchmark_explains_every_page_and_measures_both_data_sets(
    committed_database_url: str, second_database_url: str, tmp_path: Path
) -> None:
    from ops.bench.seed import Sizes, seed

    keys = tmp_path / "keys"
    small, large = committed_database_url, second_database_url

    async def both() -> None:
        # At once: seeding a tiny data set mostly waits on the database. The first makes
        # the keys before its first await, and the second then reads them.
        await asyncio.gather(
            *(
                seed(url, **Sizes.scaled(factor).__dict__, data_dir=keys)
                for url, factor in ((small, 0.002), (large, 0.004))
            )
        )

    in_thread(lambda: asyncio.run(both()))
    common = ("--small", small, "--large", large, "--keys", str(keys), "--targets", "3")

    lines = scale(*common, "--explain-only", "--explain-paths", "1")
    assert any(x.startswith("database large: 400 notice") for x in lines), lines
    head = next(i for i, x in enumerate(lines) if x.startswith("EXPLAIN (large): page "))
    plans = lines[head + 1 :]
    explained = {p.name for p in bench.PAGES if any(x.startswith(p.name + "  ") for x in plans)}
    missing = {p.name for p in bench.PAGES if any(x.startswith(f"not measured: {p.name}: ") for x in lines)}
    assert explained | missing == {p.name for p in bench.PAGES}, lines
    # What a tiny seed may hold nothing of, at most: no other page goes unasked.
    assert len(missing) <= 3, missing

    lines = scale(
        *common,
        *("--duration", "1", "--rounds", "1", "--warmup", "0", "--connections", "2", "--no-explain"),
        *("--only", ",".join(HTTP_PAGES)),
    )
    head = next(i for i, x in enumerate(lines) if x.startswith("page "))
    rows = lines[head + 1 :]
    for key in HTTP_PAGES:
        page = next(p for p in bench.PAGES if p.key == key)
        row = [x for x in rows if x.startswith(page.name + "  ")]
        assert len(row) == 1 and " >= 0.9 " in row[0], (page.name, lines)
    assert any(
        x.startswith("ratio >= 0.9: ") and x.endswith(f" of {len(HTTP_PAGES)} pages") for x in lines
    ), lines


def test_cursors_sit_at_the_same_relative_depth_of_lists_of_any_length() -> None:
    endpoints = importlib.import_module("ops.bench.endpoints")
    short, long = bench.SameDepths(), bench.SameDepths()
    for _ in range(50):
        a, b = endpoints._depth(1_000, short), endpoints._depth(10_000, long)
        # Either both the first page, or the same share of the list (a page's rounding).
        assert (a == 0) == (b == 0)
        assert abs(a / (1_000 - endpoints.PAGE) - b / (10_000 - endpoints.PAGE)) < 0.01, (a, b)


def test_a_plan_is_flat_only_without_large_scans_removals_or_reads() -> None:
    def plan(**node: object) -> object:
        p = halls.Plan("page", "/x", "")
        halls.read_plan(
            p, {"Execution Time": 1.0, "Plan": {"Actual Loops": 1, **node}}, "SELECT 1", ("notice",)
        )
        return p

    assert bench.flat(plan(**{"Node Type": "Index Scan", "Relation Name": "notice", "Actual Rows": 20}))
    # Rows a filter removes from a small table do not grow with the data set.
    small = plan(**{"Node Type": "Seq Scan", "Relation Name": "jurisdiction", "Rows Removed by Filter": 140})
    assert bench.flat(small) and small.max_removed == 140 and small.large_removed == 0
    assert not bench.flat(plan(**{"Node Type": "Seq Scan", "Relation Name": "notice", "Actual Rows": 1}))
    assert not bench.flat(
        plan(
            **{
                "Node Type": "Index Scan",
                "Relation Name": "notice",
                "Actual Rows": 20,
                "Rows Removed by Filter": 21,
            }
        )
    )
    # A full index scan removes nothing and still reads the table.
    assert not bench.flat(
        plan(
            **{"Node Type": "Index Only Scan", "Relation Name": "notice", "Actual Rows": bench.FLAT_READ + 1}
        )
    )
