"""Verifying a whole log: what MSP/1 section 5 asks of it, from any source of entries:
the log itself (seq, checkpoint, root, consistency), then every notice's story told by its
entries (the commitment, the bids, the candidates, the draw, and the award steps of
docs/selection.md), re-derived with the protocol's own functions.

This module needs only the standard library and ``protocol`` (itself only ``cryptography``):
``ops/build_verifier.py`` joins the two into the single file ``ops/verify_log.py`` that a
supervisor runs without installing the marketplace. The package's ``market log verify``
runs the same code, against the database or a server.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from market import protocol
from market.protocol.notice_report import (
    BLS_NOT_CHECKED,
    TLOCK_NOT_DECRYPTED,
    Claims,
    NoticeReport,
    Problem,
    concerns_notice,
)
from market.protocol.verify_entries import (
    BATCH,
    EntryChecker,
    Found,
    Report,
    Source,
    SourceError,
    Told,
    parse_entry,
)
from market.protocol.verify_sealed import ClaimSet, Joined, JoinPart, Sealed, join_part, merge_parts
from market.protocol.verify_state import State


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
    notice: str | None = None,
    notices: bool = True,
    state: str | None = None,
) -> Report:
    """Check the whole log behind ``source``, then every notice in it (only ``notice``, if
    given; none when not ``notices``); ``since`` is an older signed checkpoint;
    ``canonical`` also checks that every entry is spelled in canonical JSON; ``state`` is
    a file that keeps what this verification found, so that the next one re-derives only
    the notices with new entries (see ``State``)."""
    if state is not None and (notice is not None or not notices):
        raise ValueError(
            "a state file keeps every notice's verdict: it cannot go with one notice or the log alone"
        )
    report = Report(source=source.name, notice=notice)
    try:
        return _verify(source, report, since, progress, canonical, notice, notices, state)
    except SourceError as exc:
        report.problems.append(Problem(f"could not read the log: {exc}"))
        return report


def _verify(
    source: Source,
    report: Report,
    since: str | None,
    progress: Callable[[int, int], None] | None,
    canonical: bool,
    notice: str | None,
    notices: bool = True,
    state_path: str | None = None,
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

    state: State | None = None
    if state_path is not None:
        state, why_not = State.load(state_path, key=key, canonical=canonical)
        if why_not:
            report.notes.append(why_not)
        if state is not None and state.size > size:
            report.problems.append(
                Problem(
                    f"the log has {size} entries, fewer than the {state.size} verified on {state.made} (state {state_path}): it was cut"
                )
            )
            state = None
        # Checked first, so that a rewritten log is verified once, in full. (The proof is
        # the server's: the entries served are held to the signed root below, as always.)
        if state is not None and not protocol.verify_consistency(
            state.size, size, state.root, root, source.consistency(state.size, size)
        ):
            report.problems.append(
                Problem(
                    f"the log is not consistent with the {state.size} entries verified on {state.made} (state {state_path}): history was rewritten"
                )
            )
            state = None
    # With a state, entries before state.size are checked only where they belong to a
    # notice that has new entries: the others are the ones verified then (checked below).
    known = state.size if state is not None else 0
    replay = (
        sorted(state.entries_of(_notices_named(source, known, size, canonical))) if state is not None else []
    )

    leaves: list[bytes] = []
    checker = EntryChecker(
        size - known + len(replay),
        canonical=canonical,
        notice=notice,
        notices=notices,
        record=state_path is not None,
    )
    try:
        sha256 = hashlib.sha256
        for batch in source.entries(0, size):
            batch = batch[: size - len(leaves)]
            at, end = len(leaves), len(leaves) + len(batch)
            if at >= known:
                checker.add(batch, range(at, end))
            else:  # the known entries of the notices to re-derive, then any new ones
                picked = replay[bisect.bisect_left(replay, at) : bisect.bisect_left(replay, end)] + list(
                    range(max(at, known), end)
                )
                if picked:
                    checker.add([batch[seq - at] for seq in picked], picked)
            leaves.extend([sha256(b"\x00" + raw).digest() for raw in batch])  # protocol.leaf_hash, inlined
            if progress:
                progress(len(leaves), size)
            if len(leaves) >= size:
                break
        report.entries_checked = len(leaves)
        # The workers finish their share of the entries while this process checks the tree.
        checker.end_of_log()
        if len(leaves) < size:
            report.problems.append(
                Problem(
                    f"the checkpoint covers {size} entries but only {len(leaves)} were served",
                    seq=len(leaves),
                )
            )
        else:
            _check_tree(source, report, since, key, leaves, size, root)
        found = checker.results()
        first, told = found.first, found.told
        joining = _join_parts(checker, found, state, notice) if notices else None
    finally:
        checker.close()
    if state is not None and len(leaves) == size:
        report.checks.append(
            f"the first {state.size} entries are the ones verified on {state.made}: the log is consistent with the checkpoint kept then"
        )
    if first is not None:
        report.problems.append(Problem(first[1], seq=first[0]))
    elif len(leaves) == size:
        what = "canonical JSON" if canonical else "JSON objects"
        which = (
            f"all {size} entries"
            if state is None
            else f"entries {known} to {size - 1} (and the earlier ones of their notices)"
        )
        if state is None or size > known:
            report.checks.insert(
                1, f"{which} are {what} with seq equal to their index, v 1 or 2, a type and a ts"
            )
    kept: list[Told] = []
    if state is not None:
        kept = state.told_except({t.report.notice_id for t in told})
        report.notes.append(
            f"{len(kept)} notice(s) with no new entry keep the verdict of {state.made} (state {state_path}); "
            f"{len(told)} re-derived"
        )
    joined = _join(report, joining, told, kept, notice) if notices else None
    if state is not None:
        told = sorted(told + kept, key=lambda t: t.first_seq)
    _add_notice_reports(report, [t.report for t in told], notice)
    if not notices:
        report.notes.append(
            "the notices' stories (MSP/1 section 5: commitments, bids, the draws) were not re-derived (--log-only)"
        )
        report.notes.append(
            "MSP/2 sealed bid entries were not joined with their openings (--log-only: no notice re-derived, so no "
            "opening claims them), so whether each was opened exactly once was not checked"
        )
    report.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    if state_path is not None:
        if report.ok:
            State.save(
                state_path,
                key=key,
                canonical=canonical,
                size=size,
                root=root,
                told=told,
                kept=state,
                pending=joined.pending if joined is not None else Sealed(),
                log_time=joined_time(found, state),
            )
        else:  # a cut or rewritten log among them: the state stays, the evidence of what was verified
            report.notes.append(
                f"the state {state_path} was left as it was: only a verification that passes is kept"
            )
    return report


def joined_time(found: Found, state: State | None) -> str:
    """The log's time: the greatest ts among the entries read (and those a state read)."""
    return max(found.latest, state.log_time if state is not None else "")


