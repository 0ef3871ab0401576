"""The verifier on MSP/2 tlock notices (docs/protocol/msp.md sections 3.2, 7.5, 7.9): each
opened sealed entry's ciphertext decrypts, with the recorded drand quicknet round 657413,
to exactly its opening's timelock plaintext; a tlock notice cancelled before its deadline
opens its bids later in bids.opened; one standing bid per agency at any time."""

from __future__ import annotations

import os
from typing import Any

import pytest

from market import protocol
from market.protocol import tlock, verify_entries
from market.protocol.verifier import verify
from market.protocol.verify_entries import Report
from tests.unit.log.msp2 import DEADLINE, TLOCK_DEADLINE, V3_ROUND, Log, Notice, seal, ts_after
from tests.unit.log.test_verifier import MemorySource, signer

needs_pairing = pytest.mark.skipif(not tlock.available(), reason="py-arkworks-bls12381 not installed")


def run(log: Log, **kwargs: Any) -> Report:
    return verify(MemorySource(log.raw(), signer()), **kwargs)


def problems(report: Report, notice_id: str = "N-000001") -> list[str]:
    return [p.message for p in report.notices[notice_id].problems]


def tlock_log() -> tuple[Log, Notice]:
    """A tlock notice to round 657413: bids, a withdrawal and a new bid, closed and drawn."""
    log = Log(start=ts_after(TLOCK_DEADLINE, days=-5))
    notice = Notice(log, "N-000001", deadline=TLOCK_DEADLINE, sealing="tlock").publish()
    assert notice.tlock_round == V3_ROUND
    notice.bid("AG-001")
    notice.bid("AG-002")
    log.other()
    notice.withdraw("AG-002")
    notice.bid("AG-002")
    notice.bid("AG-003")
    return log, notice


def cancelled_tlock_log() -> tuple[Log, Notice]:
    log, notice = tlock_log()
    notice.cancel_tlock()
    log.other()
    notice.bids_opened()
    return log, notice


# -- decrypting ---------------------------------------------------------------------------------


@needs_pairing
def test_every_opened_ciphertext_decrypts_to_its_opening() -> None:
    log, notice = tlock_log()
    notice.close().draw()
    report = run(log)
    assert report.ok, report.human()
    assert (
        "5 tlock ciphertext(s) of opened sealed entries decrypt, with their round's signature, to exactly the timelock plaintexts of their openings"
        in report.checks
    )
    assert not any("tlock ciphertexts not opened" in n for n in report.notes)


def test_without_the_pairing_library_the_ciphertexts_are_not_opened_and_it_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log, notice = tlock_log()
    notice.close().draw()
    monkeypatch.setattr(tlock, "_bls", None)
    report = run(log)
    assert report.ok, report.human()
    assert "tlock ciphertexts not opened: install py-arkworks-bls12381 (1 notice(s))" in report.notes
    assert not any("decrypt" in c for c in report.checks)


@needs_pairing
def test_a_ciphertext_of_another_plaintext_fails_naming_the_entry() -> None:
    log, notice = tlock_log()
    bid = notice.bids["B-000001-001"]
    other = protocol.tlock_plaintext(b"\x01" * 32, document=bid["doc"])  # the same bid, another salt
    log.entries[bid["seq"]]["tlock"] = seal(other, V3_ROUND, b"other")
    notice.close().draw()
    report = run(log)
    assert not report.ok
    closed = log.of("bidding.closed")["seq"]
    assert [(p.seq, p.message) for p in report.notices["N-000001"].problems] == [
        (
            closed,
            f"bid B-000001-001: sealed entry {bid['seq']}'s tlock ciphertext opens to something other than this opening's timelock plaintext",
        )
    ]


@needs_pairing
def test_a_withdrawal_whose_ciphertext_holds_the_bid_fails() -> None:
    log, notice = tlock_log()
    bid = notice.bids["B-000001-002"]
    w_seq = bid["withdrawn"][1]
    log.entries[w_seq]["tlock"] = log.entries[bid["seq"]]["tlock"]  # the bid's ciphertext, copied
    notice.close().draw()
    messages = problems(run(log))
    assert messages == [
        f"the withdrawal of bid B-000001-002: sealed entry {w_seq}'s tlock ciphertext opens to something other than this opening's timelock plaintext"
    ], messages


