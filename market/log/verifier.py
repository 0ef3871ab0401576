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
import array
import base64
import binascii
import bisect
import hashlib
import itertools
import json
import operator
import pickle
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from market.log import protocol, tlock
from market.log.notice_checks import (
    BLS_NOT_CHECKED,
    HEX64,
    TLOCK_NOT_DECRYPTED,
    TS,
    V1_ONLY_TYPES,
    V2_ONLY_TYPES,
    Claims,
    NoticeCheck,
    NoticeReport,
    Problem,
    concerns_notice,
    drand_verify,
    is_id,
)

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
class Report:
    source: str
    origin: str | None = None
    size: int | None = None
    root: str | None = None
    entries_checked: int = 0
    checks: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # limits of what was checked, not faults
    notices: dict[str, NoticeReport] = field(default_factory=dict)
    notice: str | None = None  # the one notice asked for, if any

    @property
    def ok(self) -> bool:
        return not self.problems and all(n.ok for n in self.notices.values())

    @property
    def all_problems(self) -> list[Problem]:
        return self.problems + [p for n in self.notices.values() for p in n.problems]

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [p.seq for p in self.all_problems if p.seq is not None]
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
            "notes": self.notes,
            "problems": [p.as_dict() for p in self.problems],
            "notices": {notice_id: n.as_dict() for notice_id, n in self.notices.items()},
        }

    def human(self) -> str:
        lines = [f"log {self.origin or '?'} from {self.source}"]
        if self.size is not None:
            lines.append(f"  checkpoint: {self.size} entries, root {self.root}")
        lines += [f"  ok    {c}" for c in self.checks]
        for p in self.problems:
            where = f"entry {p.seq}: " if p.seq is not None else ""
            lines.append(f"  FAIL  {where}{p.message}")
        lines += [f"  note  {n}" for n in self.notes]
        # Every notice when there are few or one was asked for; else the failing ones and a
        # count, so a large log's report stays readable.
        brief = self.notice is None and len(self.notices) > MANY_NOTICES
        passed = 0
        for report in self.notices.values():
            if brief and report.ok:
                passed += 1
            else:
                lines += report.lines()
        if passed:
            lines.append(f"  ok    {passed} other notices pass every check")
        problems = len(self.all_problems)
        lines.append("VERIFIED" if self.ok else f"FAILED ({problems} problem(s))")
        return "\n".join(lines)


def check_entry(raw: bytes, index: int, *, canonical: bool = False) -> str | None:
    """What is wrong with entry ``index`` on its own, or None: a JSON object whose top-level
    ``seq`` equals its index, with ``v`` 1 or 2, a ``type`` and a well-formed ``ts`` (section
    3); a ``bid.sealed`` entry is v 2 with a commitment (and a tlock ciphertext) and nothing
    else, ``bid.accepted`` and ``bid.withdrawn`` are v 1 (MSP/2, docs/protocol/msp.md).
    ``canonical`` also requires the exact canonical spelling, at about three times the cost."""
    return parse_entry(raw, index, canonical=canonical)[1]


def parse_entry(
    raw: bytes, index: int, *, canonical: bool = False
) -> tuple[dict[str, Any] | None, str | None]:
    """The entry as a dict (None if it is not a JSON object) and what is wrong with it."""
    try:
        if canonical:
            entry = protocol.parse_canonical(raw)
        elif (
            _FAST_DECODE is not None
            and raw[:1] == b"{"
            and raw[-1:] == b"}"
            and type(entry := _fast_decode(raw)) is dict
        ):
            pass  # the same dict the standard library gives (see _fast_decode)
        else:
            # raw_decode skips json.loads' type sniffing and whitespace handling: half the time.
            text = raw.decode("utf-8")
            entry, end = _DECODER.raw_decode(text)
            if end != len(text):
                return None, "trailing data after the JSON object"
            if not isinstance(entry, dict):
                return None, "not a JSON object"
    except (protocol.CanonicalJSONError, ValueError, RecursionError) as exc:
        return None, f"not canonical JSON ({exc})" if canonical else f"not JSON ({exc})"
    if entry.get("seq") != index or isinstance(entry.get("seq"), bool):
        return entry, f"seq is {entry.get('seq')!r}, not its index {index}"
    v = entry.get("v")
    if type(v) is not int or v not in protocol.VERSIONS:  # (not a bool: true == 1)
        return entry, f"v is {v!r}, not 1 or 2"
    kind = entry.get("type")
    if not isinstance(kind, str) or not kind:
        return entry, "has no type"
    if not isinstance(entry.get("ts"), str) or not TS.fullmatch(entry["ts"]):
        return entry, f"ts {entry.get('ts')!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ"
    if kind == SEALED:
        commitment = entry.get("commitment")
        if v == 2 and len(entry) == 5 and type(commitment) is str and HEX64.fullmatch(commitment):
            return entry, None  # most of an MSP/2 log: its checks in one line
        return entry, _sealed_problem(entry)
    if v != 1 and kind in V1_ONLY_TYPES:
        return entry, f"{kind} exists only in MSP/1 (v 1); MSP/2 bids are bid.sealed entries"
    if v != 2 and kind in V2_ONLY_TYPES:
        return entry, f"{kind} exists only in MSP/2: v must be 2"
    return entry, None


SEALED = protocol.SEALED_TYPE
SEALED_FIELDS = frozenset({"v", "seq", "type", "ts", "commitment", "tlock"})


