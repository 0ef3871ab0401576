"""Per-notice checks of the verifier (MSP/1 section 5, and the award steps of
docs/selection.md): stories built with the protocol functions verify, and each way of
tampering with one is caught with a plain message naming the entry."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from market import protocol
from market.protocol import notice_checks
from market.protocol.notice_checks import Problem, check_notice, notice_report

DEADLINE = "2026-12-04T09:00:00.000000Z"

# MSP/1 section 6, V1 (lottery) and V3 (lowest price, drand round 657413)
V1_SECRET = bytes.fromhex("f9b04710fe955f048de2b05a6ec4613dc47cff7a6588548b7ef1a9b353e9fb80")
V3_SECRET = bytes.fromhex("12906dc71fbc3500a12ed35015bedc70b1a5617787fbd7a46b606166979a5d3a")
V3_SIGNATURE = (
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
)
V3_ROUND = 657413
# The deadline whose beacon round is 657413: round r is emitted at genesis + (r - 1) * 3,
# an hour after the deadline.
V3_DEADLINE = protocol.format_ts(
    datetime.fromtimestamp(protocol.QUICKNET_GENESIS + (V3_ROUND - 1) * 3 - 3600, tz=UTC)
)


def ts_after(ts: str, **delta: float) -> str:
    return protocol.format_ts(protocol.parse_ts(ts) + timedelta(**delta))


class Story:
    """One notice's log entries, built step by step with the protocol's own functions,
    as the server writes them."""

    def __init__(
        self,
        notice_id: str = "N-000001",
        *,
        method: str = "lottery",
        k: int = 1,
        min_candidates: int = 3,
        secret: bytes = V1_SECRET,
        deadline: str = DEADLINE,
        scheme: str = "none",
        first_seq: int = 0,
        start: str | None = None,
    ) -> None:
        self.notice_id = notice_id
        self.method, self.k, self.min_candidates = method, k, min_candidates
        self.secret, self.deadline, self.scheme = secret, deadline, scheme
        self.seq = first_seq
        self.clock = protocol.parse_ts(start or ts_after(deadline, days=-7))
        self.entries: list[tuple[int, dict[str, Any]]] = []
        self.docs: dict[str, dict[str, Any]] = {}
        self.standing: dict[str, str] = {}  # agency -> bid_id
        self.candidates: list[tuple[str, int]] = []
        self.winners: list[str] = []
        self.alternates: list[str] = []
        self.bid_counter = 0

    # -- plumbing --

    def add(self, type_: str, ts: str | None = None, **fields: Any) -> dict[str, Any]:
        if ts is None:
            self.clock += timedelta(minutes=1)
            ts = protocol.format_ts(self.clock)
        entry = {"v": 1, "seq": self.seq, "type": type_, "ts": ts, "notice_id": self.notice_id, **fields}
        self.entries.append((self.seq, entry))
        self.seq += 1
        return entry

    def after_deadline(self) -> None:
        deadline = protocol.parse_ts(self.deadline)
        if self.clock < deadline:
            self.clock = deadline

    def of_type(self, type_: str) -> dict[str, Any]:
        return next(e for _, e in self.entries if e["type"] == type_)

    def raw(self) -> list[bytes]:
        return [protocol.canonical_json(e) for _, e in self.entries]

    # -- the steps --

    def publish(self) -> Story:
        self.add(
            "notice.published",
            method=self.method,
            winners=self.k,
            min_candidates=self.min_candidates,
            bid_deadline=self.deadline,
            terms_sha256=protocol.sha256_hex(b'{"title":"t"}'),
            commit=protocol.commitment(self.notice_id, self.secret).hex(),
            scheme=self.scheme,
        )
        return self

    def amend(self, deadline: str, scheme: str = "none") -> Story:
        self.deadline, self.scheme = deadline, scheme
        self.add(
            "notice.amended",
            terms_sha256=protocol.sha256_hex(b'{"title":"t2"}'),
            bid_deadline=deadline,
            scheme=scheme,
        )
        return self

    def bid(self, agency_id: str, price: int | None = None, bid_id: str | None = None) -> str:
        self.bid_counter += 1
        bid_id = bid_id or f"B-{self.notice_id[2:]}{self.bid_counter:03d}"
        doc = protocol.bid_document(self.notice_id, bid_id, agency_id, price, f"{self.bid_counter:032x}")
        self.docs[bid_id] = json.loads(doc)
        self.standing[agency_id] = bid_id
        self.add("bid.accepted", bid_id=bid_id, agency_id=agency_id, bid_sha256=protocol.bid_sha256(doc))
        return bid_id

    def withdraw(self, agency_id: str) -> None:
        bid_id = self.standing.pop(agency_id)
        self.add("bid.withdrawn", bid_id=bid_id, agency_id=agency_id)

    def close(self, excluded: dict[str, str] | None = None) -> Story:
        excluded = excluded or {}
        self.after_deadline()
        bids = sorted((self.docs[b] for b in self.standing.values()), key=lambda d: d["bid_id"])
        self.candidates = protocol.canonical_candidates([(a, 1) for a in self.standing if a not in excluded])
        self.add(
            "bidding.closed",
            secret=self.secret.hex(),
            bids=bids,
            candidates=[[a, w] for a, w in self.candidates],
            excluded=[{"agency_id": a, "reason": r} for a, r in sorted(excluded.items())],
            eligible=protocol.eligible_digest(self.candidates).hex(),
        )
        return self

    def draw(self, signature: str | None = None) -> Story:
        beacon_entry, beacon = None, b""
        if signature is not None:
            beacon = protocol.beacon_value(bytes.fromhex(signature))
            beacon_entry = {
                "round": protocol.scheme_round(self.scheme),
                "signature": signature,
                "randomness": beacon.hex(),
            }
        seed = protocol.seed(
            self.notice_id, 1, self.secret, protocol.eligible_digest(self.candidates), self.scheme, beacon
        )
        order = protocol.draw_order(seed, self.candidates)
        prices = (
            {d["agency_id"]: d["price_fen"] for d in self.docs.values()}
            if self.method == "lowest_price"
            else None
        )
        ranking = protocol.rank(self.method, order, prices)
        self.winners, self.alternates = protocol.split_winners(ranking, self.k)
        self.add(
            "selection.drawn",
            attempt=1,
            scheme=self.scheme,
            beacon=beacon_entry,
            seed=seed.hex(),
            order=order,
            ranking=ranking,
            winners=self.winners,
            alternates=self.alternates,
        )
        return self

    def fail(self) -> Story:
        self.add("selection.failed", reason="too_few_candidates")
        return self

    def direct(self, agency_id: str, justification: str = "sole licensed provider in the county") -> Story:
        self.add("selection.direct", agency_id=agency_id, justification=justification)
        return self

    def decline(self, agency_id: str, replacement: str | None) -> Story:
        self.add("award.declined", agency_id=agency_id, reason="cannot staff it", replacement=replacement)
        return self

    def object(self, objection_id: str, agency_id: str | None) -> Story:
        self.add(
            "objection.filed",
            objection_id=objection_id,
            agency_id=agency_id,
            reasons_sha256=protocol.sha256_hex(b"r"),
        )
        return self

    def answer(self, objection_id: str) -> Story:
        self.add("objection.answered", objection_id=objection_id, answer_sha256=protocol.sha256_hex(b"a"))
        return self

    def decide(self, objection_id: str, decision: str) -> Story:
        self.add(
            "objection.decided",
            objection_id=objection_id,
            decision=decision,
            reason_sha256=protocol.sha256_hex(b"d"),
        )
        return self

    def disqualify(self, agency_id: str, objection_id: str, replacement: str | None) -> Story:
        self.add(
            "award.disqualified", agency_id=agency_id, objection_id=objection_id, replacement=replacement
        )
        return self

    def final(self, winners: list[str]) -> Story:
        self.add("award.final", winners=winners)
        return self

    def cancel(self) -> Story:
        self.add("notice.cancelled", reason="budget withdrawn")
        return self


# -- stories that verify ------------------------------------------------------------------------


def v1_lottery() -> Story:
    """V1: five candidates, given out of order on purpose; AG-004 wins."""
    story = Story("N-000001").publish()
    for agency in ("AG-004", "AG-001", "AG-003", "AG-002", "AG-005"):
        story.bid(agency)
    return story.close().draw()


def v3_lowest_price() -> Story:
    """V3: a price tie between AG-103 and AG-104 that the draw breaks, on a drand beacon."""
    story = Story(
        "N-000003",
        method="lowest_price",
        min_candidates=2,
        secret=V3_SECRET,
        deadline=V3_DEADLINE,
        scheme=f"drand/quicknet/{V3_ROUND}",
    )
    story.publish()
    for agency, price in (("AG-101", 980000), ("AG-102", 950000), ("AG-103", 900000), ("AG-104", 900000)):
        story.bid(agency, price)
    return story.close().draw(V3_SIGNATURE)


def direct() -> Story:
    story = Story("N-000010", method="direct", min_candidates=1).publish()
    story.bid("AG-201")
    story.bid("AG-202")  # not the agency the notice names
    return story.close(excluded={"AG-202": "not_named"}).direct("AG-201")


def failed() -> Story:
    story = Story("N-000011", min_candidates=3).publish()
    story.bid("AG-301")
    story.bid("AG-302")
    story.bid("AG-303")
    return story.close(excluded={"AG-303": "suspended"}).fail()


def cancelled() -> Story:
    story = Story("N-000012").publish()
    story.bid("AG-401")
    return story.cancel()


def with_amendment_and_withdrawal() -> Story:
    """The deadline moves later; a bid arrives between the two deadlines; an agency
    withdraws and bids again under a new bid_id."""
    story = Story("N-000013", min_candidates=2).publish()
    story.bid("AG-501")
    story.bid("AG-502")
    story.withdraw("AG-502")
    story.bid("AG-502")
    story.amend(ts_after(DEADLINE, days=2))
    story.clock = protocol.parse_ts(
        ts_after(DEADLINE, hours=1)
    )  # after the first deadline, before the new one
    story.bid("AG-503")
    return story.close().draw()


def decline_with_replacement() -> Story:
    """Two winners; the first declines, the first alternate takes its slot; final."""
    story = Story("N-000014", k=2).publish()
    for n in range(1, 6):
        story.bid(f"AG-60{n}")
    story.close().draw()
    first, second = story.winners
    story.decline(first, story.alternates[0])
    return story.final([story.alternates[0], second])


def disqualified_after_upheld_objection() -> Story:
    story = Story("N-000015", k=2).publish()
    for n in range(1, 5):
        story.bid(f"AG-70{n}")
    story.close().draw()
    first, second = story.winners
    story.object("OB-000001", second).answer("OB-000001").decide("OB-000001", "upheld")
    story.disqualify(second, "OB-000001", story.alternates[0])
    story.object("OB-000002", None).decide("OB-000002", "rejected")
    return story.final([first, story.alternates[0]])


def no_alternate_left() -> Story:
    story = Story("N-000016", min_candidates=1).publish()
    story.bid("AG-801")
    story.close().draw()
    return story.decline("AG-801", None)


def declined_after_final() -> Story:
    """A decline after the award went final: the replacement gets a publicity of its own
    and a final award again."""
    story = Story("N-000017", k=1).publish()
    for n in range(1, 5):
        story.bid(f"AG-90{n}")
    story.close().draw()
    story.final(story.winners)
    story.decline(story.winners[0], story.alternates[0])
    return story.final([story.alternates[0]])


def drand_with_moved_deadline() -> Story:
    """A drand notice whose deadline moves: the amendment commits to the new round."""
    story = Story("N-000018", scheme="drand/quicknet/34525012").publish()
    story.bid("AG-1")
    story.amend(ts_after(DEADLINE, days=1), scheme="drand/quicknet/34553812")
    story.bid("AG-2")
    story.bid("AG-3")
    return story.close()


GOOD: dict[str, tuple[Callable[[], Story], str]] = {
    "v1_lottery": (v1_lottery, "selected"),
    "v3_lowest_price": (v3_lowest_price, "selected"),
    "direct": (direct, "selected"),
    "failed": (failed, "failed"),
    "cancelled": (cancelled, "cancelled"),
    "amended": (with_amendment_and_withdrawal, "selected"),
    "declined": (decline_with_replacement, "awarded"),
    "disqualified": (disqualified_after_upheld_objection, "awarded"),
    "no_alternate_left": (no_alternate_left, "failed"),
    "declined_after_final": (declined_after_final, "awarded"),
    "drand_with_moved_deadline": (drand_with_moved_deadline, "closed"),
}


@pytest.mark.parametrize("name", GOOD)
def test_story_verifies(name: str) -> None:
    build, status = GOOD[name]
    story = build()
    report = notice_report(story.notice_id, story.entries)
    assert report.problems == [], [p.as_dict() for p in report.problems]
    assert report.status == status
    assert check_notice(story.notice_id, story.entries) == []


def test_v1_summary_names_the_vector_winner() -> None:
    story = v1_lottery()
    assert story.winners == ["AG-004"]
    report = notice_report(story.notice_id, story.entries)
    assert report.summary == "lottery, 5 candidates, winners AG-004"
    assert report.lines() == ["  ok    notice N-000001: lottery, 5 candidates, winners AG-004"]


def test_v3_tie_is_broken_by_the_draw() -> None:
    story = v3_lowest_price()
    drawn = story.of_type("selection.drawn")
    assert drawn["seed"] == "7fe3d351c14f81199d25dbb2cc8c4b7301a1d25c6746cf6a3c9db355f6544edd"
    assert drawn["ranking"] == ["AG-104", "AG-103", "AG-102", "AG-101"]
    assert (
        notice_report(story.notice_id, story.entries).summary == "lowest_price, 4 candidates, winners AG-104"
    )


def test_summaries_of_the_other_outcomes() -> None:
    assert notice_report("N-000010", direct().entries).summary == "direct selection of AG-201 (no draw)"
    assert notice_report("N-000011", failed().entries).summary == "lottery, failed: 2 candidates, minimum 3"
    story = decline_with_replacement()
    assert notice_report(story.notice_id, story.entries).summary.endswith(", final")


def test_open_and_closed_notices() -> None:
    story = Story("N-000020").publish()
    story.bid("AG-1")
    assert notice_report(story.notice_id, story.entries).status == "open"
    story = Story("N-000021", scheme="drand/quicknet/34525012").publish()  # DEADLINE's round
    for agency in ("AG-1", "AG-2", "AG-3"):
        story.bid(agency)
    story.close()  # waiting for the beacon
    report = notice_report(story.notice_id, story.entries)
    assert report.problems == [] and report.status == "closed"


def test_bls_signature_is_checked_when_drand_verify_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("drand_verify")
    story = v3_lowest_price()
    drawn = story.of_type("selection.drawn")
    # Another round's real signature hashes to a consistent randomness, but is not round 657413's.
    drawn["beacon"]["signature"] = V3_SIGNATURE[:-2] + "00"
    drawn["beacon"]["randomness"] = protocol.beacon_value(bytes.fromhex(drawn["beacon"]["signature"])).hex()
    messages = [p.message for p in check_notice(story.notice_id, story.entries)]
    assert any("does not verify (BLS)" in m for m in messages), messages


def test_without_drand_verify_the_report_notes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notice_checks, "drand_verify", None)
    story = v3_lowest_price()
    report = notice_report(story.notice_id, story.entries)
    assert report.problems == [] and report.notes == [notice_checks.BLS_NOT_CHECKED]


# -- tampering ----------------------------------------------------------------------------------

Mutation = Callable[[Story], None]


def entry(story: Story, type_: str, nth: int = 0) -> dict[str, Any]:
    return [e for _, e in story.entries if e["type"] == type_][nth]


def renumber(story: Story) -> None:
    story.entries = [(i, {**e, "seq": i}) for i, (_, e) in enumerate(story.entries)]
    story.seq = len(story.entries)


def insert_before(story: Story, type_: str, new_type: str, **fields: Any) -> None:
    """Insert an entry before the first of ``type_``, at the same time."""
    at = next(i for i, (_, e) in enumerate(story.entries) if e["type"] == type_)
    before = story.entries[at][1]
    new = {"v": 1, "seq": 0, "type": new_type, "ts": before["ts"], "notice_id": story.notice_id, **fields}
    story.entries.insert(at, (0, new))
    renumber(story)


def append(story: Story, type_: str, ts: str | None = None, **fields: Any) -> None:
    story.add(type_, ts=ts, **fields)


def closed_recomputed(story: Story, candidates: list[list[Any]]) -> None:
    """Change the candidates and keep eligible consistent with them, so only the
    candidate rule itself can object."""
    closed = entry(story, "bidding.closed")
    closed["candidates"] = candidates
    closed["eligible"] = protocol.eligible_digest([(a, w) for a, w in candidates]).hex()


def set_bid_price(story: Story, price: int) -> None:
    entry(story, "bidding.closed")["bids"][1]["price_fen"] = price


def remove_bid(story: Story) -> None:
    del entry(story, "bidding.closed")["bids"][2]


def withdraw_but_keep(story: Story) -> None:
    bid = entry(story, "bid.accepted", 1)
    insert_before(story, "bidding.closed", "bid.withdrawn", bid_id=bid["bid_id"], agency_id=bid["agency_id"])


def swap_order(story: Story) -> None:
    order = entry(story, "selection.drawn")["order"]
    order[0], order[1] = order[1], order[0]


def second_draw(story: Story) -> None:
    drawn = copy.deepcopy(entry(story, "selection.drawn"))
    del drawn["seq"], drawn["type"], drawn["ts"], drawn["v"], drawn["notice_id"]
    append(story, "selection.drawn", **drawn)


def cancel_before_close(story: Story) -> None:
    insert_before(story, "bidding.closed", "notice.cancelled", reason="changed our mind")


def late_bid(story: Story) -> None:
    entry(story, "bid.accepted", 2)["ts"] = ts_after(DEADLINE, seconds=0)


def early_close(story: Story) -> None:
    entry(story, "bidding.closed")["ts"] = ts_after(DEADLINE, seconds=-1)


def early_draw(story: Story) -> None:
    entry(story, "selection.drawn")["ts"] = ts_after(DEADLINE, microseconds=-1)


def wrong_scheme(story: Story) -> None:
    entry(story, "selection.drawn")["scheme"] = "drand/quicknet/34525012"


def earlier_amendment(story: Story) -> None:
    insert_before(
        story,
        "bidding.closed",
        "notice.amended",
        terms_sha256="0" * 64,
        bid_deadline=ts_after(DEADLINE, days=-1),
        scheme="none",
    )


def amend_after_close(story: Story) -> None:
    append(
        story, "notice.amended", terms_sha256="0" * 64, bid_deadline=ts_after(DEADLINE, days=1), scheme="none"
    )


def bid_before_publication(story: Story) -> None:
    bid = copy.deepcopy(entry(story, "bid.accepted"))
    bid["bid_id"] = "B-EARLY"
    story.entries.insert(0, (0, bid))
    renumber(story)


TAMPERING: list[tuple[str, Callable[[], Story], Mutation, str, str]] = [
    # (case, story, tampering, the message expected, the type of the entry it names)
    (
        "wrong secret",
        v1_lottery,
        lambda s: entry(s, "bidding.closed").update(secret="11" * 32),
        "secret does not match commit",
        "bidding.closed",
    ),
    (
        "changed commit",
        v1_lottery,
        lambda s: entry(s, "notice.published").update(commit="22" * 32),
        "secret does not match commit",
        "bidding.closed",
    ),
    (
        "changed bid price",
        v3_lowest_price,
        lambda s: set_bid_price(s, 890000),
        "bid document B-000003002 does not hash to the bid_sha256 of its bid.accepted entry",
        "bidding.closed",
    ),
    (
        "missing bid",
        v1_lottery,
        remove_bid,
        "bid B-000001003 of AG-003 (entry 3) is missing from bidding.closed",
        "bidding.closed",
    ),
    (
        "withdrawn bid present",
        v1_lottery,
        withdraw_but_keep,
        "bid B-000001002 was withdrawn (entry",
        "bidding.closed",
    ),
    (
        "bid never accepted",
        v1_lottery,
        lambda s: entry(s, "bidding.closed")["bids"][0].update(bid_id="B-000000000"),
        "bid B-000000000 is in bidding.closed but was never accepted",
        "bidding.closed",
    ),
    (
        "bids out of order",
        v1_lottery,
        lambda s: entry(s, "bidding.closed")["bids"].reverse(),
        "bids are not sorted by bid_id",
        "bidding.closed",
    ),
    (
        "price on a lottery bid",
        v1_lottery,
        lambda s: set_bid_price(s, 100),
        "a lottery bid has none",
        "bidding.closed",
    ),
    (
        "bid of another notice",
        v1_lottery,
        lambda s: entry(s, "bidding.closed")["bids"][0].update(notice_id="N-000999"),
        "names notice 'N-000999'",
        "bidding.closed",
    ),
    (
        "candidate dropped",
        v1_lottery,
        lambda s: closed_recomputed(s, [["AG-001", 1], ["AG-002", 1], ["AG-003", 1], ["AG-005", 1]]),
        "bidder AG-004 is neither a candidate nor excluded",
        "bidding.closed",
    ),
    (
        "candidate added",
        v1_lottery,
        lambda s: closed_recomputed(
            s, [["AG-001", 1], ["AG-002", 1], ["AG-003", 1], ["AG-004", 1], ["AG-005", 1], ["AG-006", 1]]
        ),
        "candidate AG-006 has no standing bid",
        "bidding.closed",
    ),
    (
        "candidate also excluded",
        v1_lottery,
        lambda s: entry(s, "bidding.closed").update(
            excluded=[{"agency_id": "AG-001", "reason": "suspended"}]
        ),
        "AG-001 is both a candidate and excluded",
        "bidding.closed",
    ),
    (
        "candidates unsorted",
        v1_lottery,
        lambda s: entry(s, "bidding.closed")["candidates"].reverse(),
        "candidates are not sorted by agency_id",
        "bidding.closed",
    ),
    (
        "weight zero",
        v1_lottery,
        lambda s: entry(s, "bidding.closed")["candidates"][0].__setitem__(1, 0),
        "is not [agency_id, weight >= 1]",
        "bidding.closed",
    ),
    (
        "wrong eligible",
        v1_lottery,
        lambda s: entry(s, "bidding.closed").update(eligible="33" * 32),
        "eligible does not recompute",
        "bidding.closed",
    ),
    (
        "wrong seed",
        v1_lottery,
        lambda s: entry(s, "selection.drawn").update(seed="44" * 32),
        "seed does not recompute",
        "selection.drawn",
    ),
    ("wrong order", v1_lottery, swap_order, "order does not recompute", "selection.drawn"),
    (
        "wrong ranking",
        v3_lowest_price,
        lambda s: entry(s, "selection.drawn")["ranking"].sort(),
        "ranking does not recompute",
        "selection.drawn",
    ),
    (
        "wrong winners",
        v1_lottery,
        lambda s: entry(s, "selection.drawn").update(winners=["AG-005"]),
        "winners does not recompute",
        "selection.drawn",
    ),
    (
        "wrong alternates",
        v1_lottery,
        lambda s: entry(s, "selection.drawn")["alternates"].pop(),
        "alternates does not recompute",
        "selection.drawn",
    ),
    (
        "second attempt",
        v1_lottery,
        lambda s: entry(s, "selection.drawn").update(attempt=2),
        "attempt is 2, not 1",
        "selection.drawn",
    ),
    (
        "second selection.drawn",
        v1_lottery,
        second_draw,
        "a second outcome, selection.drawn, after selection.drawn",
        "selection.drawn",
    ),
    (
        "draw after cancel",
        v1_lottery,
        cancel_before_close,
        "selection.drawn after notice.cancelled",
        "selection.drawn",
    ),
    (
        "bid after deadline",
        v1_lottery,
        late_bid,
        "accepted at 2026-12-04T09:00:00.000000Z, at or after the deadline in force",
        "bid.accepted",
    ),
    (
        "closed before deadline",
        v1_lottery,
        early_close,
        "bidding closed at 2026-12-04T08:59:59.000000Z, before the deadline",
        "bidding.closed",
    ),
    (
        "drawn before deadline",
        v1_lottery,
        early_draw,
        "selection.drawn at 2026-12-04T08:59:59.999999Z, before the deadline",
        "selection.drawn",
    ),
    ("wrong scheme", v1_lottery, wrong_scheme, "is not the one last committed", "selection.drawn"),
    (
        "deadline moved earlier",
        v1_lottery,
        earlier_amendment,
        "is earlier than the one before",
        "notice.amended",
    ),
    (
        "amended after closing",
        v1_lottery,
        amend_after_close,
        "notice.amended after bidding.closed",
        "notice.amended",
    ),
    (
        "bid before publication",
        v1_lottery,
        bid_before_publication,
        "bid.accepted comes before notice.published",
        "bid.accepted",
    ),
    ("no publication", v1_lottery, lambda s: s.entries.pop(0), "no notice.published entry", "bid.accepted"),
    (
        "bad method",
        v1_lottery,
        lambda s: entry(s, "notice.published").update(method="auction"),
        "method 'auction' is not lottery",
        "notice.published",
    ),
    (
        "draw on too few",
        failed,
        lambda s: s.entries.__setitem__(
            -1, (s.entries[-1][0], {**entry(s, "selection.failed"), "type": "selection.drawn"})
        ),
        "selection.drawn with 2 candidates, fewer than the minimum of 3",
        "selection.drawn",
    ),
    (
        "failed with enough",
        v1_lottery,
        lambda s: entry(s, "selection.drawn").update(type="selection.failed"),
        "selection.failed although 5 candidates meet the minimum of 3",
        "selection.failed",
    ),
    (
        "selection without closing",
        v1_lottery,
        lambda s: s.entries.remove(next(x for x in s.entries if x[1]["type"] == "bidding.closed")),
        "selection.drawn without bidding.closed",
        "selection.drawn",
    ),
    (
        "beacon on scheme none",
        v1_lottery,
        lambda s: entry(s, "selection.drawn").update(
            beacon={"round": 1, "signature": "00", "randomness": "00"}
        ),
        "beacon is given, but the committed scheme is none",
        "selection.drawn",
    ),
    (
        "wrong beacon round",
        v3_lowest_price,
        lambda s: entry(s, "selection.drawn")["beacon"].update(round=V3_ROUND + 1),
        "beacon round 657414 is not the committed round 657413",
        "selection.drawn",
    ),
    (
        "wrong beacon randomness",
        v3_lowest_price,
        lambda s: entry(s, "selection.drawn")["beacon"].update(randomness="55" * 32),
        "beacon randomness is not H(signature)",
        "selection.drawn",
    ),
    (
        "scheme round too early",
        v3_lowest_price,
        lambda s: entry(s, "notice.published").update(scheme="drand/quicknet/657000"),
        "calls for round 657413",
        "notice.published",
    ),
    (
        "direct on a lottery",
        v1_lottery,
        lambda s: entry(s, "selection.drawn").update(
            type="selection.direct", agency_id="AG-004", justification="x"
        ),
        "selection.direct on a lottery notice",
        "selection.direct",
    ),
    (
        "direct to a non-candidate",
        direct,
        lambda s: entry(s, "selection.direct").update(agency_id="AG-202"),
        "selection.direct names 'AG-202', which is not a candidate",
        "selection.direct",
    ),
    (
        "direct without justification",
        direct,
        lambda s: entry(s, "selection.direct").update(justification=" "),
        "no written justification",
        "selection.direct",
    ),
    ("direct priced", direct, lambda s: set_bid_price(s, 5), "a direct bid has none", "bidding.closed"),
    (
        "wrong replacement",
        decline_with_replacement,
        lambda s: entry(s, "award.declined").update(replacement=s.alternates[1]),
        "the first alternate not yet used is",
        "award.declined",
    ),
    (
        "no replacement although one is left",
        decline_with_replacement,
        lambda s: entry(s, "award.declined").update(replacement=None),
        "replacement is null",
        "award.declined",
    ),
    (
        "decline by a non-holder",
        decline_with_replacement,
        lambda s: entry(s, "award.declined").update(agency_id=s.alternates[2]),
        "which does not hold the award",
        "award.declined",
    ),
    (
        "final names the replaced",
        decline_with_replacement,
        lambda s: entry(s, "award.final").update(winners=s.winners),
        "but the holders are",
        "award.final",
    ),
    (
        "final in the wrong slot order",
        decline_with_replacement,
        lambda s: entry(s, "award.final")["winners"].reverse(),
        "but the holders are",
        "award.final",
    ),
    (
        "disqualified on a rejected objection",
        disqualified_after_upheld_objection,
        lambda s: entry(s, "objection.decided").update(decision="rejected"),
        "which was rejected",
        "award.disqualified",
    ),
    (
        "disqualified without a decision",
        disqualified_after_upheld_objection,
        lambda s: s.entries.remove(next(x for x in s.entries if x[1]["type"] == "objection.decided")),
        "which has not been decided",
        "award.disqualified",
    ),
    (
        "disqualified on an unknown objection",
        disqualified_after_upheld_objection,
        lambda s: entry(s, "award.disqualified").update(objection_id="OB-999999"),
        "which was never filed",
        "award.disqualified",
    ),
    (
        "final while an objection is pending",
        disqualified_after_upheld_objection,
        lambda s: s.entries.remove(
            next(
                x
                for x in s.entries
                if x[1]["type"] == "objection.decided" and x[1]["objection_id"] == "OB-000002"
            )
        ),
        "while objection OB-000002",
        "award.final",
    ),
    (
        "final with no holder",
        no_alternate_left,
        lambda s: append(s, "award.final", winners=[]),
        "no agency holds the award",
        "award.final",
    ),
    (
        "bid after closing",
        v1_lottery,
        lambda s: append(s, "bid.accepted", bid_id="B-LATE", agency_id="AG-009", bid_sha256="0" * 64),
        "bid B-LATE accepted after bidding.closed",
        "bid.accepted",
    ),
    (
        "withdrawal after closing",
        v1_lottery,
        lambda s: append(s, "bid.withdrawn", bid_id="B-000001001", agency_id="AG-004"),
        "withdrawn after bidding.closed",
        "bid.withdrawn",
    ),
    (
        "withdrawal of someone else's bid",
        with_amendment_and_withdrawal,
        lambda s: entry(s, "bid.withdrawn").update(agency_id="AG-501"),
        "belongs to AG-502, not 'AG-501'",
        "bid.withdrawn",
    ),
    (
        "second standing bid",
        v1_lottery,
        lambda s: entry(s, "bid.accepted", 1).update(agency_id="AG-004"),
        "agency AG-004 already has a standing bid",
        "bid.accepted",
    ),
    (
        "cancelled after the deadline",
        cancelled,
        lambda s: entry(s, "notice.cancelled").update(ts=ts_after(DEADLINE, hours=1)),
        "notice.cancelled at 2026-12-04T10:00:00.000000Z, at or after the deadline",
        "notice.cancelled",
    ),
    (
        "amended scheme not moved with the deadline",
        drand_with_moved_deadline,
        lambda s: entry(s, "notice.amended").update(scheme="drand/quicknet/34525012"),
        "calls for round 34553812",
        "notice.amended",
    ),
    (
        "amendment changes the commit",
        drand_with_moved_deadline,
        lambda s: entry(s, "notice.amended").update(commit="0" * 64),
        "notice.amended changes commit",
        "notice.amended",
    ),
    (
        "objection before any selection",
        failed,
        lambda s: append(s, "objection.filed", objection_id="OB-1", agency_id=None, reasons_sha256="0" * 64),
        "objection OB-1 filed with no selection to object to",
        "objection.filed",
    ),
    (
        "objection against a non-holder",
        disqualified_after_upheld_objection,
        lambda s: entry(s, "objection.filed").update(agency_id="AG-999"),
        "objection OB-000001 is against 'AG-999', which does not hold the award",
        "objection.filed",
    ),
    (
        "second final after a decline names the old holder",
        declined_after_final,
        lambda s: entry(s, "award.final", 1).update(winners=s.winners),
        "but the holders are",
        "award.final",
    ),
    (
        "secret not hex",
        v1_lottery,
        lambda s: entry(s, "bidding.closed").update(secret="zz"),
        "secret is not 64 lowercase hex digits",
        "bidding.closed",
    ),
]


@pytest.mark.parametrize(
    ("case", "build", "tamper", "expected", "where"), TAMPERING, ids=[t[0] for t in TAMPERING]
)
def test_tampering_is_caught(
    case: str, build: Callable[[], Story], tamper: Mutation, expected: str, where: str
) -> None:
    story = build()
    tamper(story)
    problems = check_notice(story.notice_id, story.entries)
    matching = [p for p in problems if expected in p.message]
    assert matching, f"{case}: expected {expected!r} among {[p.as_dict() for p in problems]}"
    types = {seq: e["type"] for seq, e in story.entries}
    assert any(p.seq is not None and types.get(p.seq) == where for p in matching), (
        f"{case}: {[p.as_dict() for p in matching]}"
    )


def test_problems_come_in_log_order_with_their_seq() -> None:
    story = v1_lottery()
    entry(story, "bidding.closed").update(secret="11" * 32)
    late_bid(story)
    problems = check_notice(story.notice_id, story.entries)
    assert [p.seq for p in problems] == sorted(p.seq for p in problems if p.seq is not None)
    assert problems[0] == Problem(
        "bid B-000001003 accepted at 2026-12-04T09:00:00.000000Z, at or after the deadline in force 2026-12-04T09:00:00.000000Z",
        seq=3,
    )


def test_failing_notice_line() -> None:
    story = v1_lottery()
    entry(story, "bidding.closed").update(secret="11" * 32)
    lines = notice_report(story.notice_id, story.entries).lines()
    assert lines[0].startswith("  FAIL  notice N-000001: lottery, 5 candidates")
    assert lines[1] == "          entry 6: secret does not match commit (entry 0)"


def test_malformed_entries_are_reported_not_crashed_on() -> None:
    # Every field of every entry replaced in turn by values of the wrong type: a plain
    # problem or none, never an exception (which the checks would report as "could not be
    # checked": a case this code did not foresee).
    for build, _ in GOOD.values():
        base = build()
        for at, (_, e) in enumerate(base.entries):
            for key in e:
                if key in ("v", "seq", "type", "notice_id"):
                    continue
                for bad in (None, 7, "x", [], {}, [["AG-1"]], [{"agency_id": 1}], True, -1, "Z" * 64):
                    story = copy.deepcopy(base)
                    story.entries[at][1][key] = bad
                    problems = check_notice(story.notice_id, story.entries)
                    assert not [p for p in problems if "could not be checked" in p.message], (
                        key,
                        bad,
                        problems,
                    )


def test_malformed_bid_documents_and_beacons_are_reported_not_crashed_on() -> None:
    for build, path in (
        (v3_lowest_price, ("bidding.closed", "bids")),
        (v3_lowest_price, ("selection.drawn", "beacon")),
    ):
        base = build()
        target = entry(base, path[0])[path[1]]
        keys = list(target[0] if isinstance(target, list) else target)
        for key in keys:
            for bad in (None, 7, 1.5, "x", [], {}, True, -1, "Z" * 64, "é"):
                story = copy.deepcopy(base)
                inner = entry(story, path[0])[path[1]]
                (inner[0] if isinstance(inner, list) else inner)[key] = bad
                problems = check_notice(story.notice_id, story.entries)
                assert problems, (path, key, bad)
                assert not [p for p in problems if "could not be checked" in p.message], (
                    path,
                    key,
                    bad,
                    problems,
                )
