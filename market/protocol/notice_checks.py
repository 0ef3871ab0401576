"""The checks of one notice's story in the log: MSP/1 section 5 per notice, and the award
steps of docs/selection.md (declines, objections, disqualifications, final awards).

Pure: entries in, problems out. Like ``verifier``, it needs only the standard library,
``protocol`` and ``tlock`` (whose pairing library is optional), and ``ops/build_verifier.py``
joins it into the standalone ``ops/verify_log.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from market import protocol
from market.protocol import entry_types
from market.protocol.notice_bidding import NoticeBidding
from market.protocol.notice_report import (
    BLS_NOT_CHECKED,
    RULES,
    TS,
    NoticeReport,
    Problem,
    _is_hex64,
    _is_str_list,
    _names,
    _Objection,
    drand_verify,
    is_id,
)


class NoticeCheck(NoticeBidding):
    """One notice's entries, fed in log order, checked as they come: the state a reader of
    the log builds (deadline in force, standing bids, holders of the award) is what each
    next entry is checked against. ``check_notice`` is the whole thing in one call."""

    __slots__ = ()

    # -- feeding -----------------------------------------------------------------------

    def feed(self, seq: int, entry: dict[str, Any], *, ts_checked: bool = False) -> None:
        """Check the next entry; ``ts_checked``: its ts is known to be well-formed."""
        self.count += 1
        if self.first_seq is None:
            self.first_seq = seq
        kind = entry.get("type")
        ts: Any = entry.get("ts")  # a str once checked here or by the caller
        if not ts_checked and (not isinstance(ts, str) or not TS.fullmatch(ts)):
            self.problem(seq, f"ts {ts!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
            ts = ""
        if entry.get("notice_id") != self.notice_id:
            self.problem(seq, f"{kind} belongs to notice {entry.get('notice_id')!r}, not {self.notice_id}")
            return
        if self.published_seq is None and kind != entry_types.NOTICE_PUBLISHED:
            self.early.append((seq, str(kind)))
            return
        if self.cancelled_seq is not None and kind != entry_types.BIDS_OPENED:
            # (bids.opened: a tlock notice's bids, opened once the deadline's round is out)
            self.problem(seq, f"{kind} after notice.cancelled (entry {self.cancelled_seq})")
            return
        if (
            self.version is not None
            and entry.get("v") != self.version
            and kind != entry_types.NOTICE_PUBLISHED
        ):
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
        assert self.scheme is not None and self.k is not None and self.method is not None
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
        if self.outcome is None or self.outcome[1] == entry_types.SELECTION_FAILED:
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
        self._replace(seq, entry_types.AWARD_DECLINED, e)

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
        self._replace(seq, entry_types.AWARD_DISQUALIFIED, e)

    def _final(self, seq: int, e: dict[str, Any], ts: str) -> None:
        if self.outcome is None or self.outcome[1] == entry_types.SELECTION_FAILED:
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
        if self.outcome is None or self.outcome[1] == entry_types.SELECTION_FAILED:
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
        objection = self._objection(seq, e, entry_types.OBJECTION_ANSWERED)
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
        objection = self._objection(seq, e, entry_types.OBJECTION_DECIDED)
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
        entry_types.SELECTION_FAILED: _failed,
        entry_types.SELECTION_DRAWN: _drawn,
        entry_types.SELECTION_DIRECT: _direct,
    }
    _HANDLERS: dict[str, Callable[[NoticeCheck, int, dict[str, Any], str], None]] = {
        entry_types.NOTICE_PUBLISHED: NoticeBidding._published,
        entry_types.NOTICE_AMENDED: NoticeBidding._amended,
        entry_types.NOTICE_CANCELLED: NoticeBidding._cancelled,
        entry_types.BID_ACCEPTED: NoticeBidding._bid_accepted,
        entry_types.BID_WITHDRAWN: NoticeBidding._bid_withdrawn,
        entry_types.BIDDING_CLOSED: NoticeBidding._closed,
        entry_types.BIDS_OPENED: NoticeBidding._v2_only,
        entry_types.SELECTION_FAILED: _outcome,
        entry_types.SELECTION_DRAWN: _outcome,
        entry_types.SELECTION_DIRECT: _outcome,
        entry_types.AWARD_DECLINED: _declined,
        entry_types.AWARD_DISQUALIFIED: _disqualified,
        entry_types.AWARD_FINAL: _final,
        entry_types.OBJECTION_FILED: _objection_filed,
        entry_types.OBJECTION_ANSWERED: _objection_answered,
        entry_types.OBJECTION_DECIDED: _objection_decided,
    }

    _HANDLERS_V2 = {
        **_HANDLERS,
        entry_types.BID_ACCEPTED: NoticeBidding._v1_only,
        entry_types.BID_WITHDRAWN: NoticeBidding._v1_only,
        entry_types.BIDS_OPENED: NoticeBidding._bids_opened,
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
        if self.outcome[1] == entry_types.SELECTION_FAILED or not self.holders:
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
        if self.outcome is not None and self.outcome[1] == entry_types.SELECTION_FAILED:
            return f"{method}, failed: {candidates}, minimum {self.min_candidates}"
        if status == "failed":
            return f"{method}, {candidates}, failed: no winner and no alternate left"
        if self.outcome is not None and self.outcome[1] == entry_types.SELECTION_DIRECT:
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
