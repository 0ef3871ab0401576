"""Verifying a large log from the database, against a bare loop over the same rows.

    .venv/bin/python ops/bench/log_verify.py [--entries 1000000]

Fills a scratch database with N entries of about 300 bytes (bid.accepted-shaped, with
their subtree hashes and a signed checkpoint, written with COPY), then times in the same
run: (a) the baseline, a bare loop that reads the same rows from the same database and
computes only the leaf and node SHA-256 hashes, and (b) `market log verify`'s code path
(market.log.verifier over market.log.verify_db.DatabaseSource). Goal: (b) <= 2 x (a).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common import scratch_database  # type: ignore[import-not-found]
from market.db import Database, to_asyncpg_dsn
from market.log import protocol, store, verifier
from market.log.signer import LogSigner
from market.log.verify_db import FETCH, DatabaseSource

GOAL_RATIO = 2.0


def make_entry(seq: int) -> bytes:
    # Canonical by construction: sorted keys, no spaces, integers, ASCII.
    digest = hashlib.sha256(seq.to_bytes(8, "big")).hexdigest()
    return (
        f'{{"agency_id":"AG-{seq % 2270:06d}","bid_id":"B-{seq:07d}","bid_sha256":"{digest}",'
        f'"note":"{"x" * 60}","notice_id":"N-{seq // 40:06d}","seq":{seq},'
        f'"ts":"2026-11-27T09:{(seq // 60000) % 60:02d}:{(seq // 1000) % 60:02d}.{seq % 1000000:06d}Z",'
        f'"type":"bid.accepted","v":1}}'
    ).encode()


async def fill(url: str, n: int, signer: LogSigner) -> float:
    started = time.perf_counter()
    frontier = protocol.Frontier()
    entries, subtrees = [], []
    for seq in range(n):
        entry = make_entry(seq)
        leaf = protocol.leaf_hash(entry)
        entries.append((seq, "bid.accepted", f"N-{seq // 40:06d}", entry, leaf))
        for start, end, h in frontier.append(leaf):
            level = (end - start).bit_length() - 1
            subtrees.append((level, start >> level, h))
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        await conn.copy_records_to_table("log_entry", records=entries, columns=["seq", "type", "notice_id", "entry", "leaf_hash"])
        await conn.copy_records_to_table("log_subtree", records=subtrees, columns=["level", "idx", "hash"])
        await conn.execute("VACUUM ANALYZE log_entry")
        await conn.execute("VACUUM ANALYZE log_subtree")
    finally:
        await conn.close()
    db = Database.from_url(url)
    async with db.transaction() as session:
        checkpoint = await store.ensure_checkpoint(session, signer)
    await db.dispose()
    assert checkpoint.root == frontier.root()
    return time.perf_counter() - started


async def bare(url: str, n: int) -> bytes:
    """Read the same rows the same way, hash leaves and nodes, nothing else."""
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    leaves: list[bytes] = []
    try:
        async with conn.transaction(readonly=True):
            cursor = await conn.cursor("SELECT entry FROM log_entry WHERE seq >= $1 AND seq < $2 ORDER BY seq", 0, n)
            while rows := await cursor.fetch(FETCH):
                leaves.extend(hashlib.sha256(b"\x00" + row[0]).digest() for row in rows)
    finally:
        await conn.close()
    return protocol.root_from_leaf_hashes(leaves)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    signer = LogSigner(origin="bench.localhost/log", private_key=Ed25519PrivateKey.generate())
    with scratch_database() as url:
        filled = asyncio.run(fill(url, args.entries, signer))
        print(f"filled {args.entries:,} entries in {filled:.1f} s")
        timings = {}
        for label in ("baseline", "verify", "baseline", "verify"):  # interleaved, best of two
            started = time.perf_counter()
            if label == "baseline":
                asyncio.run(bare(url, args.entries))
            else:
                source = DatabaseSource(url, signer)
                report = verifier.verify(source)
                source.close()
                assert report.ok, report.human()
            elapsed = time.perf_counter() - started
            timings[label] = min(elapsed, timings.get(label, elapsed))
    print(f"baseline (read rows + leaf and node hashes): {timings['baseline']:.2f} s")
    print(f"market log verify (database):                {timings['verify']:.2f} s")
    ratio = timings["verify"] / timings["baseline"]
    print(f"ratio verify/baseline: {ratio:.2f} (goal <= {GOAL_RATIO}: {'met' if ratio <= GOAL_RATIO else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