def _sealed_problem(entry: dict[str, Any]) -> str | None:
    """What is wrong with a ``bid.sealed`` entry: it exists in MSP/2 only, and holds a
    commitment (and, for a tlock notice, a ciphertext) and nothing else, nothing that could
    tie it to a notice or an agency before its opening."""
    if entry["v"] != 2:
        return "bid.sealed exists only in MSP/2: v must be 2"
    extra = entry.keys() - SEALED_FIELDS
    if extra:
        return f"bid.sealed holds {', '.join(sorted(extra))}: a sealed entry holds its commitment (and tlock) and nothing else"
    commitment = entry.get("commitment")
    if not (isinstance(commitment, str) and HEX64.fullmatch(commitment)):
        return "bid.sealed commitment is not 64 lowercase hex digits"
    if "tlock" in entry:
        return _tlock_field_problem(entry["tlock"])
    return None


# Every tlock field of MSP/2 is 704 bytes (a 512-byte plaintext: docs/protocol/msp.md 3.2),
# 940 characters of standard base64 with one padding character.
TLOCK_FIELD_BYTES = 704
_TLOCK_FIELD = re.compile(r"[A-Za-z0-9+/]{938}[AEIMQUYcgkosw048]=")


def _tlock_field_problem(value: Any) -> str | None:
    """What is wrong with the form of a sealed entry's ``tlock`` field (without opening it):
    canonical standard base64 with padding of exactly TLOCK_FIELD_BYTES bytes."""
    if not isinstance(value, str) or not value:
        return "bid.sealed tlock is not a non-empty string"
    # (the last character before the padding carries 4 bits: its 2 low ones zero, canonical)
    if _TLOCK_FIELD.fullmatch(value) is None:
        try:
            size = len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            return "bid.sealed tlock is not canonical standard base64 with padding"
        if size != TLOCK_FIELD_BYTES:
            return f"bid.sealed tlock holds {size} bytes, not {TLOCK_FIELD_BYTES} (a timelocked 512-byte plaintext)"
        return "bid.sealed tlock is not canonical standard base64 with padding"
    return None


_DECODER = json.JSONDecoder()

try:  # optional: four times faster than the json module, with the same answers (below)
    import msgspec

    _FAST_DECODE: Callable[[bytes], Any] | None = msgspec.json.Decoder().decode
    _FAST_ENCODE: Callable[[Any], bytes] | None = msgspec.json.Encoder().encode
except ImportError:  # pragma: no cover - depends on the environment
    _FAST_DECODE = _FAST_ENCODE = None


def _fast_decode(raw: bytes) -> Any:
    """msgspec's reading of ``raw``, None where it refuses it. Where it accepts an object
    it gives what ``json`` gives (keys, big integers, floats, the last of duplicate keys:
    tests/unit/log/test_fast_decode.py). What it refuses (lone surrogates, NaN, 1e400,
    malformed input) goes to ``json``, whose answer or error is the verdict; and the caller
    takes its answer only for bytes that start with ``{`` and end with ``}``, since msgspec
    also skips the whitespace around a document, which ``raw_decode`` does not."""
    assert _FAST_DECODE is not None
    try:
        return _FAST_DECODE(raw)
    except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError, as is bad UTF-8
        return None


MANY_NOTICES = 50  # beyond this, human() lists only the failing notices


# -- checking entries and notices, in worker processes for a large log -----------------------

# Shards route an entry by the notice it names, read from its bytes without parsing them:
# every occurrence of the key "notice_id" followed by the same id. Anything less plain (an
# occurrence in another spelling, two different ids, a backslash that could hide an escaped
# key) is AMBIGUOUS and parsed by every shard, so no entry can slip past its notice's checks.
_NOTICE_ID_KEY = b'"notice_id"'
_NOTICE_ID_FIELD = re.compile(rb'"notice_id":"([A-Za-z0-9._:-]{1,64})"')
AMBIGUOUS = "\0"  # no notice_id can hold it: JSON spells a NUL with a backslash


def notice_key(raw: bytes) -> str | None:
    """The notice an entry's bytes name, None if they name none, AMBIGUOUS if unsure."""
    if b"\\" in raw:
        return AMBIGUOUS
    count = raw.count(_NOTICE_ID_KEY)
    if not count:
        return None
    if count == 1:  # most entries: find the value without a regular expression
        at = raw.find(b'"notice_id":"') + 13
        end = raw.find(b'"', at)
        if at == 12 or end < 0:
            return AMBIGUOUS
        # Any bytes will do to route by: an owner is all that is chosen here, and it
        # reports the entry if its notice_id turns out not to be an id.
        return raw[at:end].decode("utf-8", "replace")
    found = _NOTICE_ID_FIELD.findall(raw)
    if len(found) != count or found.count(found[0]) != count:
        return AMBIGUOUS
    return found[0].decode("ascii")


def shard_of(notice_id: str, shards: int) -> int:
    # crc32, not hash(): it must agree across processes, whatever their hash seed.
    return zlib.crc32(notice_id.encode("utf-8")) % shards if shards > 1 else 0


