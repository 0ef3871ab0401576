"""The verifier on MSP/2 logs (docs/protocol/msp.md section 6): sealed bid entries that name
no notice, opened at the close or the cancellation, each opened exactly once or still
within the bid window; MSP/1 notices in the same log checked by MSP/1's rules."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market import protocol
from market.protocol import tlock, verify_entries
from market.protocol.notice_checks import NoticeCheck
from market.protocol.verifier import verify
from market.protocol.verify_entries import Report
from market.protocol.verify_sealed import Sealed, join_sealed
from tests.unit.log.msp2 import DEADLINE, TLOCK_DEADLINE, Log, Notice, ts_after
from tests.unit.log.test_verifier import MemorySource, signer

LATER = ts_after(DEADLINE, days=98)  # past any sealed entry's window and grace


def run(log: Log, **kwargs: Any) -> Report:
    return verify(MemorySource(log.raw(), signer()), **kwargs)


def notice_problems(report: Report, notice_id: str) -> list[str]:
    return [p.message for p in report.notices[notice_id].problems]


def honest_log() -> tuple[Log, Notice, Notice]:
    """A lottery and a lowest_price notice, interleaved, each with a withdrawal and a bid
    placed again, other entries between; both drawn and the lottery's award final."""
    log = Log()
    lottery = Notice(log, "N-000001").publish()
    cheapest = Notice(log, "N-000002", method="lowest_price").publish()
    log.other()
    lottery.bid("AG-001")
    cheapest.bid("AG-001", 950_000)
    lottery.bid("AG-002")
    cheapest.bid("AG-002", 900_000)
    log.other()
    cheapest.withdraw("AG-001")
    lottery.withdraw("AG-002")
    cheapest.bid("AG-001", 880_000)  # a new price, under a new bid_id
    lottery.bid("AG-002")
    lottery.bid("AG-003")
    cheapest.bid("AG-003", 990_000)
    lottery.close().draw()
    cheapest.close().draw()
    log.other()
    lottery.final()
    return log, lottery, cheapest


# -- logs that verify ---------------------------------------------------------------------------


def test_honest_msp2_lottery_and_lowest_price_verify() -> None:
    log, lottery, cheapest = honest_log()
    report = run(log)
    assert report.ok, report.human()
    assert report.notices["N-000001"].status == "awarded" and report.notices["N-000002"].status == "selected"
    assert report.notices["N-000002"].summary == f"lowest_price, 3 candidates, winners {cheapest.winners[0]}"
    assert cheapest.winners == ["AG-001"]  # 880,000 fen, placed after the withdrawal
    human = report.human()
    assert (
        f"  ok    notice N-000001: lottery, 3 candidates, winners {lottery.winners[0]}, final (MSP/2 rules)"
        in human
    )
    assert (
        "all 2 notices: per-notice checks under each notice's own rules (MSP/2: openings recomputed" in human
    )
    assert (
        "every sealed bid entry (MSP/2) is opened exactly once or still within the bid window (0 still within it"
        in human
    )
    assert "v 1 or 2, a type and a ts" in human
    assert report.as_dict()["notices"]["N-000001"]["rules"] == "MSP/2"


def test_mixed_log_msp1_notice_finishes_after_msp2_entries() -> None:
    """A notice open at the upgrade finishes under MSP/1 (bid.accepted v1, bidding.closed
    with bids), while MSP/2 notices seal their bids in the same log."""
    log = Log()
    old = Notice(log, "N-000001", version=1).publish()
    old.bid("AG-001")
    old.bid("AG-002")
    new = Notice(log, "N-000002").publish()  # after the upgrade
    new.bid("AG-001")
    old.bid("AG-003")
    old.withdraw("AG-003")
    new.bid("AG-002")
    log.other()
    old.close().draw()
    new.close().draw()
    report = run(log)
    assert report.ok, report.human()
    assert report.notices["N-000001"].rules == "MSP/1" and report.notices["N-000002"].rules == "MSP/2"
    assert (
        report.notices["N-000001"].lines()[0].endswith(f"winners {old.winners[0]}")
    )  # MSP/1 reads as it always has
    assert "(1 under MSP/1 section 5, 1 under MSP/2:" in report.human()


