"""The verifier's rules on an in-memory log, without a server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from market import protocol
from market.log.signer import LogSigner
from market.protocol.verifier import verify
from market.protocol.verify_entries import check_entry

ORIGIN = "test.example/log"


class MemorySource:
    name = "memory"

    def __init__(self, entries: list[bytes], signer: LogSigner, stored: list[bytes] | None = None) -> None:
        self.served = entries
        self.stored = stored if stored is not None else list(entries)  # what the server's tree was built from
        self.signer = signer
        self.leaves = [protocol.leaf_hash(e) for e in self.stored]

    def key(self) -> str:
        return self.signer.verifier_key

    def checkpoint(self) -> str:
        return self.signer.sign_checkpoint(len(self.stored), protocol.root_from_leaf_hashes(self.leaves))

    def entries(self, start: int, end: int) -> Iterator[list[bytes]]:
        for at in range(start, min(end, len(self.served)), 5):  # small batches, to cross their edges
            yield self.served[at : min(at + 5, end)]

    def inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes]]:
        return self.leaves[index], protocol.inclusion_proof(self.leaves, index, size)

    def consistency(self, first: int, second: int) -> list[bytes]:
        return protocol.consistency_proof(self.leaves, first, second)


def entry(seq: int, **fields: object) -> bytes:
    return protocol.canonical_json(
        {"v": 1, "seq": seq, "type": "test.event", "ts": "2026-11-27T09:00:00.000000Z", **fields}
    )


def signer() -> LogSigner:
    return LogSigner(origin=ORIGIN, private_key=Ed25519PrivateKey.generate())


def test_good_log_verifies() -> None:
    report = verify(MemorySource([entry(i, n=i) for i in range(37)], signer()))
    assert report.ok and report.size == 37 and report.entries_checked == 37


def test_every_single_replaced_entry_is_found_exactly() -> None:
    good = [entry(i, n=i) for i in range(37)]
    s = signer()
    for bad in range(37):
        served = list(good)
        served[bad] = entry(bad, n=-1)
        report = verify(MemorySource(served, s, stored=good))
        assert not report.ok and report.first_bad_seq == bad


def test_entry_rules() -> None:
    assert check_entry(entry(3), 3) is None
    assert "seq" in (check_entry(entry(3), 4) or "")
    spaced = b'{"seq": 0, "ts": "2026-11-27T09:00:00.000000Z", "type": "t.e", "v": 1}'
    assert check_entry(spaced, 0) is None
    assert "canonical" in (check_entry(spaced, 0, canonical=True) or "")
    assert "JSON" in (check_entry(b"[1]", 0) or "")
    assert "JSON" in (check_entry(b"{nope", 0) or "")
    assert "ts" in (
        check_entry(protocol.canonical_json({"v": 1, "seq": 0, "type": "t.e", "ts": "2026-11-27"}), 0) or ""
    )
    assert "type" in (
        check_entry(protocol.canonical_json({"v": 1, "seq": 0, "ts": "2026-11-27T09:00:00.000000Z"}), 0) or ""
    )


def test_checkpoint_under_another_key_fails() -> None:
    source = MemorySource([entry(0)], signer())
    other = signer()
    source.key = lambda: other.verifier_key  # type: ignore[method-assign]
    report = verify(source)
    assert not report.ok and "does not verify" in report.problems[0].message


def test_fewer_entries_than_the_checkpoint_fails_at_the_first_missing() -> None:
    good = [entry(i) for i in range(5)]
    report = verify(MemorySource(good[:3], signer(), stored=good))
    assert not report.ok and report.first_bad_seq == 3


def test_entry_parts_splice_to_the_canonical_entry() -> None:
    from datetime import UTC, datetime

    from market.log.store import build_entry, entry_parts

    ts = datetime(2026, 11, 27, 9, 0, 0, 123456, tzinfo=UTC)
    for fields in (
        {},
        {"a": 1},
        {"notice_id": "N-000001", "zeta": [1, {"seq": 0}], "title": '环评 "q"'},
        {"u": None, "t": True},
    ):
        head, middle, tail = entry_parts(type="notice.published", fields=fields)
        spliced = head + b"42" + middle + b"2026-11-27T09:00:00.123456Z" + tail
        expected = protocol.canonical_json(
            {
                **fields,
                "v": protocol.VERSION,
                "seq": 42,
                "type": "notice.published",
                "ts": "2026-11-27T09:00:00.123456Z",
            }
        )
        assert spliced == expected == build_entry(seq=42, type="notice.published", ts=ts, fields=fields)


# -- per-notice checks through verify() ------------------------------------------------------


def notices_log(count: int = 3, *, tamper: bool = False) -> list[bytes]:
    """``count`` lottery notices interleaved in one log with other entries, the first one
    tampered with (its secret) if asked."""
    from tests.unit.log.test_notice_checks import Story

    stories = [Story(f"N-{n:06d}", secret=bytes([n]) * 32) for n in range(1, count + 1)]
    # Interleave: publish all, bid round-robin, close and draw all.
    steps: list[tuple[Story, str, Any]] = []
    for story in stories:
        steps.append((story, "publish", None))
    for agency in ("AG-1", "AG-2", "AG-3", "AG-4"):
        for story in stories:
            steps.append((story, "bid", agency))
    for story in stories:
        steps.append((story, "close", None))
        steps.append((story, "draw", None))
    log: list[bytes] = []
    for story, step, arg in steps:
        story.seq = len(log)
        before = len(story.entries)
        if step == "bid":
            story.bid(arg)
        else:
            getattr(story, step)()
        for _, e in story.entries[before:]:
            if tamper and story is stories[0] and e["type"] == "bidding.closed":
                e["secret"] = "11" * 32
            log.append(protocol.canonical_json(e))
        log.append(entry(len(log), agency_id="AG-1"))  # something else happens in between
    return log


def test_notices_are_checked_and_reported() -> None:
    report = verify(MemorySource(notices_log(3), signer()))
    assert report.ok, report.human()
    assert list(report.notices) == ["N-000001", "N-000002", "N-000003"]
    assert all(n.status == "selected" for n in report.notices.values())
    human = report.human()
    assert "  ok    notice N-000002: lottery, 4 candidates, winners AG-" in human
    assert "all 3 notices: MSP/1 section 5 per-notice checks and the award steps pass" in human
    data = report.as_dict()
    assert data["ok"] and data["notices"]["N-000001"]["status"] == "selected"


def test_a_notice_problem_fails_the_report() -> None:
    report = verify(MemorySource(notices_log(3, tamper=True), signer()))
    assert not report.ok
    assert report.problems == []  # the log itself is fine: signed as it is
    bad = report.notices["N-000001"]
    assert bad.problems[0].message.startswith("secret does not match commit")
    human = report.human()
    assert "  FAIL  notice N-000001: " in human and "secret does not match commit" in human
    assert human.endswith("FAILED (2 problem(s))")  # the secret, and the seed made with it
    assert report.as_dict()["notices"]["N-000001"]["ok"] is False
    assert report.first_bad_seq == bad.problems[0].seq


def test_one_notice_alone() -> None:
    log = notices_log(3, tamper=True)
    report = verify(MemorySource(log, signer()), notice="N-000002")
    assert report.ok and list(report.notices) == ["N-000002"]
    assert "notice N-000002: MSP/1 section 5" in report.human()
    report = verify(MemorySource(log, signer()), notice="N-000404")
    assert not report.ok and report.notices == {}
    assert report.problems[0].message == "no entries for notice N-000404"


def test_log_only_checks_the_log_and_says_the_notices_were_not_re_derived() -> None:
    tampered = notices_log(3, tamper=True)  # signed as it is: only a notice's story is wrong
    report = verify(MemorySource(tampered, signer()), notices=False)
    assert report.ok and report.notices == {}, report.human()
    assert any("not re-derived" in note for note in report.notes)
    assert "  note  the notices' stories" in report.human()
    # The log's own checks still run: an entry without its notice_id is still found.
    log = notices_log(1)
    log.append(
        protocol.canonical_json(
            {"v": 1, "seq": len(log), "type": "bid.accepted", "ts": "2026-11-28T09:00:00.000000Z"}
        )
    )
    assert (
        verify(MemorySource(log, signer()), notices=False).problems[0].message
        == "bid.accepted has no notice_id"
    )


def test_many_notices_print_the_failing_ones_and_a_count() -> None:
    report = verify(MemorySource(notices_log(52, tamper=True), signer()))
    lines = report.human().splitlines()
    notice_lines = [line for line in lines if " notice N-" in line]
    assert notice_lines == [next(line for line in lines if line.startswith("  FAIL  notice N-000001"))]
    assert "  ok    51 other notices pass every check" in lines
    # One notice asked for is always shown, and the JSON always has every notice.
    assert len(report.as_dict()["notices"]) == 52


def test_an_entry_of_a_notice_type_without_notice_id_is_a_problem() -> None:
    log = notices_log(1)
    log.append(
        protocol.canonical_json(
            {"v": 1, "seq": len(log), "type": "bid.accepted", "ts": "2026-11-28T09:00:00.000000Z"}
        )
    )
    report = verify(MemorySource(log, signer()))
    assert not report.ok and report.problems[0].message == "bid.accepted has no notice_id"


@pytest.mark.parametrize("shards", [1, 3])
def test_worker_processes_give_the_same_report(monkeypatch: pytest.MonkeyPatch, shards: int) -> None:
    import os

    from market.protocol import verify_entries

    log = notices_log(7, tamper=True)
    # An entry whose notice the shards cannot read from its bytes (spaces, an escape) must
    # still reach its notice's checks: here, a bid after the deadline.
    late = protocol.canonical_json(
        {
            "v": 1,
            "seq": len(log),
            "type": "bid.accepted",
            "ts": "2026-12-05T09:00:00.000000Z",
            "notice_id": "N-000005",
            "bid_id": "B-LATE",
            "agency_id": "AG-9",
            "bid_sha256": "0" * 64,
        }
    ).replace(b'"notice_id":"N-000005"', b'"notice\\u005fid": "N-000005"')
    log.append(late)
    s = signer()
    inline = verify(MemorySource(log, s))
    monkeypatch.setattr(verify_entries.EntryChecker, "PARALLEL_FROM", 10)
    monkeypatch.setattr(verify_entries.EntryChecker, "BATCH", 7)
    monkeypatch.setattr(verify_entries.EntryChecker, "MAX_WORKERS", shards)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    parallel = verify(MemorySource(log, s))
    assert parallel.as_dict() == inline.as_dict()
    assert "bid B-LATE accepted after bidding.closed" in inline.notices["N-000005"].problems[-1].message
    assert not inline.notices["N-000001"].ok and inline.notices["N-000002"].ok


@pytest.mark.parametrize("shards", [1, 3])
def test_log_only_workers_find_what_one_process_finds(monkeypatch: pytest.MonkeyPatch, shards: int) -> None:
    """--log-only deals each batch to one worker: the first bad entry is still the first."""
    import os

    from market.protocol import verify_entries

    log = notices_log(7)
    log[20] = log[20].replace(b'"v":1', b'"v":2')
    log[33] = b"not json"
    s = signer()
    inline = verify(MemorySource(log, s), notices=False)
    monkeypatch.setattr(verify_entries.EntryChecker, "PARALLEL_FROM", 10)
    monkeypatch.setattr(verify_entries.EntryChecker, "BATCH", 7)
    monkeypatch.setattr(verify_entries.EntryChecker, "MAX_WORKERS", shards)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    parallel = verify(MemorySource(log, s), notices=False)
    assert parallel.as_dict() == inline.as_dict()
    assert inline.first_bad_seq == 20 and not inline.ok


def test_notice_key_reads_the_notice_from_the_bytes() -> None:
    from market.protocol.verify_entries import AMBIGUOUS, notice_key

    assert notice_key(b'{"notice_id":"N-1","seq":0}') == "N-1"
    assert notice_key(b'{"bids":[{"notice_id":"N-1"}],"notice_id":"N-1"}') == "N-1"
    assert notice_key(b'{"seq":0,"type":"x"}') is None
    assert notice_key(b'{"bids":[{"notice_id":"N-2"}],"notice_id":"N-1"}') == AMBIGUOUS
    assert notice_key(b'{"notice_id": "N-1"}') == AMBIGUOUS
    assert notice_key(b'{"notice_id":7}') == AMBIGUOUS
    assert notice_key(b'{"notice\\u005fid":"N-1"}') == AMBIGUOUS
    assert notice_key(b'{"x":"notice_id"}') == AMBIGUOUS
    assert notice_key(b'{"notice_id":"N-1","x":"notice_id"}') == AMBIGUOUS