class Shard:
    """What one process checks: the entries it is given on their own, and the story of
    every notice it owns, fed entry by entry as the log streams past. The entries that name
    a notice are given to that notice's shard, the others to the shard whose turn the batch
    is (``EntryChecker._route``)."""

    def __init__(
        self,
        index: int,
        shards: int,
        canonical: bool,
        notice: str | None,
        notices: bool = True,
        record: bool = False,
    ) -> None:
        self.index, self.shards = index, shards
        self.canonical = canonical
        self.notice = notice
        self.notices = notices  # False: the log alone, no notice's story re-derived
        self.first: tuple[int, str] | None = None
        self.checks: dict[str, NoticeCheck] = {}
        # record: which entries each notice's story holds, for a state file (see State)
        self.seqs: dict[str, array.array[int]] | None = {} if record else None
        # MSP/2: the sealed entries among those given, for the join with the openings
        # (none with the log alone: there are no openings to join them with)
        self.sealed: Sealed | None = Sealed() if notices else None
        self.latest = ""  # the greatest well-formed ts among the entries given

    def take(self, seqs: Iterable[int], raws: list[bytes], quiet: Collection[int] = ()) -> None:
        """The entries ``raws``, whose indexes are ``seqs``. ``quiet``: indexes of entries
        another shard reports on their own (one whose notice could not be read from its
        bytes goes to every shard, which feeds it to its notice if it owns that)."""
        quiet = set(quiet)
        sealed, latest = self.sealed, self.latest
        for seq, raw in zip(seqs, raws):
            entry, problem = parse_entry(raw, seq, canonical=self.canonical)
            if entry is not None:
                kind = entry.get("type")
                ts = entry.get("ts")
                if type(ts) is str and ts > latest and (problem is None or TS.fullmatch(ts)):
                    latest = ts
                if kind == SEALED:
                    # (an entry sent to every shard is collected by the one that reports it)
                    if sealed is not None and not (quiet and seq in quiet):
                        commitment = entry.get("commitment")
                        if problem is None:  # (parse_entry checked the commitment and the ts)
                            sealed.add(seq, commitment, ts, entry.get("tlock"))
                        elif (
                            type(commitment) is str
                            and HEX64.fullmatch(commitment)
                            and type(ts) is str
                            and TS.fullmatch(ts)
                        ):
                            field = entry.get("tlock")
                            sealed.add(
                                seq,
                                commitment,
                                ts,
                                field if type(field) is str else "" if "tlock" in entry else None,
                            )
                elif concerns_notice(kind):
                    notice_id = entry.get("notice_id")
                    check = self.checks.get(notice_id) if isinstance(notice_id, str) else None
                    if check is None:
                        if not is_id(notice_id):
                            problem = problem or f"{kind} has no notice_id"
                        elif (
                            self.notices
                            and (self.notice is None or notice_id == self.notice)
                            and shard_of(notice_id, self.shards) == self.index
                        ):
                            check = self.checks[notice_id] = NoticeCheck(notice_id)
                            if self.seqs is not None:
                                self.seqs[notice_id] = array.array("q")
                    if check is not None:
                        check.feed(seq, entry, ts_checked=problem is None)
                        if self.seqs is not None:
                            self.seqs[check.notice_id].append(seq)
            if problem and self.first is None and not (quiet and seq in quiet):
                self.first = seq, problem
        self.latest = latest

    def result(self, *, keep_sealed: bool = False) -> Found:
        """The first problem found, each notice's report, and the sealed entries (or, when
        ``keep_sealed``, only how many: the shard joins them itself, ``join_part``)."""
        seqs = self.seqs or {}
        told = [
            Told(check.first_seq or 0, check.finish(), seqs.get(check.notice_id), check.claims)
            for check in self.checks.values()
        ]
        sealed = self.sealed or Sealed()
        return Found(self.first, told, Sealed() if keep_sealed else sealed, self.latest, len(sealed))


@dataclass
class Told:
    """One notice's story as a verification found it: the seq it starts at, the report and,
    when recorded, the indexes of its entries; and what its MSP/2 opening claims (from a
    state file: only the opening's seq and the claimed seqs, already joined)."""

    first_seq: int
    report: NoticeReport
    seqs: Sequence[int] | None = None
    claims: Claims | None = None


class Sealed:
    """``bid.sealed`` entries, compact: a million-entry MSP/2 log holds some 600,000 of them,
    so per entry 8 bytes of seq, 32 of commitment, 27 of ts and one saying whether it has
    a tlock ciphertext, in four flat arrays rather than as objects; and the tlock fields
    themselves (only tlock notices' entries have one) by seq."""

    __slots__ = ("commitments", "fields", "seqs", "tlock", "ts")
    TS_BYTES = 27

    def __init__(self) -> None:
        self.seqs = array.array("q")
        self.commitments = bytearray()
        self.ts = bytearray()
        self.tlock = bytearray()
        self.fields: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.seqs)

    def add(self, seq: int, commitment_hex: str, ts: str, field: str | None) -> None:
        """``field``: the entry's tlock ciphertext, None if it has none."""
        self.seqs.append(seq)
        self.commitments += bytes.fromhex(commitment_hex)
        self.ts += ts.encode("ascii")
        if field is None:
            self.tlock.append(0)
        else:
            self.tlock.append(1)
            self.fields[seq] = field

    def extend(self, other: Sealed) -> None:
        self.seqs.extend(other.seqs)
        self.commitments += other.commitments
        self.ts += other.ts
        self.tlock += other.tlock
        self.fields.update(other.fields)

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.seqs, self.commitments, self.ts, self.tlock, self.fields)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.seqs, self.commitments, self.ts, self.tlock, self.fields = state

    def rows(self) -> list[list[Any]]:
        """As a state file keeps them, in seq order: [seq, commitment hex, ts, tlock 0 or
        1], and the tlock field after them when there is one."""
        n, width = len(self), self.TS_BYTES
        rows = [
            [
                self.seqs[i],
                self.commitments[32 * i : 32 * i + 32].hex(),
                self.ts[width * i : width * i + width].decode("ascii"),
                self.tlock[i],
            ]
            for i in range(n)
        ]
        for row in rows:
            if row[0] in self.fields:
                row.append(self.fields[row[0]])
        rows.sort(key=lambda row: row[0])
        return rows

    @classmethod
    def from_rows(cls, rows: Any) -> Sealed:
        sealed = cls()
        for row in rows:
            seq, commitment, ts, flag = row[:4]
            field = row[4] if len(row) == 5 else None
            if not (
                _is_count(seq)
                and isinstance(commitment, str)
                and HEX64.fullmatch(commitment)
                and isinstance(ts, str)
                and TS.fullmatch(ts)
                and flag in (0, 1)
                and len(row) in (4, 5)
                and (field is None or (flag == 1 and isinstance(field, str)))
            ):
                raise ValueError(f"pending sealed entry {seq!r}")
            sealed.add(seq, commitment, ts, field if field is not None else "" if flag else None)
            if flag and field is None:
                del sealed.fields[seq]
        return sealed