def test_tlock_notice_verifies_with_its_round() -> None:
    log = Log(start=ts_after(TLOCK_DEADLINE, days=-5))
    notice = Notice(log, "N-000001", deadline=TLOCK_DEADLINE, sealing="tlock").publish()
    notice.bid("AG-001")
    notice.bid("AG-002")
    notice.close().draw()
    report = run(log)
    assert report.ok, report.human()
    if tlock.available():
        assert (
            "2 tlock ciphertext(s) of opened sealed entries decrypt, with their round's signature, to exactly the timelock plaintexts of their openings"
            in report.checks
        )
    else:
        assert any(
            n.startswith("tlock ciphertexts not opened: install py-arkworks-bls12381") for n in report.notes
        )


def test_an_open_notice_keeps_its_bids_sealed_and_they_wait() -> None:
    log = Log()
    notice = Notice(log, "N-000001").publish()
    notice.bid("AG-001")
    report = run(log)
    assert report.ok, report.human()
    assert report.notices["N-000001"].summary == "lottery, open, bids sealed until the deadline"
    assert "(1 still within it at the log's time" in report.human()


# -- completeness: every sealed entry opened, in time ----------------------------------------------


def test_a_close_that_leaves_out_a_bid_fails_once_the_window_has_passed() -> None:
    log = Log()
    notice = Notice(log, "N-000001").publish()
    notice.bid("AG-001")
    dropped = notice.bid("AG-002")
    dropped_seq = notice.bids[dropped]["seq"]
    notice.bid("AG-003")
    del notice.standing["AG-002"]  # the server leaves it out of the candidates too
    notice.close(leave_out=(dropped,)).draw()
    within = run(log)
    assert within.ok, within.human()  # it might still be opened by some other notice
    log.other(ts=LATER)
    report = run(log)
    assert not report.ok and report.notices["N-000001"].ok
    assert [(p.seq, p.message.split(" (")[0]) for p in report.problems] == [
        (dropped_seq, f"sealed entry {dropped_seq}")
    ]
    assert "was never opened by any notice within 97 days" in report.problems[0].message
    assert report.first_bad_seq == dropped_seq
    # Just within: logged less than 97 days before the log's time.
    log.entries.pop()
    sealed_ts = log.entries[dropped_seq]["ts"]
    log.other(ts=ts_after(sealed_ts, days=97, seconds=-1))
    assert run(log).ok


def test_a_cancellation_that_opens_none_fails_once_the_window_has_passed() -> None:
    log = Log()
    notice = Notice(log, "N-000001").publish()
    first = notice.bid("AG-001")
    notice.bid("AG-002")
    notice.cancel_opening_none()
    assert run(log).ok
    log.other(ts=LATER)
    report = run(log)
    assert not report.ok
    seq = notice.bids[first]["seq"]
    assert [p.seq for p in report.problems] == [seq, seq + 1]
    assert report.problems[0].message.startswith(f"sealed entry {seq} (logged at ")
    # The honest cancellation opens them all.
    log = Log()
    notice = Notice(log, "N-000001").publish()
    notice.bid("AG-001")
    notice.bid("AG-002")
    notice.withdraw("AG-002")
    notice.cancel()
    log.other(ts=LATER)
    report = run(log)
    assert report.ok, report.human()
    assert report.notices["N-000001"].status == "cancelled"


# -- claims that do not hold ---------------------------------------------------------------------


def test_a_commitment_mismatch_is_named_in_the_notice() -> None:
    log, _, cheapest = honest_log()
    closed = log.of("bidding.closed", "N-000002")
    closed["openings"][0]["bid"]["price_fen"] = 1  # a price other than the one sealed
    report = run(log)
    assert not report.ok and report.problems == []
    problems = notice_problems(report, "N-000002")
    assert any(
        m.startswith(
            f"bid {closed['openings'][0]['bid']['bid_id']}: sealed entry {closed['openings'][0]['seq']} does not hold the commitment"
        )
        for m in problems
    ), problems
    assert report.notices["N-000002"].problems[0].seq == closed["seq"]


def test_an_opening_naming_an_entry_that_is_not_sealed() -> None:
    log, _, _ = honest_log()
    closed = log.of("bidding.closed", "N-000001")
    published = log.of("notice.published", "N-000002")["seq"]
    closed["openings"][0]["seq"] = published + 1  # an agency entry, between publication and the close
    report = run(log)
    assert not report.ok
    bid_id = closed["openings"][0]["bid"]["bid_id"]
    assert f"bid {bid_id}: entry {published + 1} is not a bid.sealed entry" in notice_problems(
        report, "N-000001"
    )


