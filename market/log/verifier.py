"""Verifying a whole log: what MSP/1 section 5 asks of it, from any source of entries.

This module needs only the standard library and ``protocol`` (itself only ``cryptography``):
``ops/build_verifier.py`` joins the two into the single file ``ops/verify_log.py`` that a
supervisor runs without installing the marketplace. The package's ``market log verify``
runs the same code, against the database or a server.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from market.log import protocol

BATCH = 1000  # entries per request; the API's maximum


class SourceError(Exception):
    """The source of the log could not be read (network, HTTP status, database)."""


class Source(Protocol):
    """Where a verifier reads a log from: a server's API, or the database directly."""

    name: str

    def key(self) -> str: ...
    def checkpoint(self) -> str: ...
    def entries(self, start: int, end: int) -> Iterator[list[bytes]]:
        """Entries [start, end) in order, in batches of whatever size suits the source."""
        ...

    def inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes]]: ...
    def consistency(self, first: int, second: int) -> list[bytes]: ...


@dataclass
class Problem:
    message: str
    seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "message": self.message}


@dataclass
class Report:
    source: str
    origin: str | None = None
    size: int | None = None
    root: str | None = None
    entries_checked: int = 0
    checks: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "origin": self.origin,
            "size": self.size,
            "root": self.root,
            "entries_checked": self.entries_checked,
            "first_bad_seq": self.first_bad_seq,
            "checks": self.checks,
            "problems": [p.as_dict() for p in self.problems],
        }

    def human(self) -> str:
        lines = [f"log {self.origin or '?'} from {self.source}"]
        if self.size is not None:
            lines.append(f"  checkpoint: {self.size} entries, root {self.root}")
        lines += [f"  ok    {c}" for c in self.checks]
        for p in self.problems:
            where = f"entry {p.seq}: " if p.seq is not None else ""
            lines.append(f"  FAIL  {where}{p.message}")
        lines.append("VERIFIED" if self.ok else f"FAILED ({len(self.problems)} problem(s))")
        return "\n".join(lines)


def check_entry(raw: bytes, index: int, *, canonical: bool = False) -> str | None:
    """What is wrong with entry ``index`` on its own, or None: a JSON object whose top-level
    ``seq`` equals its index, with ``v`` 1, a ``type`` and a well-formed ``ts`` (section 3).
    ``canonical`` also requires the exact canonical spelling, at about three times the cost."""
    try:
        if canonical:
            entry = protocol.parse_canonical(raw)
        else:
            # raw_decode skips json.loads' type sniffing and whitespace handling: half the time.
            text = raw.decode("utf-8")
            entry, end = _DECODER.raw_decode(text)
            if end != len(text):
                return "trailing data after the JSON object"
            if not isinstance(entry, dict):
                return "not a JSON object"
    except (protocol.CanonicalJSONError, ValueError, RecursionError) as exc:
        return f"not canonical JSON ({exc})" if canonical else f"not JSON ({exc})"
    if entry.get("seq") != index or isinstance(entry.get("seq"), bool):
        return f"seq is {entry.get('seq')!r}, not its index {index}"
    if entry.get("v") != protocol.VERSION:
        return f"v is {entry.get('v')!r}, not {protocol.VERSION}"
    if not isinstance(entry.get("type"), str) or not entry["type"]:
        return "has no type"
    if not isinstance(entry.get("ts"), str) or not TS.fullmatch(entry["ts"]):
        return f"ts {entry.get('ts')!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ"
    return None


_DECODER = json.JSONDecoder()
TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def check_batch(entries: list[bytes], start: int, canonical: bool) -> tuple[int, str] | None:
    """The first problem among consecutive entries starting at index ``start``."""
    for offset, raw in enumerate(entries):
        problem = check_entry(raw, start + offset, canonical=canonical)
        if problem:
            return start + offset, problem
    return None