@dataclass
class Found:
    """What the shards found: the first entry with a problem of its own, every notice's
    story, the sealed entries, and the log's time (the greatest ts read)."""

    first: tuple[int, str] | None
    told: list[Told]
    sealed: Sealed  # (empty when the workers keep them for their part of the join)
    latest: str
    sealed_count: int = 0


def _shard_process(
    index: int,
    shards: int,
    canonical: bool,
    notice: str | None,
    notices: bool,
    record: bool,
    inbox: Any,
    outbox: Any,
) -> None:
    """A worker process: batches from ``inbox`` (pickled once by the reader, for every
    shard) until None, then its result into ``outbox``."""
    import gc

    # What a shard builds (parsed entries, notice states) holds no reference cycles, so the
    # cycle collector would only rescan an ever larger heap: a sixth of the time, saved.
    gc.disable()
    shard = Shard(index, shards, canonical, notice, notices, record)
    while (payload := inbox.get()) is not None:
        shard.take(*pickle.loads(payload))
    outbox.put((index, pickle.dumps(shard.result(keep_sealed=True), protocol=pickle.HIGHEST_PROTOCOL)))
    # Then its part of the join of every opening's claims with the sealed entries it read
    # (MSP/2), unless the verification needs none (None).
    job = inbox.get()
    if job is not None:
        claims, log_time, complete = pickle.loads(job)
        part = join_part(shard.sealed or Sealed(), claims, log_time=log_time, complete=complete)
        outbox.put((index, pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)))


class EntryChecker:
    """Checks entries and notices batch by batch while the caller goes on reading and
    hashing: in worker processes for a large log (parsing JSON and re-deriving draws cost
    several times what hashing does, and a verifier should not take much longer than reading
    the log), inline otherwise. Each worker is sent only its share of each batch."""

    BATCH = 20_000
    PARALLEL_FROM = 50_000
    MAX_WORKERS = 4
    QUEUED = 2  # batches waiting per worker: enough to keep it busy, not to pile the log up

    def __init__(
        self,
        size: int,
        *,
        canonical: bool,
        notice: str | None = None,
        notices: bool = True,
        record: bool = False,
    ) -> None:
        """``size``: how many entries will be added; ``record``: note which entries each
        notice's story holds (``Told.seqs``)."""
        self.batch: list[bytes] = []
        self.seqs: list[int] = []
        self.number = 0
        self.ended = False
        self.shard: Shard | None = None
        self.dealt = False
        self.workers: list[tuple[Any, Any]] = []
        self.owners: dict[str, int] = {}  # notice key -> its worker, computed once per notice
        self.outbox: Any = None
        if size < self.PARALLEL_FROM:
            self.shard = Shard(0, 1, canonical, notice, notices, record)
            return
        import multiprocessing
        import os

        # As many as there are CPUs: this process (reading, hashing) needs less than one, and
        # is idle once the log is read while the notices' checks still have work.
        shards = max(1, min(self.MAX_WORKERS, os.cpu_count() or 1))
        # Without the notices' checks an entry needs nothing but itself: each batch goes
        # whole to one worker in turn, instead of being split by notice (``_route``).
        self.dealt = not notices
        context = multiprocessing.get_context()
        self.outbox = context.Queue()
        for index in range(shards):
            inbox = context.Queue(maxsize=self.QUEUED)
            shard_args = (0, 1) if self.dealt else (index, shards)
            process = context.Process(
                target=_shard_process,
                args=(*shard_args, canonical, notice, notices, record, inbox, self.outbox),
                daemon=True,
            )
            process.start()
            self.workers.append((process, inbox))

    def add(self, entries: list[bytes], seqs: Iterable[int]) -> None:
        """``entries``, whose indexes are ``seqs``, in log order."""
        self.batch.extend(entries)
        self.seqs.extend(seqs)
        if len(self.batch) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self.batch:
            return
        seqs = self.seqs
        if self.shard is not None:
            self.shard.take(seqs, self.batch)
        elif self.dealt:
            payload = pickle.dumps((seqs, self.batch), protocol=pickle.HIGHEST_PROTOCOL)
            self._put(*self.workers[self.number % len(self.workers)], payload)
        else:
            for (process, inbox), share in zip(self.workers, self._route(seqs)):
                self._put(process, inbox, pickle.dumps(share, protocol=pickle.HIGHEST_PROTOCOL))
        self.number += 1
        self.batch, self.seqs = [], []

    def _route(self, seqs: list[int]) -> list[tuple[list[int], list[bytes], list[int]]]:
        """Each worker's share of the batch, as ``Shard.take``'s arguments: the entries of
        the notices it owns, the entries naming no notice when it is the batch's turn, and
        every entry whose notice cannot be read from its bytes (reported by the turn's
        worker alone). Done here once rather than by every worker for the whole batch."""
        shards = len(self.workers)
        turn = self.number % shards
        shares: list[tuple[list[int], list[bytes], list[int]]] = [([], [], []) for _ in range(shards)]
        owners = self.owners
        for seq, raw in zip(seqs, self.batch):
            key = notice_key(raw)
            if key is None:
                owner = turn
            elif key == AMBIGUOUS:
                for index, (to_seqs, to_raws, quiet) in enumerate(shares):
                    to_seqs.append(seq)
                    to_raws.append(raw)
                    if index != turn:
                        quiet.append(seq)
                continue
            else:
                owner = owners.get(key)  # type: ignore[assignment]
                if owner is None:
                    owner = owners[key] = shard_of(key, shards)
            share = shares[owner]
            share[0].append(seq)
            share[1].append(raw)
        return shares

    @staticmethod
    def _put(process: Any, inbox: Any, payload: bytes | None) -> None:
        import queue

        while True:  # a worker that died must not leave the reader waiting for ever
            try:
                inbox.put(payload, timeout=1.0)
                return
            except queue.Full:
                if not process.is_alive():
                    raise RuntimeError(
                        f"verifier worker {process.pid} stopped (exit code {process.exitcode})"
                    ) from None

    def end_of_log(self) -> None:
        """No more entries: the workers finish their share while the caller goes on."""
        if self.ended:
            return
        self.ended = True
        self._flush()
        for process, inbox in self.workers:
            self._put(process, inbox, None)

    def results(self) -> Found:
        """The first entry with a problem of its own, every notice's story (in the order
        the notices first appear in the log), the sealed entries and the log's time."""
        self.end_of_log()
        if self.shard is not None:
            return self.shard.result()
        firsts: list[tuple[int, str]] = []
        started: list[Told] = []
        sealed, latest, count = Sealed(), "", 0
        for found in self._collect():
            if found.first:
                firsts.append(found.first)
            started.extend(found.told)
            sealed.extend(found.sealed)
            latest = max(latest, found.latest)
            count += found.sealed_count
        started.sort(key=lambda told: told.first_seq)
        return Found(min(firsts) if firsts else None, started, sealed, latest, count)

    def join(self, claims: ClaimSet, *, log_time: str, complete: bool) -> list[JoinPart]:
        """Each shard's part of the join (after ``results``): the workers join the claims
        with the sealed entries they read, in parallel, and open the tlock ciphertexts."""
        if self.shard is not None:
            return [join_part(self.shard.sealed or Sealed(), claims, log_time=log_time, complete=complete)]
        payload = pickle.dumps((claims, log_time, complete), protocol=pickle.HIGHEST_PROTOCOL)
        for process, inbox in self.workers:
            self._put(process, inbox, payload)
        return list(self._collect())

    def _collect(self) -> Iterator[Any]:
        """One answer from each worker, unpickled."""
        import queue

        for _ in self.workers:
            while True:
                try:
                    _, payload = self.outbox.get(timeout=1.0)
                    break
                except queue.Empty:
                    if not all(process.is_alive() or process.exitcode == 0 for process, _ in self.workers):
                        raise RuntimeError("a verifier worker stopped before reporting") from None
            yield pickle.loads(payload)

    def close(self) -> None:
        """Stop the workers: they have reported (``results``), or the verification stopped
        early (the source failed, ^C) and what they would report is no longer wanted."""
        for process, _ in self.workers:
            process.terminate()
            process.join()
        self.workers = []


