"""Verifying a log, part one: where entries come from (``Source``), what a verification
found (``Report``), and the checks of each entry as it is read, sharded over worker
processes for a large log. Pure, as ``verifier``."""

from __future__ import annotations

import array
import base64
import binascii
import json
import pickle
import re
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from market import protocol
from market.protocol import entry_types
from market.protocol.entry_types import V1_ONLY_TYPES, V2_ONLY_TYPES
from market.protocol.notice_checks import NoticeCheck
from market.protocol.notice_report import (
    HEX64,
    TS,
    Claims,
    NoticeReport,
    Problem,
    concerns_notice,
    is_id,
)
from market.protocol.verify_sealed import ClaimSet, JoinPart, Sealed, join_part

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


SEALED = entry_types.BID_SEALED
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
                ts: Any = entry.get("ts")
                if type(ts) is str and ts > latest and (problem is None or TS.fullmatch(ts)):
                    latest = ts
                if kind == SEALED:
                    # (an entry sent to every shard is collected by the one that reports it)
                    if sealed is not None and not (quiet and seq in quiet):
                        commitment: Any = entry.get("commitment")
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
