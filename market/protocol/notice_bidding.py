"""A notice's publication and bidding, checked entry by entry: notice.published,
notice.amended and notice.cancelled, the bids of MSP/1 and the sealed bids of MSP/2 with
their openings, and bidding.closed with its candidates. ``notice_checks.NoticeCheck``
carries on from here with the outcome and the award. Pure, as ``notice_checks``."""

from __future__ import annotations

import array
import re
from datetime import datetime, timedelta
from typing import Any

from market import protocol
from market.protocol import entry_types, tlock
from market.protocol.notice_report import (
    BID_DOCUMENT_KEYS,
    BID_DOCUMENT_V2_KEYS,
    BLS_NOT_CHECKED,
    OPENING_KEYS,
    TLOCK_NOT_DECRYPTED,
    WITHDRAWN_KEYS,
    Claims,
    Problem,
    _Bid,
    _bid_commitment,
    _bid_document_bytes,
    _bid_document_v2_bytes,
    _is_hex64,
    _is_int,
    _Objection,
    _salt,
    _tlock_plaintext,
    _withdrawal_commitment,
    drand_verify,
    is_id,
)


class NoticeBidding:
    """The state a reader of the log builds for one notice (deadline in force, standing
    bids, holders of the award), and the checks of its entries up to bidding.closed."""

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
                self._check_openings(seq, openings, entry_types.NOTICE_CANCELLED)
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
        self._check_openings(seq, e.get("openings"), entry_types.BIDS_OPENED, before=self.cancelled_seq)
        self._check_tlock(seq, e.get("tlock"), entry_types.BIDS_OPENED)
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
            self._check_openings(seq, e.get("openings"), entry_types.BIDDING_CLOSED)
            self._check_tlock(seq, e.get("tlock"), entry_types.BIDDING_CLOSED)
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