# -- MSP/2: every sealed entry opened exactly once ----------------------------------------------

OPENING_WINDOW = timedelta(seconds=protocol.MAX_BID_WINDOW_SECONDS + protocol.OPENING_GRACE_SECONDS)


@dataclass
class Joined:
    """What the join of the openings' claims with the sealed entries found: problems of
    the claiming notices (by notice), problems of the log (unopened or doubly claimed
    sealed entries), and the sealed entries still waiting for their opening."""

    notice_problems: dict[str, list[Problem]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    pending: Sealed = field(default_factory=Sealed)
    sealed: int = 0
    claimed: int = 0
    opened: int = 0  # tlock ciphertexts opened and found to hold their opening


@dataclass
class ClaimSet:
    """Every claim of the openings joined, concatenated (claim ``k`` is entry ``seqs[k]``,
    of opening ``owners[k]``), as sent once to every worker for its part of the join; per
    opening its deadline, whether its sealing is tlock, its round and signature (None: not
    usable, or nothing to decrypt with here); and, for the claims of tlock openings whose
    ciphertexts are to be opened, the plaintext each must open to."""

    seqs: array.array  # type: ignore[type-arg]  # 'q'
    commitments: bytes
    owners: array.array  # type: ignore[type-arg]  # 'l'
    deadlines: list[bytes]
    tlocks: bytes
    rounds: list[tuple[int, str] | None]
    plaintexts: dict[int, bytes | None]

    @classmethod
    def of(cls, claims: Sequence[Claims]) -> ClaimSet:
        seqs, owners = array.array("q"), array.array("l")
        plaintexts: dict[int, bytes | None] = {}
        decrypt = tlock.available()
        for number, claim in enumerate(claims):
            if (
                decrypt
                and claim.round is not None
                and claim.signature is not None
                and claim.plaintexts is not None
            ):
                plaintexts.update(zip(range(len(seqs), len(seqs) + len(claim.seqs)), claim.plaintexts))
            seqs.extend(claim.seqs)
            owners.extend(itertools.repeat(number, len(claim.seqs)))
        return cls(
            seqs,
            b"".join(claim.commitments for claim in claims),
            owners,
            [claim.deadline.encode("ascii") for claim in claims],
            bytes(claim.tlock for claim in claims),
            [
                (claim.round, claim.signature)
                if claim.round is not None and claim.signature is not None
                else None
                for claim in claims
            ],
            plaintexts,
        )


@dataclass
class JoinPart:
    """One shard's part of the join: the claims on the sealed entries it read (``matched``,
    claim indexes), those that fail (claim index, message), the log's problems among its
    sealed entries (doubly claimed, never opened) and those still pending."""

    matched: array.array  # type: ignore[type-arg]  # 'l'
    failures: list[tuple[int, str]]
    problems: list[Problem]
    pending: Sealed
    sealed: int
    claimed: int
    opened: int = 0
    doubles: list[tuple[int, list[int]]] = field(default_factory=list)  # (sealed seq, the claims on it)


def join_part(sealed: Sealed, claims: ClaimSet, *, log_time: str, complete: bool) -> JoinPart:
    """MSP/2 section 7.6, for the sealed entries of one shard: each claim on one of them
    names an entry holding the commitment its opening recomputes, logged before the
    opening's deadline, with a tlock ciphertext exactly when the notice's sealing is tlock
    (which, where the pairing library is installed, opens with the round's signature to
    exactly the claim's timelock plaintext); none of them is claimed twice; and, when
    ``complete``, each is claimed, or was logged less than the longest bid window and the
    opening grace before the log's time (then it is ``pending``).

    The honest case, every claim matching, is checked with whole-list operations (a large
    log has hundreds of thousands of claims); claim by claim only when one does not."""
    n, width = len(sealed), Sealed.TS_BYTES
    position = dict(zip(sealed.seqs, range(n)))
    found = list(map(position.get, claims.seqs))
    own = list(itertools.compress(range(len(found)), map(operator.is_not, found, itertools.repeat(None))))
    at = list(map(found.__getitem__, own))  # the sealed entry of each claim of ours
    blob, ts_blob, wanted = bytes(sealed.commitments), bytes(sealed.ts), claims.commitments
    groups = list(map(claims.owners.__getitem__, own))
    times = [ts_blob[width * i : width * i + width] for i in at]
    fine = (
        b"".join([blob[32 * i : 32 * i + 32] for i in at])
        == b"".join([wanted[32 * k : 32 * k + 32] for k in own])
        and all(map(bytes.__lt__, times, map(claims.deadlines.__getitem__, groups)))
        and bytes(map(sealed.tlock.__getitem__, at)) == bytes(map(claims.tlocks.__getitem__, groups))
    )
    claimed = set(at)
    part = JoinPart(array.array("l", own), [], [], Sealed(), n, len(claimed))
    if not fine or len(claimed) != len(at):
        _join_claim_by_claim(part, claims, own, at, times, sealed)
    if claims.plaintexts:
        _open_ciphertexts(part, claims, found, sealed)
    if complete and len(claimed) < n:
        limit = protocol.format_ts(protocol.parse_ts(log_time) - OPENING_WINDOW).encode("ascii")
        days = OPENING_WINDOW.days
        pending = part.pending
        for i in itertools.filterfalse(claimed.__contains__, range(n)):
            seq, ts = sealed.seqs[i], ts_blob[width * i : width * i + width]
            if ts > limit:
                pending.seqs.append(seq)
                pending.commitments += blob[32 * i : 32 * i + 32]
                pending.ts += ts
                pending.tlock.append(sealed.tlock[i])
                if seq in sealed.fields:
                    pending.fields[seq] = sealed.fields[seq]
            else:
                part.problems.append(
                    Problem(
                        f"sealed entry {seq} (logged at {ts.decode('ascii')}) was never opened by any notice within {days} days "
                        f"(the longest bid window and the opening grace); the log's time is {log_time}",
                        seq=seq,
                    )
                )
    return part


def _join_claim_by_claim(
    part: JoinPart, claims: ClaimSet, own: list[int], at: list[int], times: list[bytes], sealed: Sealed
) -> None:
    """The checks of ``join_part`` claim by claim, naming each claim that fails."""
    claimants: dict[int, list[int]] = {}  # sealed seq -> the claims on it
    wanted, blob = claims.commitments, sealed.commitments
    for k, i, ts_bytes in zip(own, at, times):
        seq = sealed.seqs[i]
        claimants.setdefault(seq, []).append(k)
        group = claims.owners[k]
        if blob[32 * i : 32 * i + 32] != wanted[32 * k : 32 * k + 32]:
            part.failures.append(
                (
                    k,
                    f"sealed entry {seq} does not hold the commitment its opening recomputes from the salt and the document",
                )
            )
        deadline = claims.deadlines[group].decode("ascii")
        ts = ts_bytes.decode("ascii")
        if ts >= deadline:
            part.failures.append(
                (k, f"sealed entry {seq} was logged at {ts}, at or after the deadline {deadline}")
            )
        if sealed.tlock[i] and not claims.tlocks[group]:
            part.failures.append(
                (k, f"sealed entry {seq} has a tlock ciphertext, but the notice's sealing is server")
            )
        elif claims.tlocks[group] and not sealed.tlock[i]:
            part.failures.append(
                (k, f"sealed entry {seq} has no tlock ciphertext, but the notice's sealing is tlock")
            )
    part.doubles.extend((seq, ks) for seq, ks in claimants.items() if len(ks) > 1)


def _open_ciphertexts(part: JoinPart, claims: ClaimSet, found: list[int | None], sealed: Sealed) -> None:
    """Open the tlock ciphertext of each claimed entry of ours (of a tlock opening whose
    round and signature are usable) and hold it to the claim's timelock plaintext."""
    for k, plaintext in claims.plaintexts.items():
        i = found[k]
        if i is None:
            continue
        seq = sealed.seqs[i]
        field = sealed.fields.get(seq)
        if field is None:  # (no ciphertext, or a malformed one: said above, or by the entry's own check)
            continue
        round_signature = claims.rounds[claims.owners[k]]
        assert round_signature is not None
        round_number, signature = round_signature
        if plaintext is None:
            part.failures.append(
                (
                    k,
                    f"its timelock plaintext cannot be formed (longer than {protocol.TLOCK_PLAINTEXT_BYTES} bytes), so sealed entry {seq}'s tlock ciphertext cannot hold it",
                )
            )
            continue
        try:
            opened = tlock.open_sealed(field, round_number, signature)
        except tlock.TlockError as exc:
            part.failures.append(
                (
                    k,
                    f"sealed entry {seq}'s tlock ciphertext does not open with the signature of round {round_number} ({exc})",
                )
            )
            continue
        if opened != plaintext:
            part.failures.append(
                (
                    k,
                    f"sealed entry {seq}'s tlock ciphertext opens to something other than this opening's timelock plaintext",
                )
            )
        else:
            part.opened += 1


def merge_parts(
    claims: Sequence[Claims],
    claim_set: ClaimSet,
    parts: Sequence[JoinPart],
    *,
    kept: Sequence[tuple[str, int, Sequence[int]]] = (),
) -> Joined:
    """The shards' parts of the join, together: each failing claim in its notice's report
    (in claim order, so that the report is the same however the log was split), the log's
    problems, the sealed entries pending; and the claims on no sealed entry read (a state
    file's pending ones are a part too): claimed by a notice that a state file keeps
    (``kept``: (notice_id, opening seq, claimed seqs), joined before), or no sealed entry."""
    joined = Joined(
        sealed=sum(p.sealed for p in parts),
        claimed=sum(p.claimed for p in parts),
        opened=sum(p.opened for p in parts),
    )
    starts = list(itertools.accumulate((len(c.seqs) for c in claims), initial=0))
    failures: list[tuple[int, str]] = []
    doubles: dict[int, list[int]] = {}
    for part in parts:
        failures.extend(part.failures)
        doubles.update(part.doubles)
        joined.problems.extend(part.problems)
        joined.pending.extend(part.pending)
    total = len(claim_set.seqs)
    if sum(len(p.matched) for p in parts) < total:
        matched: set[int] = set()
        for part in parts:
            matched.update(part.matched)
        unknown: dict[int, list[int]] = {}
        for k in itertools.filterfalse(matched.__contains__, range(total)):
            unknown.setdefault(claim_set.seqs[k], []).append(k)
        earlier = {}
        for notice_id, opening_seq, claimed in kept:
            for seq in unknown.keys() & set(claimed):
                earlier.setdefault(seq, []).append((opening_seq, notice_id))
        for seq, ks in unknown.items():
            who = earlier.get(seq, []) + [
                (claims[claim_set.owners[k]].opening_seq, claims[claim_set.owners[k]].notice_id) for k in ks
            ]
            if len(who) > 1:
                _double(joined, seq, who)
            if seq not in earlier:  # (else a sealed entry an earlier verification saw opened: opened again)
                failures.extend((k, f"entry {seq} is not a bid.sealed entry") for k in ks)
    for seq, ks in doubles.items():
        _double(
            joined,
            seq,
            [(claims[claim_set.owners[k]].opening_seq, claims[claim_set.owners[k]].notice_id) for k in ks],
        )
    failures.sort(key=lambda failure: failure[0])
    for k, message in failures:
        claim = claims[claim_set.owners[k]]
        label = claim.label(k - starts[claim_set.owners[k]])
        joined.notice_problems.setdefault(claim.notice_id, []).append(
            Problem(f"{label}: {message}", seq=claim.opening_seq)
        )
    joined.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return joined


def _double(joined: Joined, seq: int, who: list[tuple[int, str]]) -> None:
    named = ", ".join(f"notice {notice_id} (entry {opening_seq})" for opening_seq, notice_id in sorted(who))
    joined.problems.append(
        Problem(f"sealed entry {seq} is claimed by more than one opening: {named}", seq=seq)
    )


def join_sealed(
    sealed: Sealed,
    claims: Sequence[Claims],
    *,
    log_time: str,
    complete: bool = True,
    kept: Sequence[tuple[str, int, Sequence[int]]] = (),
) -> Joined:
    """The whole join in one call (``join_part`` over ``sealed``, then ``merge_parts``):
    MSP/2 section 7.6, every claim against the sealed entries, each sealed entry opened
    once or pending."""
    claim_set = ClaimSet.of(claims)
    return merge_parts(
        claims, claim_set, [join_part(sealed, claim_set, log_time=log_time, complete=complete)], kept=kept
    )


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


# -- remembering a verification ------------------------------------------------------------

STATE_FORMAT = "market-log-verify-state/2"


def rules_fingerprint() -> str | None:
    """SHA-256 of the source of the rules this verifier checks with (this module, the
    protocol and the notice checks: one file in ops/verify_log.py), None if it cannot be
    read. A state made under other rules is not used: they might judge an entry otherwise."""
    digest = hashlib.sha256()
    names = {__name__, protocol.__name__, NoticeCheck.__module__}
    for path in sorted(str(getattr(sys.modules.get(name), "__file__", None)) for name in names):
        try:
            with open(path, "rb") as fh:
                digest.update(fh.read())
        except OSError:
            return None
    return digest.hexdigest()


@dataclass
class State:
    """What a verification that passed found, kept in a file for the next one.

    Each notice's verdict depends on its entries alone, and the next verification proves
    the first ``size`` entries unchanged (the log it reads is consistent with ``root``). So
    a notice with no new entry keeps its verdict, and only the notices that new entries
    name are re-derived, from all their entries (``seqs`` says which). Every entry is still
    read and hashed, and the tree and checkpoint checked, as without a state.

    The file is trusted as the verifier itself is: keep it where nobody else writes.
    It is used only under the same key, the same rules (``rules_fingerprint``), the same
    ``--canonical`` and the same BLS checking as when it was made."""

    size: int
    root: bytes
    made: str  # when the verification that made it ran (MSP/1 time)
    notices: dict[str, Told]
    rows: dict[str, list[Any]] = field(default_factory=dict)  # each notice as the file has it
    # MSP/2: the sealed entries no opening had claimed yet (within the bid window then),
    # and the log's time then. With each notice's claimed seqs (Told.claims) that is what
    # the next verification needs to join new openings with old sealed entries.
    pending: Sealed = field(default_factory=Sealed)
    log_time: str = ""

    def entries_of(self, notice_ids: Iterable[str]) -> set[int]:
        """The indexes of the known entries of these notices, and of the sealed entries
        their openings claimed (re-read to join them again)."""
        seqs: set[int] = set()
        for notice_id in notice_ids:
            told = self.notices.get(notice_id)
            if told is not None and told.seqs is not None:
                seqs.update(told.seqs)
            if told is not None and told.claims is not None:
                seqs.update(told.claims.seqs)
        return seqs

    def told_except(self, notice_ids: Collection[str]) -> list[Told]:
        return [told for notice_id, told in self.notices.items() if notice_id not in notice_ids]

    @staticmethod
    def _settings(key: str, canonical: bool) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "rules": rules_fingerprint(),
            "key": key,
            "canonical": canonical,
            "bls": drand_verify is not None,
        }

    @classmethod
    def load(cls, path: str, *, key: str, canonical: bool) -> tuple[State | None, str | None]:
        """The state in ``path`` if it may be used here, else None and why not."""
        unused = "every notice re-derived, and the state written afresh if the log verifies"
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return None, f"no state in {path} yet: {unused}"
        except OSError as exc:
            return None, f"the state {path} cannot be read ({exc}): {unused}"
        try:
            # A state of 1,000,000 entries is some 17 MB of JSON: msgspec reads it in a
            # fraction of json's time, and anything it refuses is json's to judge.
            data = (_fast_decode(raw) if _FAST_DECODE is not None else None) or json.loads(raw)
            settings = cls._settings(key, canonical)
            if settings["rules"] is None:
                return (
                    None,
                    f"this verifier cannot read its own source, so it cannot tell whether {path} was made under its rules: {unused}",
                )
            for name, wanted in settings.items():
                if data.get(name) != wanted:
                    what = {
                        "key": "another log's key",
                        "rules": "other rules (another version of the verifier)",
                        "canonical": "a different --canonical",
                        "bls": "different BLS checking (drand-verify)",
                    }.get(name, "another format")
                    return None, f"the state {path} was made with {what}: {unused}"
            size, made, log_time = data["size"], data["made"], data["log_time"]
            if not (
                _is_count(size)
                and isinstance(made, str)
                and isinstance(log_time, str)
                and (not log_time or TS.fullmatch(log_time))
            ):
                raise ValueError("size, made or log_time")
            pending = Sealed.from_rows(data["pending"])
            if len(pending) and max(pending.seqs) >= size:
                raise ValueError("a pending sealed entry beyond the log")
            root = bytes.fromhex(data["root"])
            notices: dict[str, Told] = {}
            rows: dict[str, list[Any]] = {}
            for row in data["notices"]:
                notice_id, seqs, told, claimed = row
                # (the types of a million seqs checked at C speed: set(map(type)), then the range)
                if not (
                    is_id(notice_id)
                    and type(seqs) is list
                    and set(map(type, seqs)) == {int}
                    and min(seqs) >= 0
                    and max(seqs) < size
                ):
                    raise ValueError(f"notice {notice_id!r}")
                claims = None
                if claimed is not None:  # [opening seq, [claimed seqs]]
                    opening_seq, claimed_seqs = claimed
                    if not (
                        _is_count(opening_seq)
                        and opening_seq < size
                        and type(claimed_seqs) is list
                        and set(map(type, claimed_seqs)) <= {int}
                        and (not claimed_seqs or (min(claimed_seqs) >= 0 and max(claimed_seqs) < size))
                    ):
                        raise ValueError(f"claims of notice {notice_id!r}")
                    # (only the opening and the seqs: they were joined when the state was made)
                    claims = Claims(
                        notice_id, opening_seq, "", False, array.array("q", claimed_seqs), b"", ""
                    )
                report = NoticeReport(
                    notice_id=notice_id,
                    status=str(told["status"]),
                    method=told["method"],
                    summary=str(told["summary"]),
                    entries=int(told["entries"]),
                    problems=[],
                    notes=[str(n) for n in told["notes"]],
                    version={"MSP/1": 1, "MSP/2": 2}.get(told.get("rules")),  # type: ignore[arg-type]
                )
                notices[notice_id] = Told(seqs[0], report, seqs, claims)
                rows[notice_id] = row
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return None, f"the state {path} is not a verifier state ({type(exc).__name__}: {exc}): {unused}"
        return cls(
            size=size, root=root, made=made, notices=notices, rows=rows, pending=pending, log_time=log_time
        ), None

    @classmethod
    def save(
        cls,
        path: str,
        *,
        key: str,
        canonical: bool,
        size: int,
        root: bytes,
        told: list[Told],
        kept: State | None = None,
        pending: Sealed | None = None,
        log_time: str = "",
    ) -> None:
        """Write the state of a verification that passed (atomically: a verifier stopped
        half-way leaves the old state, never half of a new one). ``kept``: the state it
        started from, whose notices not re-derived are written as they were read;
        ``pending``: the sealed entries no opening claims yet; ``log_time``: the log's time."""
        import os
        import tempfile
        from datetime import UTC, datetime

        kept_notices, rows = (kept.notices, kept.rows) if kept is not None else ({}, {})
        data = {
            **cls._settings(key, canonical),
            "made": protocol.format_ts(datetime.now(UTC)),
            "size": size,
            "root": root.hex(),
            "log_time": log_time,
            "pending": (pending or Sealed()).rows(),
            "notices": [
                rows[t.report.notice_id]
                if kept_notices.get(t.report.notice_id) is t
                else [
                    t.report.notice_id,
                    list(t.seqs or ()),
                    {k: v for k, v in t.report.as_dict().items() if k != "problems"},
                    [t.claims.opening_seq, t.claims.seqs.tolist()] if t.claims is not None else None,
                ]
                for t in told
            ],
        }
        folder = os.path.dirname(os.path.abspath(path))
        handle, temporary = tempfile.mkstemp(prefix=".verify-state-", dir=folder)
        try:
            with os.fdopen(handle, "wb") as fh:
                # dumps, not dump: dump encodes in Python; msgspec writes the same JSON faster
                fh.write(
                    _FAST_ENCODE(data)
                    if _FAST_ENCODE is not None
                    else json.dumps(data, separators=(",", ":")).encode("utf-8")
                )
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


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
