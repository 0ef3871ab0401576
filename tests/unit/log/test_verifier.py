"""The verifier's rules on an in-memory log, without a server."""

from __future__ import annotations

from collections.abc import Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from market.log import protocol
from market.log.signer import LogSigner
from market.log.verifier import check_entry, verify

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
    return protocol.canonical_json({"v": 1, "seq": seq, "type": "test.event", "ts": "2026-11-27T09:00:00.000000Z", **fields})


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
    assert "ts" in (check_entry(protocol.canonical_json({"v": 1, "seq": 0, "type": "t.e", "ts": "2026-11-27"}), 0) or "")
    assert "type" in (check_entry(protocol.canonical_json({"v": 1, "seq": 0, "ts": "2026-11-27T09:00:00.000000Z"}), 0) or "")


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
    for fields in ({}, {"a": 1}, {"notice_id": "N-000001", "zeta": [1, {"seq": 0}], "title": "环评 \"q\""}, {"u": None, "t": True}):
        head, middle, tail = entry_parts(type="notice.published", fields=fields)
        spliced = head + b"42" + middle + b"2026-11-27T09:00:00.123456Z" + tail
        expected = protocol.canonical_json(
            {**fields, "v": 1, "seq": 42, "type": "notice.published", "ts": "2026-11-27T09:00:00.123456Z"}
        )
        assert spliced == expected == build_entry(seq=42, type="notice.published", ts=ts, fields=fields)
