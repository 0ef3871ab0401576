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
import hashlib
import json
import pickle
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator
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
    ``seq`` equals its index, with ``v`` 1, a ``type`` and a well-formed ``ts`` (section 3).
    ``canonical`` also requires the exact canonical spelling, at about three times the cost."""
    return parse_entry(raw, index, canonical=canonical)[1]


def parse_entry(raw: bytes, index: int, *, canonical: bool = False) -> tuple[dict[str, Any] | None, str | None]:
    """The entry as a dict (None if it is not a JSON object) and what is wrong with it."""
    try:
        if canonical:
            entry = protocol.parse_canonical(raw)
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
    if entry.get("v") != protocol.VERSION:
        return entry, f"v is {entry.get('v')!r}, not {protocol.VERSION}"
    if not isinstance(entry.get("type"), str) or not entry["type"]:
        return entry, "has no type"
    if not isinstance(entry.get("ts"), str) or not TS.fullmatch(entry["ts"]):
        return entry, f"ts {entry.get('ts')!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ"
    return entry, None


_DECODER = json.JSONDecoder()
TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


# -- per-notice checks (MSP/1 section 5, and the award steps of docs/selection.md) ---------

# The entries that tell one notice's story; every other type is checked only as a log entry.
NOTICE_TYPES: frozenset[str] = frozenset(
    {
        "notice.published", "notice.amended", "notice.cancelled",
        "bid.accepted", "bid.withdrawn", "bidding.closed",
        "selection.failed", "selection.drawn", "selection.direct",
        "award.declined", "award.disqualified", "award.final",
        "objection.filed", "objection.answered", "objection.decided",
    }
)
BID_DOCUMENT_KEYS = frozenset({"notice_id", "bid_id", "agency_id", "price_fen", "nonce"})
HEX64 = re.compile(r"[0-9a-f]{64}")
NONCE = re.compile(r"[0-9a-f]{32}")
MANY_NOTICES = 50  # beyond this, human() lists only the failing notices

try:  # optional: without it a beacon's randomness is still checked, its BLS signature not
    import drand_verify
except ImportError:  # pragma: no cover - depends on the environment
    drand_verify = None

BLS_NOT_CHECKED = (
    "drand beacons: randomness recomputed from the signature, but BLS signatures were not "
    "checked (install the optional package drand-verify to check them)"
)


def concerns_notice(entry_type: Any) -> bool:
    """Whether entries of this type belong to a notice's story (``objection.*`` all do)."""
    return entry_type in NOTICE_TYPES or (isinstance(entry_type, str) and entry_type.startswith("objection."))


@dataclass
class NoticeReport:
    notice_id: str
    status: str  # open, closed, selected, awarded, failed, cancelled; unknown without notice.published
    method: str | None
    summary: str
    entries: int
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": self.status,
            "method": self.method,
            "summary": self.summary,
            "entries": self.entries,
            "problems": [p.as_dict() for p in self.problems],
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        lines = [f"  {'ok  ' if self.ok else 'FAIL'}  notice {self.notice_id}: {self.summary}"]
        for p in self.problems:
            where = f"entry {p.seq}: " if p.seq is not None else ""
            lines.append(f"          {where}{p.message}")
        return lines


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and protocol.ID_PATTERN.fullmatch(value) is not None


def _is_hex64(value: Any) -> bool:
    return isinstance(value, str) and HEX64.fullmatch(value) is not None


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_str_list(value: Any) -> bool:
    if not isinstance(value, list):
        return False
    for item in value:
        if not isinstance(item, str):
            return False
    return True


def _names(ids: Any, limit: int = 8) -> str:
    """A list of ids for a message, cut short when long."""
    if not isinstance(ids, list):
        return repr(ids)
    shown = ", ".join(str(i) for i in ids[:limit])
    more = f", ... ({len(ids)} in all)" if len(ids) > limit else ""
    return f"[{shown}{more}]"


@dataclass(slots=True)
class _Bid:
    seq: int
    agency_id: str
    sha: str
    withdrawn_seq: int | None = None


@dataclass(slots=True)
class _Objection:
    seq: int
    agency_id: str | None
    answered_seq: int | None = None
    decided_seq: int | None = None
    decision: str | None = None


def _bid_document_bytes(doc: dict[str, Any], bid: _Bid, notice_id: str | None) -> bytes:
    """``protocol.canonical_json(doc)``, spelled out directly when the document is what a
    bid document must be: ids equal to ones already checked (the bid's own, from its
    bid.accepted entry, and ``notice_id``, None if it is not an id), so they need no
    escaping; a hex nonce; a price that is null or a safe positive integer. That is every
    honest bid, at a quarter of the cost; anything else goes the long way."""
    agency_id, bid_id, nonce, price = doc["agency_id"], doc["bid_id"], doc["nonce"], doc["price_fen"]
    if (
        agency_id == bid.agency_id
        and doc["notice_id"] == notice_id
        and isinstance(nonce, str)
        and NONCE.fullmatch(nonce)
        and (price is None or (type(price) is int and 0 < price <= protocol.MAX_SAFE_INTEGER))
    ):
        spelled = "null" if price is None else str(price)
        return (
            f'{{"agency_id":"{agency_id}","bid_id":"{bid_id}","nonce":"{nonce}",'
            f'"notice_id":"{notice_id}","price_fen":{spelled}}}'
        ).encode("ascii")
    return protocol.canonical_json(doc)