@dataclass
class Joining:
    """The join under way: the openings' claims (of the notices re-derived) and each
    shard's part of it (and the part of the sealed entries a state kept pending)."""

    claims: list[Claims]
    claim_set: ClaimSet
    parts: list[JoinPart]
    log_time: str


def _join_parts(
    checker: EntryChecker, found: Found, state: State | None, notice: str | None
) -> Joining | None:
    """Have the shards join the claims of every opening with the sealed entries they read
    (MSP/2 section 7.6): in the workers, while they still hold them. None for a log with
    no sealed entry and no opening (MSP/1)."""
    pending = state.pending if state is not None else Sealed()
    claims = [t.claims for t in found.told if t.claims is not None]
    if not claims and not found.sealed_count and not len(pending):
        return None  # an MSP/1 log: nothing sealed, nothing to say
    log_time = joined_time(found, state) or "0001-01-01T00:00:00.000000Z"
    claim_set = ClaimSet.of(claims)
    parts = checker.join(claim_set, log_time=log_time, complete=notice is None)
    if len(pending):
        parts.append(join_part(pending, claim_set, log_time=log_time, complete=notice is None))
    return Joining(claims, claim_set, parts, log_time)


def _join(
    report: Report, joining: Joining | None, told: list[Told], kept: list[Told], notice: str | None
) -> Joined:
    """The shards' parts of the join together, each claim's problem in its notice's report
    and the log's own (unopened, doubly claimed) in ``report``."""
    if joining is None:
        return Joined()
    kept_claims = [
        (t.report.notice_id, t.claims.opening_seq, t.claims.seqs) for t in kept if t.claims is not None
    ]
    joined = merge_parts(joining.claims, joining.claim_set, joining.parts, kept=kept_claims)
    reports = {t.report.notice_id: t.report for t in told}
    for notice_id, problems in joined.notice_problems.items():
        reports[notice_id].problems.extend(problems)
        reports[notice_id].problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    report.problems.extend(joined.problems)
    log_time = joining.log_time
    if joined.opened:
        report.checks.append(
            f"{joined.opened} tlock ciphertext(s) of opened sealed entries decrypt, with their round's signature, to exactly "
            "the timelock plaintexts of their openings"
        )
    if notice is not None:
        report.notes.append(
            f"--notice: only notice {notice}'s openings were joined with the sealed entries; whether every other sealed "
            "entry was opened, and opened once, was not checked (verify the whole log for that)"
        )
    elif not joined.problems:
        report.checks.append(
            f"every sealed bid entry (MSP/2) is opened exactly once or still within the bid window "
            f"({len(joined.pending)} still within it at the log's time {log_time})"
        )
    return joined


