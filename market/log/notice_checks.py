"""The checks of one notice's story in the log: MSP/1 section 5 per notice, and the award
steps of docs/selection.md (declines, objections, disqualifications, final awards).

Pure: entries in, problems out. Like ``verifier``, it needs only the standard library,
``protocol`` and ``tlock`` (whose pairing library is optional), and ``ops/build_verifier.py``
joins it into the standalone ``ops/verify_log.py``.
"""

from __future__ import annotations

import array
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from market.log import protocol, tlock

TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


@dataclass
class Problem:
    message: str
    seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "message": self.message}


# -- per-notice checks (MSP/1 section 5, and the award steps of docs/selection.md) ---------

# The entries that tell one notice's story; every other type is checked only as a log entry.
NOTICE_TYPES: frozenset[str] = frozenset(
    {
        "notice.published",
        "notice.amended",
        "notice.cancelled",
        "bid.accepted",
        "bid.withdrawn",
        "bidding.closed",
        "bids.opened",
        "selection.failed",
        "selection.drawn",
        "selection.direct",
        "award.declined",
        "award.disqualified",
        "award.final",
        "objection.filed",
        "objection.answered",
        "objection.decided",
    }
)
BID_DOCUMENT_KEYS = frozenset({"notice_id", "bid_id", "agency_id", "price_fen", "nonce"})
# MSP/2 (docs/protocol/msp.md): a bid document without the nonce, an opening of it, and the
# types that exist under one version only.
BID_DOCUMENT_V2_KEYS = frozenset({"notice_id", "bid_id", "agency_id", "price_fen"})
OPENING_KEYS = frozenset({"bid", "salt", "seq", "withdrawn"})
WITHDRAWN_KEYS = frozenset({"salt", "seq"})
V1_ONLY_TYPES = frozenset({"bid.accepted", "bid.withdrawn"})
V2_ONLY_TYPES = frozenset({"bids.opened"})  # (and bid.sealed, checked on its own)
RULES = {1: "MSP/1", 2: "MSP/2"}
HEX64 = re.compile(r"[0-9a-f]{64}")
NONCE = re.compile(r"[0-9a-f]{32}")

try:  # optional: without it a beacon's randomness is still checked, its BLS signature not
    import drand_verify
except ImportError:  # pragma: no cover - depends on the environment
    drand_verify = None

BLS_NOT_CHECKED = (
    "drand beacons: randomness recomputed from the signature, but BLS signatures were not "
    "checked (install the optional package drand-verify to check them)"
)
TLOCK_NOT_DECRYPTED = "tlock ciphertexts not opened: install py-arkworks-bls12381"


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
    version: int | None = (
        None  # the protocol version whose rules the notice follows (its notice.published's v)
    )

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def rules(self) -> str | None:
        """ "MSP/1" or "MSP/2": the rules its story was checked by (None without notice.published)."""
        return RULES.get(self.version) if self.version is not None else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rules": self.rules,
            "status": self.status,
            "method": self.method,
            "summary": self.summary,
            "entries": self.entries,
            "problems": [p.as_dict() for p in self.problems],
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        # MSP/1 notices read as they always have; the others say whose rules checked them.
        rules = f" ({self.rules} rules)" if self.version not in (None, 1) else ""
        lines = [f"  {'ok  ' if self.ok else 'FAIL'}  notice {self.notice_id}: {self.summary}{rules}"]
        for p in self.problems:
            where = f"entry {p.seq}: " if p.seq is not None else ""
            lines.append(f"          {where}{p.message}")
        return lines


def is_id(value: Any) -> bool:
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
class Claims:
    """What one MSP/2 opening (``bidding.closed``, ``notice.cancelled`` v2 or ``bids.opened``)
    says of sealed entries that name no notice: entry ``seqs[i]`` is a ``bid.sealed`` entry
    that holds ``commitments[32*i:32*i+32]``, logged before ``deadline``. Only the whole log
    can tell whether that is so and whether every sealed entry is claimed once: the verifier
    joins these with the sealed entries it read (``verifier.join_sealed``). Kept compact: a
    large log has hundreds of thousands of claims.

    A tlock notice's opening also gives the round and its signature (None when they are
    unusable: reported at the opening) and, per claim, the timelock plaintext its sealed
    entry's ``tlock`` field must open to (None where it cannot be formed)."""

    notice_id: str
    opening_seq: int
    deadline: str
    tlock: bool  # whether the claimed entries must carry a tlock ciphertext
    seqs: array.array  # type: ignore[type-arg]  # 'q'
    commitments: bytes
    labels: str  # one per claim, "\n"-joined: "bid B-1", "the withdrawal of bid B-1"
    round: int | None = None
    signature: str | None = None
    plaintexts: list[bytes | None] | None = None

    def label(self, index: int) -> str:
        return self.labels.split("\n")[index]


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


