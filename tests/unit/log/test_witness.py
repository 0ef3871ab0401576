"""The witness's checks against a fake source: first use, growth, and every way a log can
betray a witness (another origin, another key, a bad signature, shrinking, a rewrite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from market import protocol
from market.protocol import cosign, witness

ORIGIN = "market.test/log"


class FakeLog:
    """A log of ``entries`` signed by ``key``; what it serves can be bent by the tests."""

    def __init__(
        self, entries: list[bytes], *, origin: str = ORIGIN, key: Ed25519PrivateKey | None = None
    ) -> None:
        self.origin = origin
        self.private_key = key or Ed25519PrivateKey.generate()
        self.leaves = [protocol.leaf_hash(e) for e in entries]
        self.name = "fake"
        self.note_override: str | None = None
        self.proof_override: list[bytes] | None = None
        self.consistency_calls: list[tuple[int, int]] = []

    @property
    def public(self) -> bytes:
        return cosign.public_bytes(self.private_key)

    def key(self) -> str:
        return protocol.verifier_key(self.origin, self.public) + "\n"

    def checkpoint(self) -> str:
        if self.note_override is not None:
            return self.note_override
        root = protocol.root_from_leaf_hashes(self.leaves)
        return protocol.sign_note(
            protocol.checkpoint_text(self.origin, len(self.leaves), root), self.origin, self.private_key
        )

    def consistency(self, first: int, second: int) -> list[bytes]:
        self.consistency_calls.append((first, second))
        if self.proof_override is not None:
            return self.proof_override
        return protocol.consistency_proof(self.leaves, first, second)

    def append(self, *entries: bytes) -> None:
        self.leaves += [protocol.leaf_hash(e) for e in entries]


def entries(n: int, tag: str = "a") -> list[bytes]:
    return [f'{{"seq":{i},"tag":"{tag}"}}'.encode() for i in range(n)]


def test_first_run_trusts_and_stores_then_growth_is_consistent(tmp_path: Path) -> None:
    log = FakeLog(entries(5))
    first = witness.witness(log, tmp_path)
    assert first.first_run and first.new_size == 5
    assert "trusted on first use" in first.summary(tmp_path)
    assert (tmp_path / "key").read_text().strip() == log.key().strip()
    assert (tmp_path / "checkpoint").read_text() == log.checkpoint()

    log.append(*entries(7, "b"))
    second = witness.witness(log, tmp_path)
    assert (second.old_size, second.new_size) == (5, 12)
    assert second.summary() == "consistent: 5 \u2192 12 entries"
    assert log.consistency_calls == [(5, 12)]
    assert protocol.open_checkpoint((tmp_path / "checkpoint").read_text(), log.key())[1] == 12
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left

    # Nothing new: still consistent, no proof needed.
    third = witness.witness(log, tmp_path)
    assert third.summary() == "consistent: 12 \u2192 12 entries"
    assert log.consistency_calls == [(5, 12)]


def test_a_state_directory_of_another_origin_is_a_clear_error(tmp_path: Path) -> None:
    witness.witness(FakeLog(entries(3), origin="other.example/log"), tmp_path)
    with pytest.raises(witness.WitnessError) as caught:
        witness.witness(FakeLog(entries(3)), tmp_path)
    assert caught.value.code == witness.EXIT_OTHER_LOG
    assert (
        str(caught.value)
        == f"the state directory holds a checkpoint of origin other.example/log, this log is {ORIGIN}"
    )


def test_a_changed_key_is_refused(tmp_path: Path) -> None:
    witness.witness(FakeLog(entries(3)), tmp_path)
    with pytest.raises(witness.WitnessError) as caught:
        witness.witness(FakeLog(entries(3)), tmp_path)  # same origin, new key
    assert caught.value.code == witness.EXIT_OTHER_LOG and "another key" in str(caught.value)


def test_a_bad_signature_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    log = FakeLog(entries(4))
    witness.witness(log, tmp_path)
    stored = (tmp_path / "checkpoint").read_text()
    log.append(b"x")
    # A checkpoint signed by an impostor under the log's name.
    impostor = Ed25519PrivateKey.generate()
    text = protocol.checkpoint_text(ORIGIN, 5, protocol.root_from_leaf_hashes(log.leaves))
    forged = protocol.sign_note(text, ORIGIN, impostor)
    log.note_override = forged
    with pytest.raises(witness.WitnessError) as caught:
        witness.witness(log, tmp_path)
    assert caught.value.code == witness.EXIT_BAD_SIGNATURE and "does not verify" in str(caught.value)
    # A changed byte in a genuinely signed note.
    genuine = protocol.sign_note(text, ORIGIN, log.private_key)
    log.note_override = genuine.replace("\n5\n", "\n6\n")
    with pytest.raises(witness.WitnessError) as caught:
        witness.witness(log, tmp_path)
    assert caught.value.code == witness.EXIT_BAD_SIGNATURE
    assert (tmp_path / "checkpoint").read_text() == stored


def test_a_shrinking_log_is_not_consistent(tmp_path: Path) -> None:
    log = FakeLog(entries(6))
    witness.witness(log, tmp_path)
    log.leaves = log.leaves[:4]
    with pytest.raises(witness.WitnessError) as caught:
        witness.witness(log, tmp_path)
    assert caught.value.code == witness.EXIT_INCONSISTENT
    assert "not consistent" in str(caught.value) and "shrank from 6 to 4" in str(caught.value)


def test_a_rewritten_history_is_not_consistent(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    witness.witness(FakeLog(entries(5), key=key), tmp_path)
    stored = (tmp_path / "checkpoint").read_text()
    # The same key signs another history: entry 2 changed, then grown to 9.
    rewritten = entries(5)
    rewritten[2] = b'{"seq":2,"tag":"changed"}'
    fork = FakeLog(rewritten + entries(4, "c"), key=key)
    with pytest.raises(witness.WitnessError) as caught:
        witness.witness(fork, tmp_path)
    assert caught.value.code == witness.EXIT_INCONSISTENT and "not consistent" in str(caught.value)
    assert (tmp_path / "checkpoint").read_text() == stored
    # Same size, another root.
    same_size = FakeLog(rewritten, key=key)
    with pytest.raises(witness.WitnessError) as caught:
        witness.witness(same_size, tmp_path)
    assert caught.value.code == witness.EXIT_INCONSISTENT


def test_a_bad_consistency_proof_is_not_consistent(tmp_path: Path) -> None:
    log = FakeLog(entries(5))
    witness.witness(log, tmp_path)
    log.append(*entries(3, "d"))
    log.proof_override = [protocol.H(b"junk")] * 3
    with pytest.raises(witness.WitnessError) as caught:
        witness.witness(log, tmp_path)
    assert caught.value.code == witness.EXIT_INCONSISTENT
    log.proof_override = []
    with pytest.raises(witness.WitnessError):
        witness.witness(log, tmp_path)


def test_a_pinned_key_is_checked_on_the_first_run(tmp_path: Path) -> None:
    log = FakeLog(entries(2))
    other = FakeLog(entries(2))
    with pytest.raises(witness.WitnessError) as caught:
        witness.witness(log, tmp_path, pinned_key=other.key())
    assert caught.value.code == witness.EXIT_OTHER_LOG
    assert not (tmp_path / "checkpoint").exists()
    assert witness.witness(log, tmp_path, pinned_key=log.key()).first_run


def test_a_corrupt_state_directory_is_reported(tmp_path: Path) -> None:
    log = FakeLog(entries(2))
    witness.witness(log, tmp_path)
    (tmp_path / "checkpoint").write_text("garbage\n")
    with pytest.raises(witness.WitnessError) as caught:
        witness.witness(log, tmp_path)
    assert caught.value.code == witness.EXIT_STATE


def test_cosignature_format_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    name = "witness.example/w1"
    body = protocol.checkpoint_text(ORIGIN, 3, protocol.H(b"r"))
    signed = cosign.sign(body, name, key, timestamp=1679315147)
    parsed = cosign.parse_line(signed.line)
    assert parsed == signed
    assert cosign.message(body, 1679315147) == b"cosignature/v1\ntime 1679315147\n" + body.encode()
    public = cosign.public_bytes(key)
    assert parsed.key_id == protocol.H(name.encode() + b"\n\x04" + public)[:4]
    assert cosign.verify(body, public, parsed.timestamp, parsed.signature)
    assert not cosign.verify(body, public, parsed.timestamp + 1, parsed.signature)
    operator = Ed25519PrivateKey.generate()
    note = cosign.append(protocol.sign_note(body, ORIGIN, operator), [signed.line])
    assert cosign.open_cosigned(note, name, public).timestamp == 1679315147
    assert (
        protocol.open_checkpoint(note, protocol.verifier_key(ORIGIN, cosign.public_bytes(operator)))[1] == 3
    )