class NoticeCheck:
    """One notice's entries, fed in log order, checked as they come: the state a reader of
    the log builds (deadline in force, standing bids, holders of the award) is what each
    next entry is checked against. ``check_notice`` is the whole thing in one call."""

    # A large log holds one of these per notice, and feeds it most of the log's entries.
    __slots__ = (
        "notice_id", "id_ok", "problems", "notes", "count", "first_seq", "early",
        "published_seq", "method", "k", "min_candidates", "commit", "scheme", "deadline", "cancelled_seq",
        "bids", "standing", "bid_count", "closed_seq", "closed_ts", "secret", "candidates", "candidate_count",
        "eligible", "prices",
        "outcome", "selections", "slots", "alternates", "used", "objections", "final_seq", "changed_seq",
    )

    def __init__(self, notice_id: str) -> None:
        self.notice_id = notice_id
        self.id_ok = _is_id(notice_id)
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.count = 0
        self.first_seq: int | None = None
        self.early: list[tuple[int, str]] = []  # entries before notice.published
        # committed at publication (and amendment)
        self.published_seq: int | None = None
        self.method: str | None = None
        self.k: int | None = None
        self.min_candidates: int | None = None
        self.commit: str | None = None
        self.scheme: str | None = None
        self.deadline: str | None = None  # the one in force; timestamps compare as strings
        self.cancelled_seq: int | None = None
        # bidding
        self.bids: dict[str, _Bid] = {}
        self.standing: dict[str, str] = {}  # agency_id -> its standing bid_id
        self.bid_count = 0  # standing bids at closing
        # closing
        self.closed_seq: int | None = None
        self.closed_ts = ""
        self.secret: bytes | None = None
        self.candidates: list[tuple[str, int]] | None = None
        self.candidate_count: int | None = None
        self.eligible: bytes | None = None
        self.prices: dict[str, Any] = {}
        # outcome and award
        self.outcome: tuple[int, str] | None = None
        self.selections: list[tuple[int, str, str]] = []  # (seq, type, ts): none before the final deadline
        self.slots: list[str | None] = []  # holders of the award, a slot per winner
        self.alternates: list[str] = []
        self.used: set[str] = set()  # every agency that has held the award
        self.objections: dict[str, _Objection] = {}
        self.final_seq: int | None = None
        self.changed_seq: int | None = None  # the last decline or disqualification

    def problem(self, seq: int | None, message: str) -> None:
        self.problems.append(Problem(message, seq=seq))

    # -- feeding -----------------------------------------------------------------------

    def feed(self, seq: int, entry: dict[str, Any], *, ts_checked: bool = False) -> None:
        """Check the next entry; ``ts_checked``: its ts is known to be well-formed."""
        self.count += 1
        if self.first_seq is None:
            self.first_seq = seq
        kind = entry.get("type")
        ts = entry.get("ts")
        if not ts_checked and (not isinstance(ts, str) or not TS.fullmatch(ts)):
            self.problem(seq, f"ts {ts!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
            ts = ""
        if entry.get("notice_id") != self.notice_id:
            self.problem(seq, f"{kind} belongs to notice {entry.get('notice_id')!r}, not {self.notice_id}")
            return
        if self.published_seq is None and kind != "notice.published":
            self.early.append((seq, str(kind)))
            return
        if self.cancelled_seq is not None:
            self.problem(seq, f"{kind} after notice.cancelled (entry {self.cancelled_seq})")
            return
        handler = self._HANDLERS.get(kind)  # type: ignore[arg-type]
        if handler is not None:
            try:
                handler(self, seq, entry, ts)
            except Exception as exc:  # noqa: BLE001 - input nobody foresaw is a problem to report, not a crash
                self.problem(seq, f"{kind} could not be checked: {type(exc).__name__}: {exc}")

    def _published(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.published_seq is not None:
            self.problem(seq, f"a second notice.published (the first is entry {self.published_seq})")
            return
        self.published_seq = seq
        method, k, minimum = e.get("method"), e.get("winners"), e.get("min_candidates")
        if method in protocol.METHODS:
            self.method = method
        else:
            self.problem(seq, f"method {method!r} is not lottery, lowest_price or direct")
        if _is_int(k, 1):
            self.k = k
        else:
            self.problem(seq, f"winners {k!r} is not an integer >= 1")
        if _is_int(minimum, 1):
            self.min_candidates = minimum
        else:
            self.problem(seq, f"min_candidates {minimum!r} is not an integer >= 1")
        if _is_hex64(e.get("commit")):
            self.commit = e["commit"]
        else:
            self.problem(seq, "commit is not 64 lowercase hex digits")
        if not _is_hex64(e.get("terms_sha256")):
            self.problem(seq, "terms_sha256 is not 64 lowercase hex digits")
        self.deadline = self._deadline(seq, e.get("bid_deadline"))
        self.scheme = self._scheme(seq, e.get("scheme"), self.deadline)

    def _deadline(self, seq: int, value: Any) -> str | None:
        try:
            protocol.parse_ts(value)
        except ValueError:
            self.problem(seq, f"bid_deadline {value!r} is not a valid YYYY-MM-DDTHH:MM:SS.ffffffZ time")
            return None
        return str(value)

    def _scheme(self, seq: int, scheme: Any, deadline: str | None) -> str | None:
        """A committed scheme, checked: ``none``, or the quicknet round of step 1, the first
        one emitted at least an hour after the deadline (an earlier round could be known
        while bids are still coming in)."""
        try:
            round_number = protocol.scheme_round(scheme)
        except (ValueError, AttributeError):
            self.problem(seq, f"scheme {scheme!r} is not 'none' or 'drand/quicknet/<round>'")
            return None
        if round_number is not None and deadline is not None:
            try:
                due = protocol.drand_quicknet_round(protocol.deadline_unix(protocol.parse_ts(deadline)))
            except ValueError:  # a deadline before quicknet existed
                due = None
            if round_number != due:
                self.problem(seq, f"scheme commits to drand round {round_number}, but the deadline {deadline} calls for round {due}")
        return str(scheme)

    def _amended(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.closed_seq is not None:
            # Not applied: the bids were opened under the terms in force at closing.
            self.problem(seq, f"notice.amended after bidding.closed (entry {self.closed_seq})")
            return
        if self.deadline is not None and ts >= self.deadline:
            self.problem(seq, f"notice.amended at {ts}, at or after the deadline in force {self.deadline}")
        for name, committed in (("method", self.method), ("winners", self.k), ("min_candidates", self.min_candidates), ("commit", self.commit)):
            if name in e and e[name] != committed:
                self.problem(seq, f"notice.amended changes {name}, which never changes")
        if not _is_hex64(e.get("terms_sha256")):
            self.problem(seq, "terms_sha256 is not 64 lowercase hex digits")
        deadline = self._deadline(seq, e.get("bid_deadline"))
        if deadline is not None and self.deadline is not None and deadline < self.deadline:
            self.problem(seq, f"the amended deadline {deadline} is earlier than the one before, {self.deadline}")
        scheme = self._scheme(seq, e.get("scheme"), deadline)
        if deadline == self.deadline and scheme is not None and self.scheme is not None and scheme != self.scheme:
            self.problem(seq, f"scheme changed from {self.scheme} to {scheme} although the deadline did not move")
        if deadline is not None:
            self.deadline = deadline
        if scheme is not None:
            self.scheme = scheme

    def _cancelled(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.closed_seq is not None:
            self.problem(seq, f"notice.cancelled after bidding.closed (entry {self.closed_seq})")
        elif self.deadline is not None and ts >= self.deadline:
            self.problem(seq, f"notice.cancelled at {ts}, at or after the deadline {self.deadline}")
        self.cancelled_seq = seq

    def _bid_accepted(self, seq: int, e: dict[str, Any], ts: str) -> None:
        bid_id, agency_id, sha = e.get("bid_id"), e.get("agency_id"), e.get("bid_sha256")
        if not (_is_id(bid_id) and _is_id(agency_id) and _is_hex64(sha)):
            self.problem(seq, "bid.accepted needs an id bid_id, an id agency_id and a hex bid_sha256")
            return
        if self.closed_seq is not None:
            # (the bids are no longer kept: see _closed)
            self.problem(seq, f"bid {bid_id} accepted after bidding.closed (entry {self.closed_seq})")
            return
        if self.deadline is not None and ts >= self.deadline:
            self.problem(seq, f"bid {bid_id} accepted at {ts}, at or after the deadline in force {self.deadline}")
        if bid_id in self.bids:
            self.problem(seq, f"bid {bid_id} accepted a second time (first at entry {self.bids[bid_id].seq})")
            return
        if agency_id in self.standing:
            held = self.bids[self.standing[agency_id]]
            self.problem(seq, f"agency {agency_id} already has a standing bid, {self.standing[agency_id]} (entry {held.seq})")
        self.bids[bid_id] = _Bid(seq, agency_id, sha)
        self.standing[agency_id] = bid_id

    def _bid_withdrawn(self, seq: int, e: dict[str, Any], ts: str) -> None:
        bid_id, agency_id = e.get("bid_id"), e.get("agency_id")
        if self.closed_seq is not None:
            self.problem(seq, f"bid {bid_id!r} withdrawn after bidding.closed (entry {self.closed_seq})")
            return
        bid = self.bids.get(bid_id) if isinstance(bid_id, str) else None
        if bid is None:
            self.problem(seq, f"bid {bid_id!r} is withdrawn but was never accepted")
            return
        if bid.withdrawn_seq is not None:
            self.problem(seq, f"bid {bid_id} is withdrawn a second time (first at entry {bid.withdrawn_seq})")
            return
        if agency_id != bid.agency_id:
            self.problem(seq, f"bid {bid_id} belongs to {bid.agency_id}, not {agency_id!r}")
        if self.deadline is not None and ts >= self.deadline:
            self.problem(seq, f"bid {bid_id} withdrawn at {ts}, at or after the deadline in force {self.deadline}")
        bid.withdrawn_seq = seq
        if self.standing.get(bid.agency_id) == bid_id:
            del self.standing[bid.agency_id]

    def _closed(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.closed_seq is not None:
            self.problem(seq, f"a second bidding.closed (the first is entry {self.closed_seq})")
            return
        self.closed_seq, self.closed_ts = seq, ts
        self._check_secret(seq, e.get("secret"))
        self._check_bid_documents(seq, e.get("bids"))
        self._check_candidates(seq, e.get("candidates"), e.get("excluded"))
        eligible = e.get("eligible")
        if not _is_hex64(eligible):
            self.problem(seq, "eligible is not 64 lowercase hex digits")
        else:
            self.eligible = bytes.fromhex(eligible)
            if self.candidates is not None and protocol.eligible_digest(self.candidates).hex() != eligible:
                self.problem(seq, "eligible does not recompute from the candidates")
        # A large log holds every notice until its end: keep only what later entries need.
        self.bid_count = len(self.standing)
        self.bids, self.standing = {}, {}

    def _check_secret(self, seq: int, secret: Any) -> None:
        if not _is_hex64(secret):
            self.problem(seq, "secret is not 64 lowercase hex digits")
            return
        self.secret = bytes.fromhex(secret)
        if self.commit is not None and protocol.commitment(self.notice_id, self.secret).hex() != self.commit:
            self.problem(seq, f"secret does not match commit (entry {self.published_seq})")

    def _check_bid_documents(self, seq: int, docs: Any) -> None:
        """Every standing bid, as the document its bid.accepted entry sealed, and no other."""
        if not isinstance(docs, list):
            self.problem(seq, "bids is not a list of bid documents")
            return
        seen: set[str] = set()
        previous, unsorted = "", False
        for doc in docs:
            if not isinstance(doc, dict) or doc.keys() != BID_DOCUMENT_KEYS or not isinstance(doc["bid_id"], str):
                keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
                self.problem(seq, f"bids holds something that is not a bid document: {keys}")
                continue
            bid_id, agency_id, price = doc["bid_id"], doc["agency_id"], doc["price_fen"]
            if bid_id in seen:
                self.problem(seq, f"bid {bid_id} is in bidding.closed twice")
                continue
            seen.add(bid_id)
            # ids are ASCII, so comparing the strings compares their UTF-8 bytes (a bid_id
            # that is not an id is never accepted, below)
            if bid_id < previous and not unsorted:
                self.problem(seq, f"bids are not sorted by bid_id: {bid_id} comes after {previous}")
                unsorted = True
            previous = max(previous, bid_id)
            if doc["notice_id"] != self.notice_id:
                self.problem(seq, f"bid document {bid_id} names notice {doc['notice_id']!r}")
            bid = self.bids.get(bid_id)
            if bid is None:
                self.problem(seq, f"bid {bid_id} is in bidding.closed but was never accepted")
                continue
            if bid.withdrawn_seq is not None:
                self.problem(seq, f"bid {bid_id} was withdrawn (entry {bid.withdrawn_seq}) but is in bidding.closed")
            if agency_id != bid.agency_id:
                self.problem(seq, f"bid document {bid_id} names agency {agency_id!r}, its bid.accepted entry (entry {bid.seq}) {bid.agency_id}")
            try:
                digest = protocol.bid_sha256(_bid_document_bytes(doc, bid, self.notice_id if self.id_ok else None))
            except protocol.CanonicalJSONError as exc:
                self.problem(seq, f"bid document {bid_id} cannot be canonical JSON: {exc}")
                continue
            if digest != bid.sha:
                self.problem(seq, f"bid document {bid_id} does not hash to the bid_sha256 of its bid.accepted entry (entry {bid.seq})")
            if self.method == "lowest_price":
                if not _is_int(price, 1):
                    self.problem(seq, f"bid {bid_id} has price_fen {price!r}; a lowest_price bid has a positive integer")
            elif self.method is not None and price is not None:
                self.problem(seq, f"bid {bid_id} has price_fen {price!r}; a {self.method} bid has none (null)")
            if bid.withdrawn_seq is None:
                self.prices[bid.agency_id] = price
        for agency_id, bid_id in self.standing.items():
            if bid_id not in seen:
                self.problem(seq, f"bid {bid_id} of {agency_id} (entry {self.bids[bid_id].seq}) is missing from bidding.closed")

    def _check_candidates(self, seq: int, candidates: Any, excluded: Any) -> None:
        """``candidates`` and ``excluded`` split the standing bidders between them."""
        chosen: list[tuple[str, int]] = []
        well_formed = isinstance(candidates, list)
        for item in candidates if isinstance(candidates, list) else []:
            if not (isinstance(item, list) and len(item) == 2 and _is_id(item[0]) and _is_int(item[1], 1)):
                self.problem(seq, f"candidate {item!r} is not [agency_id, weight >= 1]")
                well_formed = False
                continue
            chosen.append((item[0], item[1]))
        if not isinstance(candidates, list):
            self.problem(seq, "candidates is not a list")
        names = [a for a, _ in chosen]
        unsorted = False
        for before, after in zip(names, names[1:]):
            if before == after:
                self.problem(seq, f"{before} is a candidate twice")
                well_formed = False
            elif before.encode("utf-8") > after.encode("utf-8"):
                if not unsorted:  # once is enough to say it
                    self.problem(seq, f"candidates are not sorted by agency_id: {after} comes after {before}")
                unsorted, well_formed = True, False
        left_out: list[str] = []
        for item in excluded if isinstance(excluded, list) else []:
            if not (isinstance(item, dict) and _is_id(item.get("agency_id")) and isinstance(item.get("reason"), str) and item["reason"]):
                self.problem(seq, f"excluded {item!r} is not {{agency_id, reason}}")
                continue
            if item["agency_id"] in left_out:
                self.problem(seq, f"{item['agency_id']} is excluded twice")
            left_out.append(item["agency_id"])
        if not isinstance(excluded, list):
            self.problem(seq, "excluded is not a list")
        bidders = set(self.standing)
        for agency_id in sorted(set(names) & set(left_out)):
            self.problem(seq, f"{agency_id} is both a candidate and excluded")
        for agency_id in sorted(bidders - set(names) - set(left_out)):
            self.problem(seq, f"bidder {agency_id} is neither a candidate nor excluded")
        for agency_id in sorted(set(names) - bidders):
            self.problem(seq, f"candidate {agency_id} has no standing bid")
        for agency_id in sorted(set(left_out) - bidders):
            self.problem(seq, f"excluded {agency_id} has no standing bid")
        if well_formed:
            self.candidates = chosen

    def _begin_outcome(self, seq: int, kind: str, ts: str) -> bool:
        """Whether this outcome may be checked further: it needs bidding.closed before it,
        and a notice has one outcome (there is no second draw)."""
        self.selections.append((seq, kind, ts))
        if self.closed_seq is None:
            self.problem(seq, f"{kind} without bidding.closed before it")
            return False
        if self.outcome is not None:
            self.problem(seq, f"a second outcome, {kind}, after {self.outcome[1]} (entry {self.outcome[0]})")
            return False
        self.outcome = (seq, kind)
        return True

    def _end_outcome(self) -> None:
        # What the outcome was checked against is not needed again (see _closed).
        self.candidate_count = len(self.candidates) if self.candidates is not None else None
        self.candidates, self.prices, self.secret, self.eligible = None, {}, None, None

    def _outcome(self, seq: int, e: dict[str, Any], ts: str) -> None:
        kind = e["type"]
        if self._begin_outcome(seq, kind, ts):
            self._OUTCOME_CHECKS[kind](self, seq, e)
            self._end_outcome()

    def _failed(self, seq: int, e: dict[str, Any]) -> None:
        if self.candidates is None or self.min_candidates is None:
            return
        count = len(self.candidates)
        # A direct notice fails the same way: the agency it names did not respond or is no
        # longer eligible, so it is not a candidate (the log does not say which agency it names).
        if count >= self.min_candidates:
            self.problem(seq, f"selection.failed although {count} candidates meet the minimum of {self.min_candidates}")

    def _direct(self, seq: int, e: dict[str, Any]) -> None:
        agency_id = e.get("agency_id")
        if self.method != "direct":
            self.problem(seq, f"selection.direct on a {self.method} notice, which is drawn")
        if self.candidates is not None:
            names = [a for a, _ in self.candidates]
            if self.min_candidates is not None and len(names) < self.min_candidates:
                self.problem(seq, f"selection.direct with {len(names)} candidates, fewer than the minimum of {self.min_candidates}")
            if agency_id not in names:
                self.problem(seq, f"selection.direct names {agency_id!r}, which is not a candidate")
            elif len(names) > 1 and self.method == "direct":
                # Every bidder but the named agency is excluded (not_named): one candidate at most.
                self.problem(seq, f"a direct notice has one candidate, the agency it names; this one has {len(names)}")
        justification = e.get("justification")
        if not isinstance(justification, str) or not justification.strip():
            self.problem(seq, "selection.direct has no written justification")
        if isinstance(agency_id, str):
            self.slots = [agency_id]
            self.used = {agency_id}

    def _drawn(self, seq: int, e: dict[str, Any]) -> None:
        if self.method == "direct":
            self.problem(seq, "selection.drawn on a direct notice, which is not drawn")
            return
        if self.candidates is not None and self.min_candidates is not None and len(self.candidates) < self.min_candidates:
            self.problem(seq, f"selection.drawn with {len(self.candidates)} candidates, fewer than the minimum of {self.min_candidates}")
        if e.get("attempt") != 1 or isinstance(e.get("attempt"), bool):
            self.problem(seq, f"attempt is {e.get('attempt')!r}, not 1 (there is no second draw)")
        if e.get("scheme") != self.scheme:
            self.problem(seq, f"scheme {e.get('scheme')!r} is not the one last committed, {self.scheme!r}")
        beacon = self._beacon(seq, e.get("beacon"))
        # The holders of the award follow the entry as logged: later entries were written from
        # it, and a wrong draw is reported here once rather than at every later step.
        logged = {name: e.get(name) for name in ("order", "ranking", "winners", "alternates")}
        if not all(_is_str_list(v) for v in logged.values()):
            self.problem(seq, "order, ranking, winners and alternates must be lists of agency ids")
            return
        self.slots = list(logged["winners"])  # type: ignore[arg-type]
        self.alternates = list(logged["alternates"])  # type: ignore[arg-type]
        self.used = set(logged["winners"])  # type: ignore[arg-type]
        if None in (beacon, self.secret, self.eligible, self.candidates, self.scheme, self.k, self.method):
            self.problem(seq, "the draw cannot be recomputed: the values it depends on are missing or malformed (see above)")
            return
        assert beacon is not None and self.secret is not None and self.eligible is not None and self.candidates is not None
        assert self.scheme is not None and self.k is not None
        seed = protocol.seed(self.notice_id, 1, self.secret, self.eligible, self.scheme, beacon)
        if e.get("seed") != seed.hex():
            # Everything after the seed would differ too: one problem says it.
            self.problem(seq, "seed does not recompute from the secret, eligible, scheme and beacon")
            return
        order = protocol.draw_order(seed, self.candidates)
        try:
            ranking = protocol.rank(self.method, order, self.prices)
        except ValueError as exc:
            self.problem(seq, f"the ranking cannot be recomputed: {exc}")
            return
        winners, alternates = protocol.split_winners(ranking, self.k)
        for name, expected in (("order", order), ("ranking", ranking), ("winners", winners), ("alternates", alternates)):
            if logged[name] != expected:
                self.problem(seq, f"{name} does not recompute: the entry has {_names(logged[name])}, the draw gives {_names(expected)}")

    def _beacon(self, seq: int, beacon: Any) -> bytes | None:
        """The beacon value that goes into the seed (empty for scheme none), or None when
        the entry's beacon is wrong for the committed scheme."""
        try:
            round_number = protocol.scheme_round(self.scheme) if self.scheme is not None else None
        except ValueError:
            return None
        if round_number is None:
            if beacon is not None:
                self.problem(seq, "beacon is given, but the committed scheme is none")
                return None
            return b""
        if not isinstance(beacon, dict):
            self.problem(seq, f"beacon is missing for scheme {self.scheme}")
            return None
        signature = beacon.get("signature")
        try:
            signature_bytes = bytes.fromhex(signature) if isinstance(signature, str) else b""
        except ValueError:
            signature_bytes = b""
        if not signature_bytes or signature != signature_bytes.hex():
            self.problem(seq, "beacon signature is not lowercase hex")
            return None
        if beacon.get("round") != round_number or isinstance(beacon.get("round"), bool):
            self.problem(seq, f"beacon round {beacon.get('round')!r} is not the committed round {round_number}")
        value = protocol.beacon_value(signature_bytes)
        if beacon.get("randomness") != value.hex():
            self.problem(seq, "beacon randomness is not H(signature)")
        if drand_verify is None:
            self.notes.append(BLS_NOT_CHECKED)
        else:
            try:
                drand_verify.verify_quicknet(round_number, signature)
            except Exception:  # ValueError, or whatever else a malformed signature brings
                self.problem(seq, f"beacon signature does not verify (BLS) for drand quicknet round {round_number}")
        return value

    def _holder_slot(self, seq: int, kind: str, agency_id: Any) -> int | None:
        if self.outcome is None or self.outcome[1] == "selection.failed":
            self.problem(seq, f"{kind} with no selection to award")
            return None
        if agency_id is None or agency_id not in self.slots:
            self.problem(seq, f"{kind} names {agency_id!r}, which does not hold the award (holders {_names(self.holders)})")
            return None
        return self.slots.index(agency_id)

    @property
    def holders(self) -> list[str]:
        return [a for a in self.slots if a is not None]

    def _replace(self, seq: int, kind: str, e: dict[str, Any]) -> None:
        """A holder loses the award; the first alternate not yet used takes its slot."""
        slot = self._holder_slot(seq, kind, e.get("agency_id"))
        if slot is None:
            return
        expected = next((a for a in self.alternates if a not in self.used), None)
        replacement = e.get("replacement")
        if replacement != expected:
            want = f"the first alternate not yet used is {expected}" if expected else "no alternate is left"
            given = "null" if replacement is None else repr(replacement)
            self.problem(seq, f"replacement is {given}, but {want}")
        new = replacement if isinstance(replacement, str) else None
        self.slots[slot] = new
        if new is not None:
            self.used.add(new)
        self.changed_seq = seq

    def _declined(self, seq: int, e: dict[str, Any], ts: str) -> None:
        reason = e.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            self.problem(seq, "award.declined gives no reason")
        self._replace(seq, "award.declined", e)

    def _disqualified(self, seq: int, e: dict[str, Any], ts: str) -> None:
        objection_id = e.get("objection_id")
        objection = self.objections.get(objection_id) if isinstance(objection_id, str) else None
        if objection is None:
            self.problem(seq, f"award.disqualified cites objection {objection_id!r}, which was never filed")
        elif objection.decision != "upheld":
            state = f"was {objection.decision}" if objection.decision else "has not been decided"
            self.problem(seq, f"award.disqualified cites objection {objection_id}, which {state}")
        elif objection.agency_id is not None and objection.agency_id != e.get("agency_id"):
            self.problem(seq, f"objection {objection_id} was against {objection.agency_id}, not {e.get('agency_id')!r}")
        self._replace(seq, "award.disqualified", e)

    def _final(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.outcome is None or self.outcome[1] == "selection.failed":
            self.problem(seq, "award.final with no selection to award")
            return
        for objection_id, objection in self.objections.items():
            if objection.decision is None:
                self.problem(seq, f"award.final while objection {objection_id} (entry {objection.seq}) is pending")
        holders = self.holders
        if not holders:
            self.problem(seq, "award.final although no agency holds the award")
        elif e.get("winners") != holders:
            self.problem(seq, f"award.final names {_names(e.get('winners'))}, but the holders are {_names(holders)}")
        self.final_seq = seq

    def _objection_filed(self, seq: int, e: dict[str, Any], ts: str) -> None:
        objection_id, agency_id = e.get("objection_id"), e.get("agency_id")
        if not _is_id(objection_id):
            self.problem(seq, f"objection_id {objection_id!r} is not an id")
            return
        if objection_id in self.objections:
            self.problem(seq, f"objection {objection_id} filed a second time (first at entry {self.objections[objection_id].seq})")
            return
        if self.outcome is None or self.outcome[1] == "selection.failed":
            self.problem(seq, f"objection {objection_id} filed with no selection to object to")
        elif agency_id is not None and agency_id not in self.slots:
            self.problem(seq, f"objection {objection_id} is against {agency_id!r}, which does not hold the award")
        if not _is_hex64(e.get("reasons_sha256")):
            self.problem(seq, "reasons_sha256 is not 64 lowercase hex digits")
        self.objections[objection_id] = _Objection(seq, agency_id if isinstance(agency_id, str) else None)

    def _objection(self, seq: int, e: dict[str, Any], kind: str) -> _Objection | None:
        objection_id = e.get("objection_id")
        objection = self.objections.get(objection_id) if isinstance(objection_id, str) else None
        if objection is None:
            self.problem(seq, f"{kind} for objection {objection_id!r}, which was never filed")
        elif objection.decided_seq is not None:
            self.problem(seq, f"{kind} for objection {objection_id}, already decided (entry {objection.decided_seq})")
            return None
        return objection

    def _objection_answered(self, seq: int, e: dict[str, Any], ts: str) -> None:
        objection = self._objection(seq, e, "objection.answered")
        if not _is_hex64(e.get("answer_sha256")):
            self.problem(seq, "answer_sha256 is not 64 lowercase hex digits")
        if objection is None:
            return
        if objection.answered_seq is not None:
            self.problem(seq, f"objection {e['objection_id']} answered a second time (first at entry {objection.answered_seq})")
        objection.answered_seq = seq

    def _objection_decided(self, seq: int, e: dict[str, Any], ts: str) -> None:
        objection = self._objection(seq, e, "objection.decided")
        decision = e.get("decision")
        if decision not in ("upheld", "rejected"):
            self.problem(seq, f"decision {decision!r} is not upheld or rejected")
        if not _is_hex64(e.get("reason_sha256")):
            self.problem(seq, "reason_sha256 is not 64 lowercase hex digits")
        if objection is None:
            return
        objection.decided_seq = seq
        objection.decision = decision if decision in ("upheld", "rejected") else "undecidable"

    _OUTCOME_CHECKS: dict[str, Callable[[NoticeCheck, int, dict[str, Any]], None]] = {
        "selection.failed": _failed,
        "selection.drawn": _drawn,
        "selection.direct": _direct,
    }
    _HANDLERS: dict[str, Callable[[NoticeCheck, int, dict[str, Any], str], None]] = {
        "notice.published": _published,
        "notice.amended": _amended,
        "notice.cancelled": _cancelled,
        "bid.accepted": _bid_accepted,
        "bid.withdrawn": _bid_withdrawn,
        "bidding.closed": _closed,
        "selection.failed": _outcome,
        "selection.drawn": _outcome,
        "selection.direct": _outcome,
        "award.declined": _declined,
        "award.disqualified": _disqualified,
        "award.final": _final,
        "objection.filed": _objection_filed,
        "objection.answered": _objection_answered,
        "objection.decided": _objection_decided,
    }

    # -- the verdict ---------------------------------------------------------------------

    def finish(self) -> NoticeReport:
        if self.published_seq is None:
            self.problem(self.first_seq, f"no notice.published entry for notice {self.notice_id}")
        else:
            for seq, kind in self.early:
                self.problem(seq, f"{kind} comes before notice.published (entry {self.published_seq})")
        # The final deadline is the last one committed (an amendment after closing is itself
        # a problem above): nothing is closed or drawn before it.
        if self.deadline is not None:
            if self.closed_seq is not None and self.closed_ts < self.deadline:
                self.problem(self.closed_seq, f"bidding closed at {self.closed_ts}, before the deadline {self.deadline}")
            for seq, kind, ts in self.selections:
                if ts < self.deadline:
                    self.problem(seq, f"{kind} at {ts}, before the deadline {self.deadline}")
        self.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
        status = self._status()
        return NoticeReport(
            notice_id=self.notice_id,
            status=status,
            method=self.method,
            summary=self._summary(status),
            entries=self.count,
            problems=self.problems,
            notes=sorted(set(self.notes)),
        )

    def _status(self) -> str:
        if self.published_seq is None:
            return "unknown"
        if self.cancelled_seq is not None:
            return "cancelled"
        if self.outcome is None:
            return "closed" if self.closed_seq is not None else "open"
        if self.outcome[1] == "selection.failed" or not self.holders:
            return "failed"
        # Final only if no holder changed since: a replacement starts a new publicity.
        if self.final_seq is not None and (self.changed_seq is None or self.final_seq > self.changed_seq):
            return "awarded"
        return "selected"

    def _summary(self, status: str) -> str:
        method = self.method or "?"
        if status == "unknown":
            return f"{self.count} entries but no notice.published"
        if status in ("open", "cancelled"):
            standing = len(self.standing) if self.closed_seq is None else self.bid_count
            return f"{method}, {status}, {standing} standing bid(s)"
        count = len(self.candidates) if self.candidates is not None else self.candidate_count
        candidates = f"{count} candidates" if count is not None else "candidates unreadable"
        if status == "closed":
            return f"{method}, closed, {candidates}, waiting for the draw ({self.scheme})"
        if self.outcome is not None and self.outcome[1] == "selection.failed":
            return f"{method}, failed: {candidates}, minimum {self.min_candidates}"
        if status == "failed":
            return f"{method}, {candidates}, failed: no winner and no alternate left"
        if self.outcome is not None and self.outcome[1] == "selection.direct":
            what = f"direct selection of {', '.join(self.holders)} (no draw)"
        else:
            what = f"{method}, {candidates}, winners {', '.join(self.holders)}"
        return what + (", final" if status == "awarded" else "")


def check_notice(notice_id: str, entries: Iterable[tuple[int, dict[str, Any]]]) -> list[Problem]:
    """What is wrong with one notice's story: ``entries`` are its entries as (seq, entry),
    in log order (section 5, and the award steps of docs/selection.md)."""
    return notice_report(notice_id, entries).problems


def notice_report(notice_id: str, entries: Iterable[tuple[int, dict[str, Any]]]) -> NoticeReport:
    check = NoticeCheck(notice_id)
    for seq, entry in entries:
        check.feed(seq, entry)
    return check.finish()


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
    """What one process checks: every entry it owns on its own (the entries that name a
    notice belong to that notice's shard, the others to the shard whose turn the batch is),
    and the story of every notice it owns, fed entry by entry as the log streams past."""

    def __init__(self, index: int, shards: int, canonical: bool, notice: str | None) -> None:
        self.index, self.shards = index, shards
        self.canonical = canonical
        self.notice = notice
        self.first: tuple[int, str] | None = None
        self.checks: dict[str, NoticeCheck] = {}
        self.owners: dict[str, int] = {}  # notice key -> its shard, computed once per notice

    def take(self, number: int, start: int, batch: list[bytes]) -> None:
        """Batch ``number`` of the log, whose first entry has index ``start``."""
        turn = number % self.shards == self.index
        for offset, raw in enumerate(batch):
            seq = start + offset
            reports = True  # this shard reports what is wrong with the entry on its own
            if self.shards > 1:
                key = notice_key(raw)
                if key is None or key == AMBIGUOUS:
                    reports = turn
                    if key is None and not turn:
                        continue
                else:
                    owner = self.owners.get(key)
                    if owner is None:
                        owner = self.owners[key] = shard_of(key, self.shards)
                    if owner != self.index:
                        continue
            entry, problem = parse_entry(raw, seq, canonical=self.canonical)
            if entry is not None:
                kind = entry.get("type")
                if concerns_notice(kind):
                    notice_id = entry.get("notice_id")
                    check = self.checks.get(notice_id) if isinstance(notice_id, str) else None
                    if check is None:
                        if not _is_id(notice_id):
                            problem = problem or f"{kind} has no notice_id"
                        elif (self.notice is None or notice_id == self.notice) and shard_of(notice_id, self.shards) == self.index:
                            check = self.checks[notice_id] = NoticeCheck(notice_id)
                    if check is not None:
                        check.feed(seq, entry, ts_checked=problem is None)
            if problem and reports and self.first is None:
                self.first = seq, problem

    def result(self) -> tuple[tuple[int, str] | None, list[tuple[int, NoticeReport]]]:
        """The first problem found, and each notice's report with the seq it starts at."""
        return self.first, [(check.first_seq or 0, check.finish()) for check in self.checks.values()]


def _shard_process(index: int, shards: int, canonical: bool, notice: str | None, inbox: Any, outbox: Any) -> None:
    """A worker process: batches from ``inbox`` (pickled once by the reader, for every
    shard) until None, then its result into ``outbox``."""
    import gc

    # What a shard builds (parsed entries, notice states) holds no reference cycles, so the
    # cycle collector would only rescan an ever larger heap: a sixth of the time, saved.
    gc.disable()
    shard = Shard(index, shards, canonical, notice)
    while (payload := inbox.get()) is not None:
        shard.take(*pickle.loads(payload))
    outbox.put((index, shard.result()))


class EntryChecker:
    """Checks entries and notices batch by batch while the caller goes on reading and
    hashing: in worker processes for a large log (parsing JSON and re-deriving draws cost
    several times what hashing does, and a verifier should not take much longer than reading
    the log), inline otherwise. Each worker sees every batch but parses only its share."""

    BATCH = 20_000
    PARALLEL_FROM = 50_000
    MAX_WORKERS = 4
    QUEUED = 2  # batches waiting per worker: enough to keep it busy, not to pile the log up

    def __init__(self, size: int, *, canonical: bool, notice: str | None = None) -> None:
        self.batch: list[bytes] = []
        self.start = 0
        self.number = 0
        self.ended = False
        self.shard: Shard | None = None
        self.workers: list[tuple[Any, Any]] = []
        self.outbox: Any = None
        if size < self.PARALLEL_FROM:
            self.shard = Shard(0, 1, canonical, notice)
            return
        import multiprocessing
        import os

        # As many as there are CPUs: this process (reading, hashing) needs less than one, and
        # is idle once the log is read while the notices' checks still have work.
        shards = max(1, min(self.MAX_WORKERS, os.cpu_count() or 1))
        context = multiprocessing.get_context()
        self.outbox = context.Queue()
        for index in range(shards):
            inbox = context.Queue(maxsize=self.QUEUED)
            process = context.Process(target=_shard_process, args=(index, shards, canonical, notice, inbox, self.outbox), daemon=True)
            process.start()
            self.workers.append((process, inbox))

    def add(self, entries: list[bytes]) -> None:
        self.batch.extend(entries)
        if len(self.batch) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self.batch:
            return
        if self.shard is not None:
            self.shard.take(self.number, self.start, self.batch)
        else:
            payload = pickle.dumps((self.number, self.start, self.batch), protocol=pickle.HIGHEST_PROTOCOL)
            for process, inbox in self.workers:
                self._put(process, inbox, payload)
        self.start += len(self.batch)
        self.number += 1
        self.batch = []

    @staticmethod
    def _put(process: Any, inbox: Any, payload: bytes | None) -> None:
        import queue

        while True:  # a worker that died must not leave the reader waiting for ever
            try:
                inbox.put(payload, timeout=1.0)
                return
            except queue.Full:
                if not process.is_alive():
                    raise RuntimeError(f"verifier worker {process.pid} stopped (exit code {process.exitcode})") from None

    def end_of_log(self) -> None:
        """No more entries: the workers finish their share while the caller goes on."""
        if self.ended:
            return
        self.ended = True
        self._flush()
        for process, inbox in self.workers:
            self._put(process, inbox, None)

    def results(self) -> tuple[tuple[int, str] | None, list[NoticeReport]]:
        """The first entry with a problem of its own, and every notice's report, in the
        order the notices first appear in the log."""
        self.end_of_log()
        if self.shard is not None:
            found, reports = self.shard.result()
            return found, [report for _, report in reports]
        import queue

        firsts: list[tuple[int, str]] = []
        started: list[tuple[int, NoticeReport]] = []
        for _ in self.workers:
            while True:
                try:
                    _, (found, reports) = self.outbox.get(timeout=1.0)
                    break
                except queue.Empty:
                    if not all(process.is_alive() or process.exitcode == 0 for process, _ in self.workers):
                        raise RuntimeError("a verifier worker stopped before reporting") from None
            if found:
                firsts.append(found)
            started.extend(reports)
        self.close()
        started.sort(key=lambda item: item[0])
        return (min(firsts) if firsts else None), [report for _, report in started]

    def close(self) -> None:
        """Stop the workers: they have reported (``results``), or the verification stopped
        early (the source failed, ^C) and what they would report is no longer wanted."""
        for process, _ in self.workers:
            process.terminate()
            process.join()
        self.workers = []


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
) -> Report:
    """Check the whole log behind ``source``, then every notice in it (only ``notice``, if
    given); ``since`` is an older signed checkpoint; ``canonical`` also checks that every
    entry is spelled in canonical JSON."""
    report = Report(source=source.name, notice=notice)
    try:
        return _verify(source, report, since, progress, canonical, notice)
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
    checker = EntryChecker(size, canonical=canonical, notice=notice)
    try:
        sha256 = hashlib.sha256
        for batch in source.entries(0, size):
            batch = batch[: size - len(leaves)]
            checker.add(batch)
            leaves.extend([sha256(b"\x00" + raw).digest() for raw in batch])  # protocol.leaf_hash, inlined
            if progress:
                progress(len(leaves), size)
            if len(leaves) >= size:
                break
        report.entries_checked = len(leaves)
        # The workers finish their share of the entries while this process checks the tree.
        checker.end_of_log()
        if len(leaves) < size:
            report.problems.append(Problem(f"the checkpoint covers {size} entries but only {len(leaves)} were served", seq=len(leaves)))
        else:
            _check_tree(source, report, since, key, leaves, size, root)
        first, notice_reports = checker.results()
    finally:
        checker.close()
    if first is not None:
        report.problems.append(Problem(first[1], seq=first[0]))
    elif len(leaves) == size:
        what = "canonical JSON" if canonical else "JSON objects"
        report.checks.insert(1, f"all {size} entries are {what} with seq equal to their index, v 1, a type and a ts")
    _add_notice_reports(report, notice_reports, notice)
    report.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return report


def _check_tree(
    source: Source, report: Report, since: str | None, key: str, leaves: list[bytes], size: int, root: bytes
) -> None:
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


def _add_notice_reports(report: Report, reports: list[NoticeReport], notice: str | None) -> None:
    for result in reports:  # in the order the notices first appear in the log
        report.notices[result.notice_id] = result
    if notice is not None and notice not in report.notices:
        report.problems.append(Problem(f"no entries for notice {notice}"))
        return
    if reports and all(r.ok for r in reports):
        which = f"notice {notice}" if notice is not None else f"all {len(reports)} notices"
        report.checks.append(f"{which}: MSP/1 section 5 per-notice checks and the award steps pass")
    bls = sum(BLS_NOT_CHECKED in r.notes for r in reports)
    if bls:
        report.notes.append(f"{BLS_NOT_CHECKED} ({bls} notice(s))")


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
    parser.add_argument("--notice", metavar="N-...", help="check this notice alone (default: every notice in the log)")


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
    report = verify(
        HttpSource(args.url), since=read_since(args.since), progress=progress, canonical=args.canonical, notice=args.notice
    )
    return emit(report, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