# protocol.bid_commitment and withdrawal_commitment with their fixed parts made once: a
# log holds a commitment per bid and withdrawal, and the salts here are 32 bytes already
# (_salt). tests/unit/log/test_msp2_verifier.py holds them equal to the protocol's.
_BID_HEAD = protocol.LP("msp/2/bid") + protocol.u32be(protocol.SALT_BYTES)
_WITHDRAWAL_HEAD = protocol.LP("msp/2/withdrawal") + protocol.u32be(protocol.SALT_BYTES)
_DIGEST_LENGTH = protocol.u32be(32)


def _bid_commitment(salt: bytes, document: bytes) -> bytes:
    return hashlib.sha256(_BID_HEAD + salt + len(document).to_bytes(4, "big") + document).digest()


def _withdrawal_commitment(salt: bytes, bid_commitment: bytes) -> bytes:
    return hashlib.sha256(_WITHDRAWAL_HEAD + salt + _DIGEST_LENGTH + bid_commitment).digest()


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


def _bid_document_v2_bytes(doc: dict[str, Any], notice_id: str | None) -> bytes:
    """``protocol.canonical_json`` of an MSP/2 bid document whose ids are checked ids (so
    need no escaping) and whose price is null or a safe positive integer, spelled out;
    anything else goes the long way (see ``_bid_document_bytes``)."""
    agency_id, bid_id, price = doc["agency_id"], doc["bid_id"], doc["price_fen"]
    if doc["notice_id"] == notice_id and (
        price is None or (type(price) is int and 0 < price <= protocol.MAX_SAFE_INTEGER)
    ):
        spelled = "null" if price is None else str(price)
        return f'{{"agency_id":"{agency_id}","bid_id":"{bid_id}","notice_id":"{notice_id}","price_fen":{spelled}}}'.encode(
            "ascii"
        )
    return protocol.canonical_json(doc)


def _salt(value: Any) -> bytes | None:
    return bytes.fromhex(value) if _is_hex64(value) else None


def _tlock_plaintext(salt: bytes, **what: bytes) -> bytes | None:
    """``protocol.tlock_plaintext``, None when the opening cannot form one (a document too
    long for the 512 bytes: the ciphertext cannot hold it, which the join reports)."""
    try:
        return protocol.tlock_plaintext(salt, **what)
    except ValueError:
        return None