def test_a_sealed_entry_claimed_by_two_notices() -> None:
    log = Log()
    first = Notice(log, "N-000001").publish()
    second = Notice(log, "N-000002").publish()
    shared = first.bid("AG-001")
    first.bid("AG-002")
    second.bid("AG-003")
    first.close()
    # The second notice claims the first's sealed entry as one of its own bids.
    second.bids["B-000002-099"] = {**first.bids[shared]}
    second.close()
    report = run(log)
    assert not report.ok
    seq = first.bids[shared]["seq"]
    closes = [log.of("bidding.closed", n)["seq"] for n in ("N-000001", "N-000002")]
    assert (
        f"sealed entry {seq} is claimed by more than one opening: notice N-000001 (entry {closes[0]}), notice N-000002 (entry {closes[1]})"
        in [p.message for p in report.problems]
    )


def test_a_bid_sealed_after_the_deadline() -> None:
    log = Log()
    notice = Notice(log, "N-000001").publish()
    notice.bid("AG-001")
    late = notice.bid("AG-002", ts=DEADLINE)
    notice.close(ts=ts_after(DEADLINE, seconds=1))
    report = run(log)
    assert not report.ok
    seq = notice.bids[late]["seq"]
    assert (
        f"bid {late}: sealed entry {seq} was logged at {DEADLINE}, at or after the deadline {DEADLINE}"
        in notice_problems(report, "N-000001")
    )


def test_an_msp2_notice_entry_with_v1() -> None:
    log, _, _ = honest_log()
    drawn = log.of("selection.drawn", "N-000001")
    drawn["v"] = 1
    report = run(log)
    assert not report.ok
    assert notice_problems(report, "N-000001")[0].startswith(
        "selection.drawn has v 1, but notice N-000001 follows MSP/2"
    )


def test_bid_accepted_in_an_msp2_notice() -> None:
    log = Log()
    notice = Notice(log, "N-000001").publish()
    log.add("bid.accepted", v=1, notice_id="N-000001", bid_id="B-1", agency_id="AG-001", bid_sha256="0" * 64)
    notice.bid("AG-002")
    report = run(log)
    assert any("bid.accepted in an MSP/2 notice" in m for m in notice_problems(report, "N-000001"))
    log.of("bid.accepted")["v"] = 2
    report = run(log)
    assert (
        report.problems[0].message
        == "bid.accepted exists only in MSP/1 (v 1); MSP/2 bids are bid.sealed entries"
    )


def test_a_bid_window_over_90_days() -> None:
    log = Log()
    Notice(
        log, "N-000001", deadline=ts_after("2026-11-01T09:01:00.000000Z", days=90)
    ).publish()  # exactly 90 days: fine
    Notice(log, "N-000002", deadline=ts_after("2026-11-01T09:02:00.000000Z", days=90, seconds=1)).publish()
    amended = Notice(log, "N-000003").publish()
    amended.amend(ts_after(DEADLINE, days=90))
    report = run(log)
    assert report.notices["N-000001"].ok
    assert (
        "is more than 90 days (MAX_BID_WINDOW_SECONDS) after the notice was published"
        in notice_problems(report, "N-000002")[0]
    )
    assert "is more than 90 days" in notice_problems(report, "N-000003")[0]
    assert report.notices["N-000003"].problems[0].seq == log.of("notice.amended")["seq"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"notice_id": "N-000001"},
            "bid.sealed holds notice_id: a sealed entry holds its commitment (and tlock) and nothing else",
        ),
        ({"agency_id": "AG-001", "price_fen": 5}, "bid.sealed holds agency_id, price_fen:"),
        ({"v": 1}, "bid.sealed exists only in MSP/2: v must be 2"),
        ({"commitment": "AB" * 32}, "bid.sealed commitment is not 64 lowercase hex digits"),
        ({"tlock": ""}, "bid.sealed tlock is not a non-empty string"),
    ],
)
def test_a_sealed_entry_holds_its_commitment_and_nothing_else(change: dict[str, Any], expected: str) -> None:
    log, lottery, _ = honest_log()
    seq = lottery.bids["B-000001-001"]["seq"]
    log.entries[seq].update(change)
    report = run(log)
    assert not report.ok and report.problems[0].seq == seq
    assert report.problems[0].message.startswith(expected)


