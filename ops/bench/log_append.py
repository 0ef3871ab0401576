"""Appending to the log with 32 concurrent writers, against the bare SQL of an append; or
(--prefill N) on a log already holding N entries, against an empty log.

    .venv/bin/python ops/bench/log_append.py [--writers 32] [--entries 6400] [--processes 1]
    .venv/bin/python ops/bench/log_append.py --prefill 10000000 [--rounds 3]
    .venv/bin/python ops/bench/log_append.py --prefill 10000000 --keep --rounds 0   # prefill only
    .venv/bin/python ops/bench/log_append.py --prefilled <kept url> [--rounds 3]

Both runs use 32 connections and one transaction per entry; --processes spreads the
writers over several processes, as several server workers would (on two cores a second
process mostly takes CPU from PostgreSQL). The baseline runs the bare
statements of an append (take the lock, read the size, insert the entry and two subtree
rows) with precomputed values; the real run goes through market.log.store.append, which
adds canonical JSON, hashing and the frontier. Goal: at least 1,000 entries/s.

--prefill N (issue 24): the same appends through market.log.store.append on two scratch
databases of the same server, one with an empty log and one whose log already holds N
entries, in interleaved rounds (best of --rounds each). The N entries are written by the
server itself (generate_series, no round trip per row) shaped like the seeded log's mix
(six in ten sealed bids naming no notice, the rest naming notices published in order),
with every perfect subtree's hash, so that the appends extend a valid tree; the secondary
indexes are built after the rows, as ops/bench/seed.py does. Goal: ratio >= 0.95.

A prefill of 10,000,000 entries takes a quarter of an hour: ``--keep`` keeps the prefilled
database and prints its URL, and ``--prefilled URL`` runs the rounds on it instead of
prefilling again (the appends of each run stay in it, so its log grows by a round's entries).

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
from contextlib import ExitStack
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

from market import protocol  # noqa: E402
from market.core.db import Database, to_asyncpg_dsn  # noqa: E402
from market.log import store  # noqa: E402
from ops.bench.seed import subtrees_from_leaves  # noqa: E402
from ops.scratch import scratch_database  # noqa: E402

GOAL_PER_SECOND = 1000
GOAL_PREFILLED_RATIO = 0.95

# The prefilled log's entries: a type by position in a cycle of 100 (the seeded log's mix,
# rounded), canonical JSON with the fields the append would write. Sealed bids name no
# notice; the others name one of the notices "open" around them (ten entries apart).
PREFILL_ENTRIES = r"""
INSERT INTO log_entry (seq, type, notice_id, entry, leaf_hash)
SELECT g, t.type, t.notice_id, t.entry, sha256('\x00'::bytea || t.entry)
FROM generate_series($1::bigint, $2::bigint - 1) AS g
CROSS JOIN LATERAL (
    SELECT k.type, CASE WHEN k.type = 'bid.sealed' THEN NULL ELSE k.notice END AS notice_id,
           convert_to(
               CASE WHEN k.type = 'bid.sealed'
                    THEN format('{"commitment":"%s","seq":%s,"ts":"%s","type":"bid.sealed","v":2}', md5(g::text) || md5((g + 1)::text), g, k.ts)
                    ELSE format('{"notice_id":"%s","seq":%s,"ts":"%s","type":"%s","v":2}', k.notice, g, k.ts, k.type)
               END, 'UTF8') AS entry
    FROM (SELECT CASE
                     WHEN g % 100 < 61 THEN 'bid.sealed'
                     WHEN g % 100 < 69 THEN 'notice.published'
                     WHEN g % 100 < 75 THEN 'bidding.closed'
                     WHEN g % 100 < 80 THEN 'selection.drawn'
                     WHEN g % 100 < 85 THEN 'award.final'
                     WHEN g % 100 < 88 THEN 'agency.submitted'
                     WHEN g % 100 < 91 THEN 'agency.approved'
                     WHEN g % 100 < 94 THEN 'agency.document_added'
                     WHEN g % 100 < 97 THEN 'account.created'
                     ELSE 'selection.failed'
                 END AS type,
                 'N-' || lpad((g / 10)::text, 7, '0') AS notice,
                 to_char(timestamp '2026-01-01' + g * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS".000000Z"') AS ts
         ) AS k
) AS t
"""
PREFILL_CHUNK = 1_000_000
CHECK_UP_TO = 100_000  # a prefill this small is checked against a root computed here


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


async def prefill(url: str, n: int) -> float:
    """Write a log of ``n`` entries with every perfect subtree's hash; the seconds it took."""
    started = time.perf_counter()
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        indexes = await conn.fetch(
            """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
               FROM pg_index i WHERE i.indrelid = 'log_entry'::regclass AND NOT i.indisprimary"""
        )
        for row in indexes:
            await conn.execute(f"DROP INDEX {row['name']}")
        for start in range(0, n, PREFILL_CHUNK):  # one transaction each: bounded WAL and memory
            await conn.execute(PREFILL_ENTRIES, start, min(n, start + PREFILL_CHUNK))
        await subtrees_from_leaves(conn)  # every aligned perfect subtree's hash
        for row in indexes:
            await conn.execute(row["definition"])
        await conn.execute("VACUUM ANALYZE log_entry")
        await conn.execute("VACUUM ANALYZE log_subtree")
        took = time.perf_counter() - started
        if n <= CHECK_UP_TO:  # the stored tree is the entries' tree (CI runs this)
            entries = [bytes(r[0]) for r in await conn.fetch("SELECT entry FROM log_entry ORDER BY seq")]
            for raw in entries[:: max(1, n // 100)]:
                protocol.parse_canonical(raw)  # the entries are canonical JSON
            expected = protocol.root_from_leaf_hashes([protocol.leaf_hash(e) for e in entries])
    finally:
        await conn.close()
    if n <= CHECK_UP_TO:
        db = Database.from_url(url)
        async with db.transaction() as session:
            stored = await store.root_at(session, n)
        await db.dispose()
        assert stored == expected, "the prefilled subtrees do not make the entries' tree"
    return took


def compare_prefilled(args: argparse.Namespace, per_writer: int) -> None:
    """Appends on an empty log and on one of ``--prefill`` entries (or the ``--prefilled``
    database's), interleaved rounds."""
    # Their own prefix: a prefill of millions takes many minutes, and on the shared server a
    # sweep of leftover market_bench_* databases (its backends ended, then DROP) cut it twice.
    with ExitStack() as stack:
        empty = stack.enter_context(scratch_database(prefix="log_append"))
        if args.prefilled:
            full = args.prefilled
            size = asyncio.run(log_size(full))
            print(f"prefilled database given: {size:,} entries")
        else:
            full = stack.enter_context(scratch_database(prefix="log_append", keep=args.keep))
            size = args.prefill
            took = asyncio.run(prefill(full, size))
            print(f"prefilled {size:,} entries (with their subtree hashes) in {took:.1f} s")
            if args.keep:
                print(f"kept: {full}")
        best = {"empty": 0.0, "full": 0.0}
        for r in range(args.rounds):
            for label in ("empty", "full") if r % 2 == 0 else ("full", "empty"):
                url = empty if label == "empty" else full
                rate = run_spread("real", url, args.writers, per_writer, args.processes)
                print(f"round {r + 1}, {label} log: {rate:,.0f} entries/s")
                best[label] = max(best[label], rate)
    if not args.rounds:
        return
    ratio = best["full"] / best["empty"]
    print(
        f"writers: {args.writers} over {args.processes} processes, entries: {args.writers * per_writer} a round"
    )
    print(f"append on an empty log:            {best['empty']:,.0f} entries/s (best of {args.rounds})")
    print(f"append on a log of {size:,} entries: {best['full']:,.0f} entries/s (best of {args.rounds})")
    print(
        f"ratio prefilled/empty: {ratio:.2f} (goal >= {GOAL_PREFILLED_RATIO}: "
        f"{'met' if ratio >= GOAL_PREFILLED_RATIO else 'NOT met'})"
    )


async def log_size(url: str) -> int:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        return int(await conn.fetchval("SELECT coalesce(max(seq) + 1, 0) FROM log_entry"))
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--entries", type=int, default=6400)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--prefill", type=int, default=0, help="compare with a log already holding this many entries"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="with --prefill or --prefilled: rounds of each, interleaved"
    )
    parser.add_argument("--keep", action="store_true", help="with --prefill: keep the prefilled database")
    parser.add_argument(
        "--prefilled", metavar="URL", help="a database prefilled earlier (--keep): no prefill"
    )
    args = parser.parse_args()
    per_writer = max(1, args.entries // args.writers)
    if args.prefill < 0 or args.rounds < 0:
        parser.error("--prefill and --rounds must not be negative")
    if args.prefill and args.prefilled:
        parser.error("--prefill and --prefilled exclude each other")
    if args.rounds == 0 and not (args.prefill and args.keep):
        parser.error("--rounds 0 only prefills: give it with --prefill N --keep")
    if args.prefill or args.prefilled:
        compare_prefilled(args, per_writer)
        return 0
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