class EntryChecker:
    """Checks entries batch by batch while the caller goes on reading and hashing: in
    worker processes for a large log (parsing JSON costs several times what hashing does,
    and a verifier should not take much longer than reading the log), inline otherwise."""

    BATCH = 20_000
    PARALLEL_FROM = 50_000

    def __init__(self, size: int, *, canonical: bool) -> None:
        self.canonical = canonical
        self.pending: list[Any] = []
        self.found: list[tuple[int, str]] = []
        self.batch: list[bytes] = []
        self.start = 0
        self.pool: Any = None
        if size >= self.PARALLEL_FROM:
            import concurrent.futures
            import os

            workers = max(1, min(4, (os.cpu_count() or 2) - 1))
            self.pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers)

    def add(self, entries: list[bytes]) -> None:
        self.batch.extend(entries)
        if len(self.batch) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self.batch:
            return
        if self.pool is not None:
            self.pending.append(self.pool.submit(check_batch, self.batch, self.start, self.canonical))
        elif found := check_batch(self.batch, self.start, self.canonical):
            self.found.append(found)
        self.start += len(self.batch)
        self.batch = []

    def first_problem(self) -> tuple[int, str] | None:
        self._flush()
        for future in self.pending:
            if found := future.result():
                self.found.append(found)
        if self.pool is not None:
            self.pool.shutdown()
        return min(self.found) if self.found else None


def locate_difference(leaves: list[bytes], size: int, source: Source) -> int | None:
    """The first entry whose leaf hash differs from the tree the source stores, with
    O(log n) inclusion proofs: walk down from the root, at each step into the leftmost
    subtree whose stored hash differs from the one recomputed from the entries."""
    def ours(start: int, end: int) -> bytes:
        return protocol.root_from_leaf_hashes(leaves[start:end])

    lo, hi = 0, size
    while True:
        stored_leaf, proof = source.inclusion(lo, size)
        if stored_leaf != leaves[lo]:
            return lo
        if hi - lo == 1:
            return None
        ranges = protocol.subtree_ranges_for_inclusion(lo, size)
        narrower = None
        for (start, end), stored in zip(ranges, proof, strict=True):
            # The right-hand siblings inside [lo, hi) partition (lo, hi), nearest first.
            if lo < start and end <= hi and stored != ours(start, end):
                narrower = (start, end)
                break
        if narrower is None:
            return None
        lo, hi = narrower


def verify(
    source: Source,
    *,
    since: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    canonical: bool = False,
) -> Report:
    """Check the whole log behind ``source``; ``since`` is an older signed checkpoint;
    ``canonical`` also checks that every entry is spelled in canonical JSON."""
    report = Report(source=source.name)
    try:
        return _verify(source, report, since, progress, canonical)
    except SourceError as exc:
        report.problems.append(Problem(f"could not read the log: {exc}"))
        return report


def _verify(
    source: Source, report: Report, since: str | None, progress: Callable[[int, int], None] | None, canonical: bool
) -> Report:
    key = source.key().strip()
    try:
        origin, _, _ = protocol.parse_verifier_key(key)
    except (ValueError, protocol.NoteError) as exc:
        report.problems.append(Problem(f"the published key is malformed: {exc}"))
        return report
    report.origin = origin
    try:
        _, size, root = protocol.open_checkpoint(source.checkpoint(), key)
    except (ValueError, protocol.NoteError) as exc:
        report.problems.append(Problem(f"the checkpoint does not verify under the published key: {exc}"))
        return report
    report.size, report.root = size, root.hex()
    report.checks.append("checkpoint signature verifies under the published key")

    leaves: list[bytes] = []
    checker = EntryChecker(size, canonical=canonical)
    sha256 = hashlib.sha256
    for batch in source.entries(0, size):
        batch = batch[: size - len(leaves)]
        checker.add(batch)
        leaves.extend([sha256(b"\x00" + raw).digest() for raw in batch])  # protocol.leaf_hash, inlined
        if progress:
            progress(len(leaves), size)
        if len(leaves) >= size:
            break
    first = checker.first_problem()
    if first is not None:
        report.problems.append(Problem(first[1], seq=first[0]))
    report.entries_checked = len(leaves)
    if len(leaves) < size:
        report.problems.append(Problem(f"the checkpoint covers {size} entries but only {len(leaves)} were served", seq=len(leaves)))
        return report
    if not report.problems:
        what = "canonical JSON" if canonical else "JSON objects"
        report.checks.append(f"all {size} entries are {what} with seq equal to their index, v 1, a type and a ts")

    if protocol.root_from_leaf_hashes(leaves) == root:
        report.checks.append("the root recomputed from the entries equals the signed root")
    else:
        bad = locate_difference(leaves, size, source) if size else None
        if bad is None:
            report.problems.append(Problem("the root recomputed from the entries differs from the signed root"))
        else:
            report.problems.append(
                Problem("its bytes differ from those the signed tree holds (changed or replaced)", seq=bad)
            )

    if since is not None:
        _check_since(source, report, key, since, leaves, size, root)
    report.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return report