@needs_pairing
def test_a_ciphertext_to_another_round_does_not_open() -> None:
    log, notice = tlock_log()
    bid = notice.bids["B-000001-003"]
    log.entries[bid["seq"]]["tlock"] = seal(
        protocol.tlock_plaintext(bid["salt"], document=bid["doc"]), V3_ROUND + 1, b"r"
    )
    notice.close().draw()
    messages = problems(run(log))
    assert len(messages) == 1 and messages[0].startswith(
        f"bid B-000001-003: sealed entry {bid['seq']}'s tlock ciphertext does not open with the signature of round {V3_ROUND} ("
    ), messages


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("AAAA", "bid.sealed tlock holds 3 bytes, not 704 (a timelocked 512-byte plaintext)"),
        ("not base64!", "bid.sealed tlock is not canonical standard base64 with padding"),
        (None, "bid.sealed tlock is not a non-empty string"),
    ],
)
def test_the_form_of_a_tlock_field_is_checked_without_opening_it(field: Any, expected: str) -> None:
    log, notice = tlock_log()
    seq = notice.bids["B-000001-001"]["seq"]
    log.entries[seq]["tlock"] = field
    report = run(log)
    assert report.problems[0].seq == seq and report.problems[0].message == expected


def test_a_non_canonical_last_character_is_refused() -> None:
    log, notice = tlock_log()
    seq = notice.bids["B-000001-001"]["seq"]
    field = log.entries[seq]["tlock"]
    log.entries[seq]["tlock"] = (
        field[:-2] + chr(ord(field[-2]) + 1) + "="
    )  # low bits set: decodes to the same bytes
    report = run(log)
    assert (
        report.problems[0].seq == seq
        and report.problems[0].message == "bid.sealed tlock is not canonical standard base64 with padding"
    )


# -- cancelled before the round: bids.opened ---------------------------------------------------------


def test_a_cancelled_tlock_notice_opens_its_bids_later() -> None:
    log, _ = cancelled_tlock_log()
    log.other(ts=ts_after(TLOCK_DEADLINE, days=98))
    report = run(log)
    assert report.ok, report.human()
    assert report.notices["N-000001"].status == "cancelled"
    assert report.notices["N-000001"].summary == "lottery, cancelled, 3 standing bid(s)"
    if tlock.available():
        assert any(
            c.startswith("5 tlock ciphertext(s) of opened sealed entries decrypt") for c in report.checks
        )


def test_a_cancelled_tlock_notice_never_opened_fails_once_the_window_has_passed() -> None:
    log, notice = tlock_log()
    notice.cancel_tlock()
    report = run(log)
    assert report.ok, report.human()
    assert (
        report.notices["N-000001"].summary
        == "lottery, cancelled, bids sealed until the deadline's drand round (not opened yet)"
    )
    log.other(ts=ts_after(TLOCK_DEADLINE, days=98))
    report = run(log)
    sealed = sorted(
        [b["seq"] for b in notice.bids.values()]
        + [b["withdrawn"][1] for b in notice.bids.values() if b["withdrawn"]]
    )
    assert [p.seq for p in report.problems] == sealed
    assert all("was never opened by any notice" in p.message for p in report.problems)


def test_bids_opened_is_checked_like_a_close() -> None:
    log, notice = cancelled_tlock_log()
    opened = log.of("bids.opened")
    opened["openings"][0]["bid"]["price_fen"] = (
        5  # a lottery bid has none; and the commitment no longer holds
    )
    opened["tlock"]["round"] = V3_ROUND + 1
    messages = problems(run(log))
    assert "bid B-000001-001 has price_fen 5; a lottery bid has none (null)" in messages
    assert any(m.startswith(f"tlock round {V3_ROUND + 1} is not {V3_ROUND}") for m in messages), messages
    assert any(
        m.startswith("bid B-000001-001: sealed entry") and "does not hold the commitment" in m
        for m in messages
    ), messages
    assert all(p.seq == opened["seq"] for p in run(log).notices["N-000001"].problems)


def test_bids_opened_claims_only_entries_before_the_cancellation() -> None:
    log, notice = tlock_log()
    notice.cancel_tlock()
    late = notice.bid("AG-004")  # sealed after the cancellation
    notice.bids_opened()
    cancelled = log.of("notice.cancelled")["seq"]
    messages = problems(run(log))
    assert (
        f"bid {late}: its sealed entry {notice.bids[late]['seq']} is not between notice.published (entry 0) and notice.cancelled (entry {cancelled})"
        in messages
    ), messages


@pytest.mark.parametrize("case", ["twice", "server", "not_cancelled", "cancel_with_openings", "after", "v1"])
def test_bids_opened_only_once_after_a_tlock_cancellation(case: str) -> None:
    if case == "server":
        log = Log()
        notice = Notice(log, "N-000001").publish()
        notice.bid("AG-001")
        notice.cancel()
        log.add(
            "bids.opened",
            notice_id="N-000001",
            openings=notice.openings(),
            tlock={"round": V3_ROUND, "signature": "00"},
        )
        expected = "bids.opened of a server notice, whose cancellation (entry 2) opens the bids itself"
    else:
        log, notice = tlock_log()
        if case == "not_cancelled":
            notice.bids_opened()
            expected = "bids.opened of a notice that was not cancelled (only a cancelled tlock notice's bids are opened so)"
        elif case == "cancel_with_openings":
            notice.cancel()
            expected = "notice.cancelled of a tlock notice has openings: its bids cannot be opened before the deadline's round (openings is null, and bids.opened opens them)"
        elif case == "v1":
            notice.cancel_tlock()
            notice.bids_opened()
            log.entries[-1]["v"] = 1
            report = run(log)
            assert report.problems[0].message == "bids.opened exists only in MSP/2: v must be 2"
            return
        else:
            notice.cancel_tlock()
            notice.bids_opened()
            first = log.entries[-1]["seq"]
            if case == "twice":
                notice.bids_opened()
                expected = f"a second bids.opened (the first is entry {first})"
            else:
                notice.add("award.final", winners=[])
                expected = f"award.final after notice.cancelled (entry {first - 1})"
    messages = problems(run(log))
    assert expected in messages, messages


