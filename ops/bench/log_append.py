"""Appending to the log with 32 concurrent writers, against the bare SQL of an append.

    .venv/bin/python ops/bench/log_append.py [--writers 32] [--entries 6400] [--processes 1]

Both runs use 32 connections and one transaction per entry; --processes spreads the
writers over several processes, as several server workers would (on two cores a second
process mostly takes CPU from PostgreSQL). The baseline runs the bare
statements of an append (take the lock, read the size, insert the entry and two subtree
rows) with precomputed values; the real run goes through market.log.store.append, which
adds canonical JSON, hashing and the frontier. Goal: at least 1,000 entries/s.

The database is a scratch one (ops/scratch.py): on DATABASE_URL's server, else on the
private cluster under var/bench-postgres; dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Run as a script, Python puts this directory first on the path; the project root takes its
# place, so that the modules here are imported as ops.bench.* like everywhere else.
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from market.core.db import Database, to_asyncpg_dsn  # noqa: E402
from market.log import store  # noqa: E402
from ops.scratch import scratch_database  # noqa: E402

GOAL_PER_SECOND = 1000


async def create_bare_tables(url: str) -> None:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    await conn.execute(
        "CREATE TABLE bare_entry (seq bigint PRIMARY KEY, type text, notice_id text, entry bytea, leaf_hash bytea)"
    )
    await conn.execute(
        "CREATE TABLE bare_subtree (level smallint, idx bigint, hash bytea, PRIMARY KEY (level, idx))"
    )
    await conn.close()


async def baseline(url: str, writers: int, per_writer: int, *, setup: bool = True) -> float:
    if setup:
        await create_bare_tables(url)
    pool = await asyncpg.create_pool(to_asyncpg_dsn(url), min_size=writers, max_size=writers)
    payload = b"x" * 300
    digest = b"h" * 32

    async def writer() -> None:
        async with pool.acquire() as conn:
            for _ in range(per_writer):
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(42)")
                    size = await conn.fetchval("SELECT coalesce(max(seq) + 1, 0) FROM bare_entry")
                    await conn.execute(
                        "INSERT INTO bare_entry VALUES ($1, 'bench.event', NULL, $2, $3)",
                        size,
                        payload,
                        digest,
                    )
                    await conn.executemany(
                        "INSERT INTO bare_subtree VALUES ($1, $2, $3)",
                        [(0, size, digest), (1, size + 10**9, digest)],
                    )

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return writers * per_writer / elapsed


async def real(url: str, writers: int, per_writer: int, *, setup: bool = False) -> float:
    db = Database.from_url(url, pool_size=writers, max_overflow=0)

    async def writer(w: int) -> None:
        for i in range(per_writer):
            async with db.transaction() as session:
                await store.append(
                    session,
                    type="bench.event",
                    fields={"notice_id": f"N-{os.getpid()}-{w}", "i": i, "pad": "p" * 200},
                )

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - started
    await db.dispose()
    return writers * per_writer / elapsed


def _worker(kind: str, url: str, writers: int, per_writer: int, start: Any, done: Any) -> None:
    start.wait()
    rate = asyncio.run((baseline if kind == "baseline" else real)(url, writers, per_writer, setup=False))
    done.put(rate)


def run_spread(kind: str, url: str, writers: int, per_writer: int, processes: int) -> float:
    """Total entries per second of ``writers`` writers spread over ``processes`` processes."""
    if kind == "baseline":
        asyncio.run(create_bare_tables(url))
    ctx = mp.get_context("spawn")
    start, done = ctx.Event(), ctx.Queue()
    share = [writers // processes + (1 if i < writers % processes else 0) for i in range(processes)]
    procs = [ctx.Process(target=_worker, args=(kind, url, n, per_writer, start, done)) for n in share]
    for p in procs:
        p.start()
    time.sleep(2.0)  # let every process import and connect before the clock starts
    began = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - began
    for _ in procs:
        done.get()
    return writers * per_writer / elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--entries", type=int, default=6400)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    per_writer = max(1, args.entries // args.writers)
    with scratch_database() as url:
        bare = run_spread("baseline", url, args.writers, per_writer, args.processes)
        ours = run_spread("real", url, args.writers, per_writer, args.processes)
    print(f"writers: {args.writers} over {args.processes} processes, entries: {args.writers * per_writer}")
    print(f"baseline (bare append SQL): {bare:,.0f} entries/s")
    print(f"market.log.store.append:    {ours:,.0f} entries/s")
    print(f"ratio append/baseline:      {ours / bare:.2f}")
    print(f"goal >= {GOAL_PER_SECOND}/s: {'met' if ours >= GOAL_PER_SECOND else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