class NoticeCheck:
    """One notice's entries, fed in log order, checked as they come: the state a reader of
    the log builds (deadline in force, standing bids, holders of the award) is what each
    next entry is checked against. ``check_notice`` is the whole thing in one call."""

    # A large log holds one of these per notice, and feeds it most of the log's entries.
    __slots__ = (
        "alternates",
        "bid_count",
        "bids",
        "cancelled_openings",
        "cancelled_seq",
        "candidate_count",
        "candidates",
        "changed_seq",
        "claims",
        "closed_seq",
        "closed_ts",
        "commit",
        "count",
        "deadline",
        "early",
        "eligible",
        "final_seq",
        "first_seq",
        "id_ok",
        "k",
        "method",
        "min_candidates",
        "moved_seq",
        "notes",
        "notice_id",
        "objections",
        "opened_seq",
        "outcome",
        "prices",
        "problems",
        "published_seq",
        "published_ts",
        "scheme",
        "sealing",
        "secret",
        "selections",
        "slots",
        "standing",
        "used",
        "version",
    )

    def __init__(self, notice_id: str) -> None:
        self.notice_id = notice_id
        self.id_ok = is_id(notice_id)
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
        # MSP/2: the version of notice.published, its sealing, and what its opening claims
        self.version: int | None = None
        self.sealing: str | None = None
        self.published_ts = ""
        self.moved_seq = -1  # the last amendment that moved the deadline
        self.claims: Claims | None = None
        self.cancelled_openings = (
            False  # whether notice.cancelled opened the bids (else bids.opened does, tlock)
        )
        self.opened_seq: int | None = None  # bids.opened

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
        if self.cancelled_seq is not None and kind != "bids.opened":
            # (bids.opened: a tlock notice's bids, opened once the deadline's round is out)
            self.problem(seq, f"{kind} after notice.cancelled (entry {self.cancelled_seq})")
            return
        if self.version is not None and entry.get("v") != self.version and kind != "notice.published":
            self.problem(
                seq,
                f"{kind} has v {entry.get('v')!r}, but notice {self.notice_id} follows {RULES[self.version]} "
                f"(its notice.published, entry {self.published_seq}, has v {self.version}): a notice's entries all carry its version",
            )
        handler = (self._HANDLERS_V2 if self.version == 2 else self._HANDLERS).get(kind)  # type: ignore[arg-type]
        if handler is not None:
            try:
                handler(self, seq, entry, ts)
            except Exception as exc:
                self.problem(seq, f"{kind} could not be checked: {type(exc).__name__}: {exc}")

    def _published(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.published_seq is not None:
            self.problem(seq, f"a second notice.published (the first is entry {self.published_seq})")
            return
        self.published_seq = seq
        v = e.get("v")
        self.version = v if type(v) is int and v in protocol.VERSIONS else 1
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
        if self.version == 2:
            sealing = e.get("sealing")
            if sealing in protocol.SEALINGS:
                self.sealing = sealing
            else:
                self.problem(seq, f"sealing {sealing!r} is not server or tlock (MSP/2)")
            self.published_ts = ts
            self._check_window(seq, self.deadline)

    def _check_window(self, seq: int, deadline: str | None) -> None:
        """MSP/2: no deadline more than the longest bid window after publication, or a
        sealed entry could wait longer for its opening than a verifier allows it."""
        if deadline is None or not self.published_ts:
            return
        window = timedelta(seconds=protocol.MAX_BID_WINDOW_SECONDS)
        # Both are checked spellings of the time format already (_deadline, and every entry's
        # ts): fromisoformat reads them at a tenth of parse_ts's cost.
        if datetime.fromisoformat(deadline[:-1]) - datetime.fromisoformat(self.published_ts[:-1]) > window:
            self.problem(
                seq,
                f"bid_deadline {deadline} is more than {window.days} days (MAX_BID_WINDOW_SECONDS) after "
                f"the notice was published at {self.published_ts} (MSP/2)",
            )

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
                self.problem(
                    seq,
                    f"scheme commits to drand round {round_number}, but the deadline {deadline} calls for round {due}",
                )
        return str(scheme)

    def _amended(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.closed_seq is not None:
            # Not applied: the bids were opened under the terms in force at closing.
            self.problem(seq, f"notice.amended after bidding.closed (entry {self.closed_seq})")
            return
        if self.deadline is not None and ts >= self.deadline:
            self.problem(seq, f"notice.amended at {ts}, at or after the deadline in force {self.deadline}")
        for name, committed in (
            ("method", self.method),
            ("winners", self.k),
            ("min_candidates", self.min_candidates),
            ("commit", self.commit),
        ):
            if name in e and e[name] != committed:
                self.problem(seq, f"notice.amended changes {name}, which never changes")
        if not _is_hex64(e.get("terms_sha256")):
            self.problem(seq, "terms_sha256 is not 64 lowercase hex digits")
        deadline = self._deadline(seq, e.get("bid_deadline"))
        if deadline is not None and self.deadline is not None and deadline < self.deadline:
            self.problem(
                seq, f"the amended deadline {deadline} is earlier than the one before, {self.deadline}"
            )
        scheme = self._scheme(seq, e.get("scheme"), deadline)
        if (
            deadline == self.deadline
            and scheme is not None
            and self.scheme is not None
            and scheme != self.scheme
        ):
            self.problem(
                seq, f"scheme changed from {self.scheme} to {scheme} although the deadline did not move"
            )
        if self.version == 2:
            self._check_window(seq, deadline)
            if deadline is not None and deadline != self.deadline:
                self.moved_seq = seq
        if deadline is not None:
            self.deadline = deadline
        if scheme is not None:
            self.scheme = scheme

    def _cancelled(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.closed_seq is not None:
            self.problem(seq, f"notice.cancelled after bidding.closed (entry {self.closed_seq})")
        elif self.deadline is not None and ts >= self.deadline:
            self.problem(seq, f"notice.cancelled at {ts}, at or after the deadline {self.deadline}")
        if self.version == 2 and self.closed_seq is None:
            if "tlock" in e:
                self.problem(
                    seq,
                    "notice.cancelled has tlock: a tlock notice's cancellation comes before its round, and bids.opened gives it",
                )
            openings = e.get("openings")
            if self.sealing == "tlock":
                # Cancelled before the deadline, so before the round that opens the bids:
                # nobody can open them yet; bids.opened does once the round is out.
                if openings is not None:
                    self.problem(
                        seq,
                        "notice.cancelled of a tlock notice has openings: its bids cannot be opened before the deadline's round (openings is null, and bids.opened opens them)",
                    )
            else:
                # Every bid placed, standing or withdrawn, is opened: else nobody could tell a
                # cancellation that drops bids from one that had none (the join tells).
                self._check_openings(seq, openings, "notice.cancelled")
                self.cancelled_openings = True
                self.bid_count = len(self.standing)
        self.cancelled_seq = seq

    def _bids_opened(self, seq: int, e: dict[str, Any], ts: str) -> None:
        """MSP/2: the bids of a tlock notice cancelled before its deadline, opened once the
        deadline's round is out, checked as a close's openings are (against the deadline
        in force at the cancellation, the sealed entries before the cancellation)."""
        if self.cancelled_seq is None:
            self.problem(
                seq,
                "bids.opened of a notice that was not cancelled (only a cancelled tlock notice's bids are opened so)",
            )
            return
        if self.sealing != "tlock":
            self.problem(
                seq,
                f"bids.opened of a {self.sealing} notice, whose cancellation (entry {self.cancelled_seq}) opens the bids itself",
            )
            return
        if self.opened_seq is not None:
            self.problem(seq, f"a second bids.opened (the first is entry {self.opened_seq})")
            return
        self.opened_seq = seq
        if self.deadline is not None and ts < self.deadline:
            self.problem(
                seq,
                f"bids.opened at {ts}, before the deadline {self.deadline}: its drand round cannot have been out",
            )
        self._check_openings(seq, e.get("openings"), "bids.opened", before=self.cancelled_seq)
        self._check_tlock(seq, e.get("tlock"), "bids.opened")
        self.bid_count = len(self.standing)

    def _v2_only(self, seq: int, e: dict[str, Any], ts: str) -> None:
        self.problem(seq, f"{e['type']} in an MSP/1 notice: it exists only in MSP/2")

    def _bid_accepted(self, seq: int, e: dict[str, Any], ts: str) -> None:
        bid_id, agency_id, sha = e.get("bid_id"), e.get("agency_id"), e.get("bid_sha256")
        if not (is_id(bid_id) and is_id(agency_id) and _is_hex64(sha)):
            self.problem(seq, "bid.accepted needs an id bid_id, an id agency_id and a hex bid_sha256")
            return
        if self.closed_seq is not None:
            # (the bids are no longer kept: see _closed)
            self.problem(seq, f"bid {bid_id} accepted after bidding.closed (entry {self.closed_seq})")
            return
        if self.deadline is not None and ts >= self.deadline:
            self.problem(
                seq, f"bid {bid_id} accepted at {ts}, at or after the deadline in force {self.deadline}"
            )
        if bid_id in self.bids:
            self.problem(seq, f"bid {bid_id} accepted a second time (first at entry {self.bids[bid_id].seq})")
            return
        if agency_id in self.standing:
            held = self.bids[self.standing[agency_id]]
            self.problem(
                seq,
                f"agency {agency_id} already has a standing bid, {self.standing[agency_id]} (entry {held.seq})",
            )
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
            self.problem(
                seq, f"bid {bid_id} withdrawn at {ts}, at or after the deadline in force {self.deadline}"
            )
        bid.withdrawn_seq = seq
        if self.standing.get(bid.agency_id) == bid_id:
            del self.standing[bid.agency_id]

    def _closed(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.closed_seq is not None:
            self.problem(seq, f"a second bidding.closed (the first is entry {self.closed_seq})")
            return
        self.closed_seq, self.closed_ts = seq, ts
        self._check_secret(seq, e.get("secret"))
        if self.version == 2:
            if "bids" in e:
                self.problem(seq, "bidding.closed of an MSP/2 notice has bids: its bids are in openings")
            self._check_openings(seq, e.get("openings"), "bidding.closed")
            self._check_tlock(seq, e.get("tlock"), "bidding.closed")
        else:
            self._check_bid_documents(seq, e.get("bids"))
        self._check_candidates(seq, e.get("candidates"), e.get("excluded"))
        eligible = e.get("eligible")
        if not _is_hex64(eligible):
            self.problem(seq, "eligible is not 64 lowercase hex digits")
        else:
            self.eligible = bytes.fromhex(eligible)
            # (self.candidates are set only when _check_candidates found them canonical)
            if (
                self.candidates is not None
                and protocol.eligible_digest_of_ordered(self.candidates).hex() != eligible
            ):
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
            if (
                not isinstance(doc, dict)
                or doc.keys() != BID_DOCUMENT_KEYS
                or not isinstance(doc["bid_id"], str)
            ):
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
                self.problem(
                    seq, f"bid {bid_id} was withdrawn (entry {bid.withdrawn_seq}) but is in bidding.closed"
                )
            if agency_id != bid.agency_id:
                self.problem(
                    seq,
                    f"bid document {bid_id} names agency {agency_id!r}, its bid.accepted entry (entry {bid.seq}) {bid.agency_id}",
                )
            try:
                digest = protocol.bid_sha256(
                    _bid_document_bytes(doc, bid, self.notice_id if self.id_ok else None)
                )
            except protocol.CanonicalJSONError as exc:
                self.problem(seq, f"bid document {bid_id} cannot be canonical JSON: {exc}")
                continue
            if digest != bid.sha:
                self.problem(
                    seq,
                    f"bid document {bid_id} does not hash to the bid_sha256 of its bid.accepted entry (entry {bid.seq})",
                )
            if self.method == "lowest_price":
                if not _is_int(price, 1):
                    self.problem(
                        seq,
                        f"bid {bid_id} has price_fen {price!r}; a lowest_price bid has a positive integer",
                    )
            elif self.method is not None and price is not None:
                self.problem(
                    seq, f"bid {bid_id} has price_fen {price!r}; a {self.method} bid has none (null)"
                )
            if bid.withdrawn_seq is None:
                self.prices[bid.agency_id] = price
        for agency_id, bid_id in self.standing.items():
            if bid_id not in seen:
                self.problem(
                    seq,
                    f"bid {bid_id} of {agency_id} (entry {self.bids[bid_id].seq}) is missing from bidding.closed",
                )

    def _check_openings(self, seq: int, openings: Any, where: str, before: int | None = None) -> None:
        """MSP/2: every bid placed on the notice, standing or withdrawn, opened: its document,
        its salt and its sealed entry's seq (and the withdrawal's). What can be checked here
        is; whether each seq is a sealed entry holding that commitment, logged before the
        deadline and claimed by nobody else, is the whole log's to say (``Claims``).
        ``before``: the entry the sealed entries come before (default: this one)."""
        if not isinstance(openings, list):
            self.problem(seq, f"{where} of an MSP/2 notice has no openings list")
            return
        before = seq if before is None else before
        seqs: list[int] = []
        commitments: list[bytes] = []
        labels: list[str] = []
        # tlock: what each claimed entry's ciphertext must open to
        plaintexts: list[bytes | None] | None = [] if self.sealing == "tlock" else None
        # agency -> [(sealed seq, end of standing, bid_id)] of its bids (more than one: checked)
        spans: dict[str, list[tuple[int, int, str]]] = {}
        seen: set[str] = set()
        previous, unsorted = "", False
        notice_id = self.notice_id if self.id_ok else None
        for item in openings:
            if not isinstance(item, dict) or item.keys() != OPENING_KEYS:
                keys = sorted(item) if isinstance(item, dict) else type(item).__name__
                self.problem(
                    seq,
                    f"openings holds something that is not an opening {{bid, salt, seq, withdrawn}}: {keys}",
                )
                continue
            doc = item["bid"]
            if not (
                isinstance(doc, dict)
                and doc.keys() == BID_DOCUMENT_V2_KEYS
                and is_id(doc["bid_id"])
                and is_id(doc["agency_id"])
            ):
                keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
                self.problem(
                    seq,
                    f"an opening's bid is not an MSP/2 bid document {{agency_id, bid_id, notice_id, price_fen}} with ids: {keys}",
                )
                continue
            bid_id, agency_id, price = doc["bid_id"], doc["agency_id"], doc["price_fen"]
            if bid_id in seen:
                self.problem(seq, f"bid {bid_id} is opened twice")
                continue
            seen.add(bid_id)
            if bid_id < previous and not unsorted:  # ids are ASCII: as their UTF-8 bytes
                self.problem(seq, f"openings are not sorted by bid_id: {bid_id} comes after {previous}")
                unsorted = True
            previous = max(previous, bid_id)
            if doc["notice_id"] != self.notice_id:
                self.problem(seq, f"bid document {bid_id} names notice {doc['notice_id']!r}")
            if self.method == "lowest_price":
                if not _is_int(price, 1):
                    self.problem(
                        seq,
                        f"bid {bid_id} has price_fen {price!r}; a lowest_price bid has a positive integer",
                    )
            elif self.method is not None and price is not None:
                self.problem(
                    seq, f"bid {bid_id} has price_fen {price!r}; a {self.method} bid has none (null)"
                )
            salt, bid_seq, withdrawn = _salt(item["salt"]), item["seq"], item["withdrawn"]
            if salt is None or not _is_int(bid_seq, 0):
                self.problem(
                    seq, f"the opening of bid {bid_id} needs a salt of 64 lowercase hex digits and a seq"
                )
                continue
            try:
                document = _bid_document_v2_bytes(doc, notice_id)
            except protocol.CanonicalJSONError as exc:
                self.problem(seq, f"bid document {bid_id} cannot be canonical JSON: {exc}")
                continue
            bid_commitment = _bid_commitment(salt, document)
            self._claim(seq, before, bid_seq, f"bid {bid_id}", bid_commitment, seqs, commitments, labels)
            if plaintexts is not None:
                plaintexts.append(_tlock_plaintext(salt, document=document))
            if withdrawn is None:
                spans.setdefault(agency_id, []).append((bid_seq, before, bid_id))
                if agency_id in self.standing:
                    self.problem(
                        seq,
                        f"agency {agency_id} has two standing bids, {self.standing[agency_id]} and {bid_id}",
                    )
                else:
                    self.standing[agency_id] = bid_id
                    self.prices[agency_id] = price
                continue
            w_salt = (
                _salt(withdrawn.get("salt"))
                if isinstance(withdrawn, dict) and withdrawn.keys() == WITHDRAWN_KEYS
                else None
            )
            w_seq = withdrawn["seq"] if w_salt is not None else None
            if w_salt is None or not _is_int(w_seq, 0):
                self.problem(
                    seq,
                    f"the withdrawal of bid {bid_id} is not null or {{salt, seq}} with a salt of 64 lowercase hex digits",
                )
                continue
            if w_seq <= bid_seq:
                self.problem(
                    seq,
                    f"the withdrawal of bid {bid_id} (entry {w_seq}) is not after the bid's sealed entry {bid_seq}",
                )
            spans.setdefault(agency_id, []).append((bid_seq, w_seq, bid_id))
            self._claim(
                seq,
                before,
                w_seq,
                f"the withdrawal of bid {bid_id}",
                _withdrawal_commitment(w_salt, bid_commitment),
                seqs,
                commitments,
                labels,
            )
            if plaintexts is not None:
                plaintexts.append(_tlock_plaintext(w_salt, withdraws=bid_commitment))
        if len(spans) < len(seen):  # some agency bid more than once: one bid standing at a time
            self._check_spans(seq, before, spans)
        if self.deadline is not None:
            self.claims = Claims(
                self.notice_id,
                seq,
                self.deadline,
                self.sealing == "tlock",
                array.array("q", seqs),
                b"".join(commitments),
                "\n".join(labels),
                plaintexts=plaintexts,
            )

    def _check_spans(self, seq: int, before: int, spans: dict[str, list[tuple[int, int, str]]]) -> None:
        """At most one standing bid per agency at any time, not only at the opening: a bid
        stands from its sealed entry until its withdrawal's (or the opening, ``before``),
        and the spans of one agency's bids do not overlap. (Two bids still standing at the
        opening are said already.)"""
        for agency_id, bids in spans.items():
            if len(bids) < 2:
                continue
            bids.sort()
            held = bids[0]
            for bid in bids[1:]:
                if bid[0] < held[1] and not (bid[1] == held[1] == before):
                    until = "the opening" if held[1] == before else f"its withdrawal, entry {held[1]}"
                    self.problem(
                        seq,
                        f"agency {agency_id} had two bids standing at once: {held[2]} (sealed entry {held[0]}, standing until "
                        f"{until}) and {bid[2]} (sealed entry {bid[0]})",
                    )
                if bid[1] > held[1]:
                    held = bid

    def _claim(
        self,
        seq: int,
        before: int,
        claimed: int,
        label: str,
        commitment: bytes,
        seqs: list[int],
        commitments: list[bytes],
        labels: list[str],
    ) -> None:
        """One sealed entry an opening claims; what the notice alone can tell of it checked."""
        if self.published_seq is not None and not self.published_seq < claimed < before:
            where = "this opening" if before == seq else f"notice.cancelled (entry {before})"
            self.problem(
                seq,
                f"{label}: its sealed entry {claimed} is not between notice.published (entry {self.published_seq}) and {where}",
            )
        if self.sealing == "tlock" and claimed < self.moved_seq:
            self.problem(
                seq,
                f"{label}: its sealed entry {claimed} was timelocked before the amendment (entry {self.moved_seq}) "
                "moved the deadline, so it could be opened before the deadline in force",
            )
        seqs.append(claimed)
        commitments.append(commitment)
        labels.append(label)

    def _check_tlock(self, seq: int, value: Any, where: str) -> None:
        """MSP/2 tlock notices: the opening gives the round the sealed entries were locked
        to (the deadline's) and its signature, so that anyone can decrypt them offline; the
        claims keep both for the join, which opens each claimed ciphertext with them."""
        if self.sealing != "tlock":
            if value is not None:
                self.problem(seq, f"{where} has tlock, but the notice's sealing is {self.sealing}")
            return
        if not isinstance(value, dict):
            self.problem(seq, f"{where} of a tlock notice has no tlock {{round, signature}}")
            return
        due = None
        if self.deadline is not None:
            try:
                due = protocol.tlock_round(protocol.deadline_unix(protocol.parse_ts(self.deadline)))
            except ValueError:
                pass
        round_number, signature = value.get("round"), value.get("signature")
        usable = True
        if round_number != due or isinstance(round_number, bool):
            self.problem(
                seq,
                f"tlock round {round_number!r} is not {due}, the first drand quicknet round at or after the deadline {self.deadline}",
            )
            usable = False
        if not (
            isinstance(signature, str)
            and signature
            and len(signature) % 2 == 0
            and re.fullmatch(r"[0-9a-f]+", signature)
        ):
            self.problem(seq, "tlock signature is not lowercase hex")
            usable = False
        elif drand_verify is None:
            self.notes.append(BLS_NOT_CHECKED)
        elif isinstance(round_number, int):
            try:
                drand_verify.verify_quicknet(round_number, signature)
            except Exception:  # ValueError, or whatever else a malformed signature brings
                self.problem(
                    seq, f"tlock signature does not verify (BLS) for drand quicknet round {round_number}"
                )
                usable = False
        if not tlock.available():
            self.notes.append(TLOCK_NOT_DECRYPTED)
        elif usable and self.claims is not None and self.claims.opening_seq == seq:
            self.claims.round, self.claims.signature = round_number, signature

    def _v1_only(self, seq: int, e: dict[str, Any], ts: str) -> None:
        self.problem(
            seq,
            f"{e['type']} in an MSP/2 notice, whose bids and withdrawals are bid.sealed entries opened at the close",
        )

    def _check_candidates(self, seq: int, candidates: Any, excluded: Any) -> None:
        """``candidates`` and ``excluded`` split the standing bidders between them."""
        chosen: list[tuple[str, int]] = []
        well_formed = isinstance(candidates, list)
        for item in candidates if isinstance(candidates, list) else []:
            if not (isinstance(item, list) and len(item) == 2 and is_id(item[0]) and _is_int(item[1], 1)):
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
            if not (
                isinstance(item, dict)
                and is_id(item.get("agency_id"))
                and isinstance(item.get("reason"), str)
                and item["reason"]
            ):
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
            self.problem(
                seq, f"selection.failed although {count} candidates meet the minimum of {self.min_candidates}"
            )

    def _direct(self, seq: int, e: dict[str, Any]) -> None:
        agency_id = e.get("agency_id")
        if self.method != "direct":
            self.problem(seq, f"selection.direct on a {self.method} notice, which is drawn")
        if self.candidates is not None:
            names = [a for a, _ in self.candidates]
            if self.min_candidates is not None and len(names) < self.min_candidates:
                self.problem(
                    seq,
                    f"selection.direct with {len(names)} candidates, fewer than the minimum of {self.min_candidates}",
                )
            if agency_id not in names:
                self.problem(seq, f"selection.direct names {agency_id!r}, which is not a candidate")
            elif len(names) > 1 and self.method == "direct":
                # Every bidder but the named agency is excluded (not_named): one candidate at most.
                self.problem(
                    seq, f"a direct notice has one candidate, the agency it names; this one has {len(names)}"
                )
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
        if (
            self.candidates is not None
            and self.min_candidates is not None
            and len(self.candidates) < self.min_candidates
        ):
            self.problem(
                seq,
                f"selection.drawn with {len(self.candidates)} candidates, fewer than the minimum of {self.min_candidates}",
            )
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
            self.problem(
                seq,
                "the draw cannot be recomputed: the values it depends on are missing or malformed (see above)",
            )
            return
        assert (
            beacon is not None
            and self.secret is not None
            and self.eligible is not None
            and self.candidates is not None
        )
        assert self.scheme is not None and self.k is not None
        seed = protocol.seed(self.notice_id, 1, self.secret, self.eligible, self.scheme, beacon)
        if e.get("seed") != seed.hex():
            # Everything after the seed would differ too: one problem says it.
            self.problem(seq, "seed does not recompute from the secret, eligible, scheme and beacon")
            return
        order = protocol.draw_order_of_ordered(seed, self.candidates)
        try:
            ranking = protocol.rank(self.method, order, self.prices)
        except ValueError as exc:
            self.problem(seq, f"the ranking cannot be recomputed: {exc}")
            return
        winners, alternates = protocol.split_winners(ranking, self.k)
        for name, expected in (
            ("order", order),
            ("ranking", ranking),
            ("winners", winners),
            ("alternates", alternates),
        ):
            if logged[name] != expected:
                self.problem(
                    seq,
                    f"{name} does not recompute: the entry has {_names(logged[name])}, the draw gives {_names(expected)}",
                )

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
            self.problem(
                seq, f"beacon round {beacon.get('round')!r} is not the committed round {round_number}"
            )
        value = protocol.beacon_value(signature_bytes)
        if beacon.get("randomness") != value.hex():
            self.problem(seq, "beacon randomness is not H(signature)")
        if drand_verify is None:
            self.notes.append(BLS_NOT_CHECKED)
        else:
            try:
                drand_verify.verify_quicknet(round_number, signature)
            except Exception:  # ValueError, or whatever else a malformed signature brings
                self.problem(
                    seq, f"beacon signature does not verify (BLS) for drand quicknet round {round_number}"
                )
        return value

    def _holder_slot(self, seq: int, kind: str, agency_id: Any) -> int | None:
        if self.outcome is None or self.outcome[1] == "selection.failed":
            self.problem(seq, f"{kind} with no selection to award")
            return None
        if agency_id is None or agency_id not in self.slots:
            self.problem(
                seq,
                f"{kind} names {agency_id!r}, which does not hold the award (holders {_names(self.holders)})",
            )
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
            self.problem(
                seq, f"objection {objection_id} was against {objection.agency_id}, not {e.get('agency_id')!r}"
            )
        self._replace(seq, "award.disqualified", e)

    def _final(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.outcome is None or self.outcome[1] == "selection.failed":
            self.problem(seq, "award.final with no selection to award")
            return
        for objection_id, objection in self.objections.items():
            if objection.decision is None:
                self.problem(
                    seq, f"award.final while objection {objection_id} (entry {objection.seq}) is pending"
                )
        holders = self.holders
        if not holders:
            self.problem(seq, "award.final although no agency holds the award")
        elif e.get("winners") != holders:
            self.problem(
                seq, f"award.final names {_names(e.get('winners'))}, but the holders are {_names(holders)}"
            )
        self.final_seq = seq

    def _objection_filed(self, seq: int, e: dict[str, Any], ts: str) -> None:
        objection_id, agency_id = e.get("objection_id"), e.get("agency_id")
        if not is_id(objection_id):
            self.problem(seq, f"objection_id {objection_id!r} is not an id")
            return
        if objection_id in self.objections:
            self.problem(
                seq,
                f"objection {objection_id} filed a second time (first at entry {self.objections[objection_id].seq})",
            )
            return
        if self.outcome is None or self.outcome[1] == "selection.failed":
            self.problem(seq, f"objection {objection_id} filed with no selection to object to")
        elif agency_id is not None and agency_id not in self.slots:
            self.problem(
                seq, f"objection {objection_id} is against {agency_id!r}, which does not hold the award"
            )
        if not _is_hex64(e.get("reasons_sha256")):
            self.problem(seq, "reasons_sha256 is not 64 lowercase hex digits")
        if "objector_sha256" in e and not _is_hex64(e["objector_sha256"]):
            # a salted commitment to who objected (issue 19); absent from older entries
            self.problem(seq, "objector_sha256 is not 64 lowercase hex digits")
        self.objections[objection_id] = _Objection(seq, agency_id if isinstance(agency_id, str) else None)

    def _objection(self, seq: int, e: dict[str, Any], kind: str) -> _Objection | None:
        objection_id = e.get("objection_id")
        objection = self.objections.get(objection_id) if isinstance(objection_id, str) else None
        if objection is None:
            self.problem(seq, f"{kind} for objection {objection_id!r}, which was never filed")
        elif objection.decided_seq is not None:
            self.problem(
                seq, f"{kind} for objection {objection_id}, already decided (entry {objection.decided_seq})"
            )
            return None
        return objection

    def _objection_answered(self, seq: int, e: dict[str, Any], ts: str) -> None:
        objection = self._objection(seq, e, "objection.answered")
        if not _is_hex64(e.get("answer_sha256")):
            self.problem(seq, "answer_sha256 is not 64 lowercase hex digits")
        if objection is None:
            return
        if objection.answered_seq is not None:
            self.problem(
                seq,
                f"objection {e['objection_id']} answered a second time (first at entry {objection.answered_seq})",
            )
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
        "bids.opened": _v2_only,
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

    _HANDLERS_V2 = {
        **_HANDLERS,
        "bid.accepted": _v1_only,
        "bid.withdrawn": _v1_only,
        "bids.opened": _bids_opened,
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
                self.problem(
                    self.closed_seq,
                    f"bidding closed at {self.closed_ts}, before the deadline {self.deadline}",
                )
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
            version=self.version,
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
        if status == "open" and self.version == 2:
            return f"{method}, open, bids sealed until the deadline"
        if (
            status == "cancelled"
            and self.version == 2
            and self.sealing == "tlock"
            and self.opened_seq is None
        ):
            return f"{method}, cancelled, bids sealed until the deadline's drand round (not opened yet)"
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