def test_a_tlock_notice_needs_ciphertexts_and_the_deadline_round() -> None:
    log = Log(start=ts_after(TLOCK_DEADLINE, days=-5))
    notice = Notice(log, "N-000001", deadline=TLOCK_DEADLINE, sealing="tlock").publish()
    first = notice.bid("AG-001")
    notice.bid("AG-002")
    del log.entries[notice.bids[first]["seq"]]["tlock"]
    notice.close()
    log.entries[-1]["tlock"]["round"] = 657414
    problems = notice_problems(run(log), "N-000001")
    assert any(m.startswith("tlock round 657414 is not 657413") for m in problems), problems
    assert any(m.endswith("has no tlock ciphertext, but the notice's sealing is tlock") for m in problems), (
        problems
    )


# -- the scopes: --notice, --log-only, workers, --state ----------------------------------------------


def test_one_notice_alone_shows_its_claim_problems_and_says_what_was_not_checked() -> None:
    log, _, _ = honest_log()
    log.of("bidding.closed", "N-000002")["openings"][0]["bid"]["price_fen"] = 1
    log.other(ts=LATER)
    report = run(log, notice="N-000002")
    assert not report.ok and list(report.notices) == ["N-000002"]
    assert "does not hold the commitment" in report.notices["N-000002"].problems[0].message
    assert any(n.startswith("--notice: only notice N-000002's openings were joined") for n in report.notes)
    # The other notice's claims are not made: its sealed entries are not reported unopened.
    assert report.problems == []


def test_log_only_does_not_join_and_says_so() -> None:
    log, _, _ = honest_log()
    log.of("bidding.closed", "N-000002")["openings"] = []
    log.other(ts=LATER)
    report = run(log, notices=False)
    assert report.ok, report.human()
    assert any("sealed bid entries were not joined" in n for n in report.notes)
    assert not run(log).ok


def big_log(count: int = 6) -> Log:
    """Several notices interleaved, one with a dropped bid and one with a bad commitment,
    and the log's time past the window: problems of every kind, for comparing reports."""
    log = Log()
    notices = [
        Notice(log, f"N-{n:06d}", method="lowest_price" if n % 2 else "lottery").publish()
        for n in range(1, count + 1)
    ]
    for round_ in range(3):
        for notice in notices:
            notice.bid(f"AG-{round_:03d}", 100_000 + round_ if notice.method == "lowest_price" else None)
            log.other()
    notices[0].withdraw("AG-001")
    dropped = notices[1].standing.pop("AG-002")
    for notice in notices:
        notice.close(leave_out=(dropped,) if notice is notices[1] else ()).draw()
    log.of("bidding.closed", "N-000003")["openings"][1]["salt"] = "00" * 32
    log.other(ts=LATER)
    return log


@pytest.mark.parametrize("shards", [1, 3])
def test_worker_processes_give_the_same_report(monkeypatch: pytest.MonkeyPatch, shards: int) -> None:
    log = big_log()
    raw = log.raw()
    # An entry whose notice the shards cannot read from its bytes (an escape) goes to every one.
    raw.append(protocol.canonical_json({**log.other(), "seq": len(raw), "note": "\\"}))
    s = signer()
    inline = verify(MemorySource(raw, s))
    assert not inline.ok
    assert inline.problems and not inline.notices["N-000003"].ok and inline.notices["N-000002"].ok
    monkeypatch.setattr(verify_entries.EntryChecker, "PARALLEL_FROM", 10)
    monkeypatch.setattr(verify_entries.EntryChecker, "BATCH", 7)
    monkeypatch.setattr(verify_entries.EntryChecker, "MAX_WORKERS", shards)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    parallel = verify(MemorySource(raw, s))
    assert parallel.as_dict() == inline.as_dict()


def without_state_notes(report: Report) -> dict[str, Any]:
    data = report.as_dict()
    data["checks"] = [
        c for c in data["checks"] if "verified on" not in c and not c.startswith(("all ", "entries "))
    ]
    data["notes"] = [n for n in data["notes"] if "state" not in n]
    return data