def _check_since(
    source: Source, report: Report, key: str, since: str, leaves: list[bytes], size: int, root: bytes
) -> None:
    try:
        _, old_size, old_root = protocol.open_checkpoint(since, key)
    except (ValueError, protocol.NoteError) as exc:
        report.problems.append(Problem(f"the older checkpoint does not verify under the published key: {exc}"))
        return
    if old_size > size:
        report.problems.append(Problem(f"the older checkpoint has {old_size} entries, more than the latest's {size}: the log was cut"))
        return
    proof = source.consistency(old_size, size)
    if not protocol.verify_consistency(old_size, size, old_root, root, proof):
        report.problems.append(Problem(f"the older checkpoint ({old_size} entries) is not consistent with the latest: history was rewritten"))
        return
    if protocol.root_from_leaf_hashes(leaves[:old_size]) != old_root:
        report.problems.append(Problem(f"the first {old_size} entries served do not hash to the older checkpoint's root"))
        return
    report.checks.append(f"the older checkpoint ({old_size} entries) is consistent with the latest")


# -- reading from a server ----------------------------------------------------------------


class HttpSource:
    """The five public endpoints of MSP/1 section 4."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base = base_url.rstrip("/")
        self.name = self.base
        self.timeout = timeout

    def _get(self, path: str, **params: int) -> bytes:
        url = f"{self.base}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310 (http(s) URLs the user gave)
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raise SourceError(f"GET {url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SourceError(f"GET {url}: {exc}") from None

    def key(self) -> str:
        return self._get("/api/v1/log/key").decode("utf-8")

    def checkpoint(self) -> str:
        return self._get("/api/v1/log/checkpoint").decode("utf-8")

    def entries(self, start: int, end: int) -> Iterator[list[bytes]]:
        position = start
        while position < end:
            body = self._get("/api/v1/log/entries", start=position, end=min(end, position + BATCH))
            lines = body.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            if not lines:
                return
            yield lines
            position += len(lines)

    def inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes]]:
        body = json.loads(self._get("/api/v1/log/proof/inclusion", index=index, size=size))
        return bytes.fromhex(body["leaf_hash"]), [bytes.fromhex(h) for h in body["hashes"]]

    def consistency(self, first: int, second: int) -> list[bytes]:
        body = json.loads(self._get("/api/v1/log/proof/consistency", first=first, second=second))
        return [bytes.fromhex(h) for h in body["hashes"]]


# -- command line -------------------------------------------------------------------------


def progress_bar(stream: Any = sys.stderr) -> Callable[[int, int], None]:
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        if total < 10_000 or not stream.isatty():
            return
        width = 30
        filled = int(width * done / total) if total else width
        rate = done / max(time.monotonic() - started, 1e-9)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} entries ({rate:,.0f}/s)")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="FILE", help="an older signed checkpoint to check for consistency")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--canonical", action="store_true", help="also check every entry's canonical JSON spelling (slower)")


def emit(report: Report, *, as_json: bool) -> int:
    print(json.dumps(report.as_dict(), indent=2) if as_json else report.human())
    return 0 if report.ok else 1


def read_since(path: str | None) -> str | None:
    if path is None:
        return None
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a market transparency log (MSP/1) through its public API.")
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    add_arguments(parser)
    args = parser.parse_args(argv)
    progress = None if args.json else progress_bar()
    report = verify(HttpSource(args.url), since=read_since(args.since), progress=progress, canonical=args.canonical)
    return emit(report, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
