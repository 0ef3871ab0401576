"""Verifying a large log from the database, against a bare loop over the same rows.

    .venv/bin/python ops/bench/log_verify.py [--entries 1000000]

Fills a scratch database with N entries shaped like a busy marketplace's log (see
ops/bench/synthetic_log.py: notices published, bid on, closed, drawn and awarded,
interleaved in time as they would be, with other marketplace entries between them; every
notice verifies), with their subtree hashes and a signed checkpoint, written with COPY.
Then times in the same run: (a) the baseline, a bare loop that reads the same rows from the
same database and computes only the leaf and node SHA-256 hashes, and (b) `market log
verify`'s code path (market.protocol.verifier over market.log.verify_db.DatabaseSource: the
whole log, then every notice's MSP/1 section 5 checks), (c) the same with --log-only
(the entries, the tree and the checkpoint, no notice re-derived), and (d) the same as (b)
with --state kept by a verification of the log before its last --new entries (the case of
a supervisor who verifies every day: only the notices that the new entries name are
re-derived). Goal: <= 2 x (a); every ratio is printed.

The scratch database comes from ops/scratch.py: on DATABASE_URL's server, else on the
private cluster under var/bench-postgres; dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Run as a script, Python puts this directory first on the path; the project root takes its
# place, so that the modules here are imported as ops.bench.* like everywhere else.
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from market import protocol  # noqa: E402
from market.core.db import Database, to_asyncpg_dsn  # noqa: E402
from market.log import store  # noqa: E402
from market.log.signer import LogSigner  # noqa: E402
from market.log.verify_db import FETCH, DatabaseSource  # noqa: E402
from market.protocol import verifier  # noqa: E402
from ops.bench.synthetic_log import synthetic_log  # noqa: E402
from ops.scratch import scratch_database  # noqa: E402

GOAL_RATIO = 2.0


class Log:
    """The synthetic log's rows and subtree hashes, written in parts (``write``), each
    under its own signed checkpoint, as a log grows between two verifications."""

    def __init__(self, n: int, version: int = protocol.VERSION) -> None:
        """``version``: the protocol of every notice (1: the log as MSP/1 wrote it, to
        compare the two versions' cost on the same machine)."""
        self.frontier = protocol.Frontier()
        self.entries: list[tuple[int, str, str | None, bytes, bytes]] = []
        self.subtrees: list[tuple[int, int, int, bytes]] = []  # (end, level, idx, hash)
        for seq, (type_, notice_id, entry) in enumerate(synthetic_log(n, upgrade=n if version == 1 else 0)):
            leaf = protocol.leaf_hash(entry)
            self.entries.append((seq, type_, notice_id, entry, leaf))
            for start, end, h in self.frontier.append(leaf):
                level = (end - start).bit_length() - 1
                self.subtrees.append((end, level, start >> level, h))

    async def write(self, url: str, signer: LogSigner, start: int, end: int) -> None:
        conn = await asyncpg.connect(to_asyncpg_dsn(url))
        try:
            await conn.copy_records_to_table(
                "log_entry",
                records=self.entries[start:end],
                columns=["seq", "type", "notice_id", "entry", "leaf_hash"],
            )
            subtrees = [row[1:] for row in self.subtrees if start < row[0] <= end]
            await conn.copy_records_to_table(
                "log_subtree", records=subtrees, columns=["level", "idx", "hash"]
            )
            await conn.execute("VACUUM ANALYZE log_entry")
            await conn.execute("VACUUM ANALYZE log_subtree")
        finally:
            await conn.close()
        db = Database.from_url(url)
        async with db.transaction() as session:
            checkpoint = await store.ensure_checkpoint(session, signer)
        await db.dispose()
        assert checkpoint.size == end
        if end == len(self.entries):
            assert checkpoint.root == self.frontier.root()


async def bare(url: str, n: int) -> bytes:
    """Read the same rows the same way, hash leaves and nodes, nothing else."""
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    leaves: list[bytes] = []
    try:
        async with conn.transaction(readonly=True):
            cursor = await conn.cursor(
                "SELECT entry FROM log_entry WHERE seq >= $1 AND seq < $2 ORDER BY seq", 0, n
            )
            while rows := await cursor.fetch(FETCH):
                leaves.extend(hashlib.sha256(b"\x00" + row[0]).digest() for row in rows)
    finally:
        await conn.close()
    return protocol.root_from_leaf_hashes(leaves)


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument(
        "--new", type=int, default=10_000, help="entries added since the verification that kept the state"
    )
    parser.add_argument(
        "--protocol",
        type=int,
        choices=protocol.VERSIONS,
        default=protocol.VERSION,
        help="the notices' protocol: 2 (sealed bids, the default) or 1",
    )
    args = parser.parse_args()
    if not 0 < args.new < args.entries:
        parser.error("--new must be between 0 and --entries")
    signer = LogSigner(origin="bench.localhost/log", private_key=Ed25519PrivateKey.generate())
    known = args.entries - args.new
    with scratch_database() as url, tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        log = Log(args.entries, args.protocol)
        asyncio.run(log.write(url, signer, 0, known))
        kept, state = Path(folder) / "kept.json", Path(folder) / "state.json"
        source = DatabaseSource(url, signer)
        assert verifier.verify(source, state=str(kept)).ok  # the verification of the day before
        source.close()
        asyncio.run(log.write(url, signer, known, args.entries))
        print(
            f"filled {args.entries:,} entries (MSP/{args.protocol}) in {time.perf_counter() - started:.1f} s (a state kept at {known:,})"
        )
        timings: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for label in ("baseline", "verify", "log_only", "with_state") * 2:  # interleaved, best of two
            if label == "with_state":
                shutil.copyfile(kept, state)  # the state of the day before, each time
            used = _cpu()
            started = time.perf_counter()
            if label == "baseline":
                asyncio.run(bare(url, args.entries))
            else:
                source = DatabaseSource(url, signer)
                checked = verifier.verify(
                    source, notices=label != "log_only", state=str(state) if label == "with_state" else None
                )
                source.close()
                assert checked.ok, checked.human()
                if label == "verify":
                    report = checked
                if label == "with_state":
                    assert checked.as_dict()["notices"] == report.as_dict()["notices"]
                    carried = next(note for note in checked.notes if "keep the verdict" in note)
            elapsed = time.perf_counter() - started
            if elapsed < timings.get(label, elapsed + 1):
                timings[label] = elapsed
                cpu[label] = _cpu() - used
    statuses = Counter(n.status for n in report.notices.values())
    print(
        f"checked {len(report.notices):,} notices: "
        + ", ".join(f"{count:,} {status}" for status, count in statuses.most_common())
    )
    print(
        f"baseline (read rows + leaf and node hashes):   {timings['baseline']:.2f} s ({cpu['baseline']:.2f} s CPU in this process)"
    )
    print(
        f"market log verify --log-only (entries, tree):  {timings['log_only']:.2f} s ({cpu['log_only']:.2f} s CPU here and in its workers)"
    )
    print(
        f"market log verify (and every notice's draw):   {timings['verify']:.2f} s ({cpu['verify']:.2f} s CPU here and in its workers)"
    )
    print(
        f"market log verify --state, {args.new:,} new entries: {timings['with_state']:.2f} s ({cpu['with_state']:.2f} s CPU): {carried}"
    )
    # Other work on the machine slows the verifier's parallel part most: say how busy it was.
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for label, what in (
        ("log_only", "the log alone"),
        ("verify", "with every notice re-derived"),
        ("with_state", "with --state"),
    ):
        ratio = timings[label] / timings["baseline"]
        print(
            f"ratio {what}/baseline: {ratio:.2f} (goal <= {GOAL_RATIO}: {'met' if ratio <= GOAL_RATIO else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