def grown() -> tuple[Log, Notice, Notice, int]:
    """A log in two parts: in the first, a notice closed and drawn and another open with
    sealed bids; in the second, that one's close claiming them, and the first's award."""
    log = Log()
    done = Notice(log, "N-000001").publish()
    waiting = Notice(log, "N-000002", deadline=ts_after(DEADLINE, days=3)).publish()
    for agency in ("AG-001", "AG-002", "AG-003"):
        done.bid(agency)
        waiting.bid(agency)
        log.other()
    waiting.withdraw("AG-003")
    done.close().draw()
    known = len(log.entries)
    waiting.close().draw()
    done.final()
    log.other(ts=ts_after(DEADLINE, days=20))
    return log, done, waiting, known


def test_state_joins_new_openings_with_old_sealed_entries(tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    s = signer()
    log, _, waiting, known = grown()
    raw = log.raw()
    first = verify(MemorySource(raw[:known], s), state=state)
    assert first.ok, first.human()
    kept = json.loads(Path(state).read_text())
    assert kept["format"] == "market-log-verify-state/2"
    pending = [row[0] for row in kept["pending"]]
    assert pending == sorted(b["seq"] for b in waiting.bids.values()) + [
        waiting.bids["B-000002-003"]["withdrawn"][1]
    ]
    claimed = dict((row[0], row[3]) for row in kept["notices"])
    assert (
        claimed["N-000002"] is None and claimed["N-000001"][0] == log.of("bidding.closed", "N-000001")["seq"]
    )

    second = verify(MemorySource(raw, s), state=state)
    scratch = verify(MemorySource(raw, s))
    assert second.ok and scratch.ok, second.human()
    assert without_state_notes(second) == without_state_notes(scratch)
    assert json.loads(Path(state).read_text())["pending"] == []

    # The same growth with a close that drops an old sealed entry: found through the state.
    closed = log.of("bidding.closed", "N-000002")
    dropped = closed["openings"].pop(0)
    closed["candidates"] = [c for c in closed["candidates"] if c[0] != dropped["bid"]["agency_id"]]
    closed["eligible"] = protocol.eligible_digest([tuple(c) for c in closed["candidates"]]).hex()  # type: ignore[misc]
    log.entries = (
        log.entries[: log.of("selection.drawn", "N-000002")["seq"]]
        + log.entries[log.of("selection.drawn", "N-000002")["seq"] + 1 :]
    )
    for seq, e in enumerate(log.entries):
        e["seq"] = seq
    log.other(ts=LATER)
    raw = log.raw()
    Path(state).unlink()
    assert verify(MemorySource(raw[:known], s), state=state).ok
    failing = verify(MemorySource(raw, s), state=state)
    assert not failing.ok
    assert [p.seq for p in failing.problems] == [dropped["seq"]]
    assert without_state_notes(failing) == without_state_notes(verify(MemorySource(raw, s)))


def test_state_finds_a_new_claim_on_an_entry_an_old_notice_opened(tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    s = signer()
    log = Log()
    done = Notice(log, "N-000001").publish()
    late = Notice(log, "N-000002", deadline=ts_after(DEADLINE, days=3)).publish()
    taken = done.bid("AG-001")
    done.bid("AG-002")
    late.bid("AG-003")
    done.close()
    known = len(log.entries)
    late.bids["B-000002-099"] = {**done.bids[taken]}
    late.close()
    raw = log.raw()
    assert verify(MemorySource(raw[:known], s), state=state).ok
    report = verify(MemorySource(raw, s), state=state)
    seq = done.bids[taken]["seq"]
    closes = [log.of("bidding.closed", n)["seq"] for n in ("N-000001", "N-000002")]
    assert [p.message for p in report.problems] == [
        f"sealed entry {seq} is claimed by more than one opening: notice N-000001 (entry {closes[0]}), notice N-000002 (entry {closes[1]})"
    ]


# -- commitments and openings, for any document and salt ------------------------------------------

ids = st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    notice_id=ids,
    bid_id=ids,
    agency_id=ids,
    price=st.none() | st.integers(min_value=1, max_value=protocol.MAX_SAFE_INTEGER),
    salt=st.binary(min_size=32, max_size=32),
    flip=st.integers(min_value=0, max_value=10_000),
    mask=st.integers(min_value=1, max_value=255),
)
def test_any_opening_verifies_and_any_one_byte_change_fails(
    notice_id: str, bid_id: str, agency_id: str, price: int | None, salt: bytes, flip: int, mask: int
) -> None:
    document = protocol.bid_document_v2(notice_id, bid_id, agency_id, price)
    commitment = protocol.bid_commitment(salt, document)
    method = "lottery" if price is None else "lowest_price"

    def joined(opening: dict[str, Any]) -> list[str]:
        check = NoticeCheck(notice_id)
        published = {
            "v": 2,
            "seq": 0,
            "type": "notice.published",
            "ts": "2026-11-01T09:00:00.000000Z",
            "notice_id": notice_id,
            "method": method,
            "winners": 1,
            "min_candidates": 1,
            "bid_deadline": DEADLINE,
            "terms_sha256": "0" * 64,
            "commit": "0" * 64,
            "scheme": "none",
            "sealing": "server",
        }
        check.feed(0, published)
        check.feed(
            2,
            {
                "v": 2,
                "seq": 2,
                "type": "bidding.closed",
                "ts": DEADLINE,
                "notice_id": notice_id,
                "secret": "0" * 64,
                "openings": [opening],
                "candidates": [[agency_id, 1]],
                "excluded": [],
                "eligible": "0" * 64,
            },
        )
        assert check.claims is not None
        sealed = Sealed()
        sealed.add(1, commitment.hex(), "2026-11-02T09:00:00.000000Z", None)
        result = join_sealed(sealed, [check.claims], log_time=DEADLINE)
        return [p.message for p in result.notice_problems.get(notice_id, [])] + [
            p.message for p in result.problems
        ]

    opening = protocol.opening(document, salt, 1, None)
    assert joined(opening) == []
    # One byte of the salt changed.
    changed_salt = bytearray(salt)
    changed_salt[flip % 32] ^= mask
    assert protocol.bid_commitment(bytes(changed_salt), document) != commitment
    assert "does not hold the commitment" in " ".join(joined({**opening, "salt": changed_salt.hex()}))
    # One byte of the document changed (the price, or a character of an id).
    changed = bytearray(document)
    changed[flip % len(document)] ^= mask
    assert protocol.bid_commitment(salt, bytes(changed)) != commitment
    if price is not None:
        assert "does not hold the commitment" in " ".join(
            joined({**opening, "bid": {**opening["bid"], "price_fen": price ^ 1 or 2}})
        )
    # A withdrawal binds the bid's commitment.
    w_salt = bytes(reversed(salt))
    withdrawal = protocol.withdrawal_commitment(w_salt, commitment)
    other = bytearray(commitment)
    other[flip % 32] ^= mask
    assert protocol.withdrawal_commitment(w_salt, bytes(other)) != withdrawal


def test_standalone_verifier_checks_msp2_with_only_cryptography() -> None:
    from tests.unit.log.test_standalone import LogServer, run_standalone

    log, _, _ = honest_log()
    server = LogServer(log.raw())
    try:
        code, report = run_standalone(server.url)
        assert code == 0 and report["ok"], report
        assert any(
            c.startswith("every sealed bid entry (MSP/2) is opened exactly once") for c in report["checks"]
        )
    finally:
        server.close()
    log.of("bidding.closed", "N-000001")["openings"].pop()
    log.other(ts=LATER)
    server = LogServer(log.raw())
    try:
        code, report = run_standalone(server.url)
        assert code == 1 and "was never opened by any notice" in report["problems"][0]["message"]
    finally:
        server.close()


@given(
    salt=st.binary(min_size=32, max_size=32),
    document=st.binary(min_size=1, max_size=400),
    bid_salt=st.binary(min_size=32, max_size=32),
)
def test_the_verifiers_fast_commitments_are_the_protocols(
    salt: bytes, document: bytes, bid_salt: bytes
) -> None:
    from market.protocol import notice_report

    commitment = protocol.bid_commitment(bid_salt, document)
    assert notice_report._bid_commitment(bid_salt, document) == commitment
    assert notice_report._withdrawal_commitment(salt, commitment) == protocol.withdrawal_commitment(
        salt, commitment
    )