def _notices_named(source: Source, start: int, end: int, canonical: bool) -> set[str]:
    """The notices that entries ``start`` to ``end - 1`` name (each is read in full later)."""
    named: set[str] = set()
    if start >= end:
        return named
    seq = start
    for batch in source.entries(start, end):
        for raw in batch[: end - seq]:
            entry, _ = parse_entry(raw, seq, canonical=canonical)
            if (
                entry is not None
                and concerns_notice(entry.get("type"))
                and isinstance(entry.get("notice_id"), str)
            ):
                named.add(entry["notice_id"])
            seq += 1
        if seq >= end:
            break
    return named


def _check_tree(
    source: Source, report: Report, since: str | None, key: str, leaves: list[bytes], size: int, root: bytes
) -> None:
    if protocol.root_from_leaf_hashes(leaves) == root:
        report.checks.append("the root recomputed from the entries equals the signed root")
    else:
        bad = locate_difference(leaves, size, source) if size else None
        if bad is None:
            report.problems.append(
                Problem("the root recomputed from the entries differs from the signed root")
            )
        else:
            report.problems.append(
                Problem("its bytes differ from those the signed tree holds (changed or replaced)", seq=bad)
            )

    if since is not None:
        _check_since(source, report, key, since, leaves, size, root)


def _add_notice_reports(report: Report, reports: list[NoticeReport], notice: str | None) -> None:
    for result in reports:  # in the order the notices first appear in the log
        report.notices[result.notice_id] = result
    if notice is not None and notice not in report.notices:
        report.problems.append(Problem(f"no entries for notice {notice}"))
        return
    if reports and all(r.ok for r in reports):
        which = f"notice {notice}" if notice is not None else f"all {len(reports)} notices"
        v2 = sum(r.version == 2 for r in reports)
        if not v2:  # as it always read
            report.checks.append(f"{which}: MSP/1 section 5 per-notice checks and the award steps pass")
        else:
            rules = (
                f"{len(reports) - v2} under MSP/1 section 5, {v2} under MSP/2"
                if v2 < len(reports)
                else "MSP/2"
            )
            report.checks.append(
                f"{which}: per-notice checks under each notice's own rules ({rules}: openings recomputed to their sealed "
                "commitments, standing bids, bid window, sealing) and the award steps pass"
            )
    for note in (BLS_NOT_CHECKED, TLOCK_NOT_DECRYPTED):
        count = sum(note in r.notes for r in reports)
        if count:
            report.notes.append(f"{note} ({count} notice(s))")


def _check_since(
    source: Source, report: Report, key: str, since: str, leaves: list[bytes], size: int, root: bytes
) -> None:
    try:
        _, old_size, old_root = protocol.open_checkpoint(since, key)
    except (ValueError, protocol.NoteError) as exc:
        report.problems.append(
            Problem(f"the older checkpoint does not verify under the published key: {exc}")
        )
        return
    if old_size > size:
        report.problems.append(
            Problem(
                f"the older checkpoint has {old_size} entries, more than the latest's {size}: the log was cut"
            )
        )
        return
    proof = source.consistency(old_size, size)
    if not protocol.verify_consistency(old_size, size, old_root, root, proof):
        report.problems.append(
            Problem(
                f"the older checkpoint ({old_size} entries) is not consistent with the latest: history was rewritten"
            )
        )
        return
    if protocol.root_from_leaf_hashes(leaves[:old_size]) != old_root:
        report.problems.append(
            Problem(f"the first {old_size} entries served do not hash to the older checkpoint's root")
        )
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
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
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
    parser.add_argument(
        "--canonical", action="store_true", help="also check every entry's canonical JSON spelling (slower)"
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--notice", metavar="N-...", help="check this notice alone (default: every notice in the log)"
    )
    scope.add_argument(
        "--log-only",
        action="store_true",
        help="check the log alone (every entry, the tree, the checkpoint) without re-deriving each notice's draw: a few times faster",
    )
    scope.add_argument(
        "--state",
        metavar="FILE",
        help="keep what a passing verification found in FILE, and next time re-derive only the notices with new entries "
        "(every entry is still read and hashed, and the tree checked); created if missing",
    )


def emit(report: Report, *, as_json: bool) -> int:
    print(json.dumps(report.as_dict(), indent=2) if as_json else report.human())
    return 0 if report.ok else 1


def read_since(path: str | None) -> str | None:
    if path is None:
        return None
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Verify a market transparency log (MSP/1 and MSP/2) through its public API."
    )
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    add_arguments(parser)
    args = parser.parse_args(argv)
    progress = None if args.json else progress_bar()
    report = verify(
        HttpSource(args.url),
        since=read_since(args.since),
        progress=progress,
        canonical=args.canonical,
        notice=args.notice,
        notices=not args.log_only,
        state=args.state,
    )
    return emit(report, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