def test_a_server_cancellation_must_carry_openings() -> None:
    log = Log()
    notice = Notice(log, "N-000001").publish()
    notice.bid("AG-001")
    notice.add("notice.cancelled", reason="x", openings=None)
    assert "notice.cancelled of an MSP/2 notice has no openings list" in problems(run(log))


def test_bids_opened_before_the_deadline() -> None:
    log, notice = tlock_log()
    notice.cancel_tlock()
    notice.bids_opened(ts=ts_after(TLOCK_DEADLINE, seconds=-1))
    messages = problems(run(log))
    assert any(
        m.startswith("bids.opened at ") and "its drand round cannot have been out" in m for m in messages
    ), messages


# -- one standing bid per agency, across time ---------------------------------------------------------


def test_two_bids_of_one_agency_standing_at_once_are_named() -> None:
    log = Log()
    notice = Notice(log, "N-000001").publish()
    first = notice.bid("AG-001")
    notice.bid("AG-002")
    second = notice.bid("AG-001")  # placed while the first still stands...
    notice.standing["AG-001"] = first
    notice.withdraw("AG-001")  # ...and the first withdrawn only afterwards
    notice.standing["AG-001"] = second
    notice.bid("AG-003")
    notice.close().draw()
    f_seq, s_seq, w_seq = (
        notice.bids[first]["seq"],
        notice.bids[second]["seq"],
        notice.bids[first]["withdrawn"][1],
    )
    messages = problems(run(log))
    assert messages == [
        f"agency AG-001 had two bids standing at once: {first} (sealed entry {f_seq}, standing until its withdrawal, entry {w_seq}) "
        f"and {second} (sealed entry {s_seq})"
    ], messages


def test_withdrawn_then_placed_again_is_fine() -> None:
    log = Log()
    notice = Notice(log, "N-000001").publish()
    notice.bid("AG-001")
    notice.withdraw("AG-001")
    notice.bid("AG-001")
    notice.withdraw("AG-001")
    notice.bid("AG-001")
    notice.bid("AG-002")
    notice.close().draw()
    report = run(log)
    assert report.ok, report.human()


# -- the workers and the standalone verifier ------------------------------------------------------------


@pytest.mark.parametrize("shards", [1, 2])
def test_workers_decrypt_and_give_the_same_report(monkeypatch: pytest.MonkeyPatch, shards: int) -> None:
    log, notice = tlock_log()
    bid = notice.bids["B-000001-001"]
    log.entries[bid["seq"]]["tlock"] = seal(
        protocol.tlock_plaintext(b"\x02" * 32, document=bid["doc"]), V3_ROUND, b"x"
    )
    notice.close().draw()
    for _ in range(20):
        log.other()
    raw = log.raw()
    s = signer()
    inline = verify(MemorySource(raw, s))
    monkeypatch.setattr(verify_entries.EntryChecker, "PARALLEL_FROM", 5)
    monkeypatch.setattr(verify_entries.EntryChecker, "BATCH", 3)
    monkeypatch.setattr(verify_entries.EntryChecker, "MAX_WORKERS", shards)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    parallel = verify(MemorySource(raw, s))
    assert parallel.as_dict() == inline.as_dict()
    if tlock.available():  # the tampered ciphertext, found in whichever worker holds its entry
        assert [p.message.split(":")[0] for p in parallel.notices["N-000001"].problems] == [
            "bid B-000001-001"
        ]


def test_standalone_verifier_decrypts_tlock_notices() -> None:
    from tests.unit.log.test_standalone import LogServer, run_standalone

    log, notice = tlock_log()
    notice.close().draw()
    server = LogServer(log.raw())
    try:
        code, report = run_standalone(server.url)
    finally:
        server.close()
    assert code == 0 and report["ok"], report
    if tlock.available():
        assert any(
            c.startswith("5 tlock ciphertext(s) of opened sealed entries decrypt") for c in report["checks"]
        )


def test_deadline_unaffected_helpers() -> None:
    assert protocol.tlock_round(protocol.deadline_unix(protocol.parse_ts(TLOCK_DEADLINE))) == V3_ROUND
    assert DEADLINE > TLOCK_DEADLINE
