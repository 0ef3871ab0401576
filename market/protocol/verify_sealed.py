"""Verifying a log, MSP/2: every sealed entry opened exactly once (or still within its
bid window), joined across the shards of the verifier that read them. Pure, as ``verifier``."""

from __future__ import annotations

import array
import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from market import protocol
from market.protocol import tlock
from market.protocol.notice_report import (
    HEX64,
    TS,
    Claims,
    Problem,
)


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


class Sealed:
    """``bid.sealed`` entries, compact: a million-entry MSP/2 log holds some 600,000 of them,
    so per entry 8 bytes of seq, 32 of commitment, 27 of ts and one saying whether it has
    a tlock ciphertext, in four flat arrays rather than as objects; and the tlock fields
    themselves (only tlock notices' entries have one) by seq."""

    __slots__ = ("commitments", "fields", "seqs", "tlock", "ts")
    TS_BYTES = 27

    def __init__(self) -> None:
        self.seqs = array.array("q")
        self.commitments = bytearray()
        self.ts = bytearray()
        self.tlock = bytearray()
        self.fields: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.seqs)

    def add(self, seq: int, commitment_hex: str, ts: str, field: str | None) -> None:
        """``field``: the entry's tlock ciphertext, None if it has none."""
        self.seqs.append(seq)
        self.commitments += bytes.fromhex(commitment_hex)
        self.ts += ts.encode("ascii")
        if field is None:
            self.tlock.append(0)
        else:
            self.tlock.append(1)
            self.fields[seq] = field

    def extend(self, other: Sealed) -> None:
        self.seqs.extend(other.seqs)
        self.commitments += other.commitments
        self.ts += other.ts
        self.tlock += other.tlock
        self.fields.update(other.fields)

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.seqs, self.commitments, self.ts, self.tlock, self.fields)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.seqs, self.commitments, self.ts, self.tlock, self.fields = state

    def rows(self) -> list[list[Any]]:
        """As a state file keeps them, in seq order: [seq, commitment hex, ts, tlock 0 or
        1], and the tlock field after them when there is one."""
        n, width = len(self), self.TS_BYTES
        rows: list[list[Any]] = [
            [
                self.seqs[i],
                self.commitments[32 * i : 32 * i + 32].hex(),
                self.ts[width * i : width * i + width].decode("ascii"),
                self.tlock[i],
            ]
            for i in range(n)
        ]
        for row in rows:
            if row[0] in self.fields:
                row.append(self.fields[row[0]])
        rows.sort(key=lambda row: row[0])
        return rows

    @classmethod
    def from_rows(cls, rows: Any) -> Sealed:
        sealed = cls()
        for row in rows:
            seq, commitment, ts, flag = row[:4]
            field = row[4] if len(row) == 5 else None
            if not (
                _is_count(seq)
                and isinstance(commitment, str)
                and HEX64.fullmatch(commitment)
                and isinstance(ts, str)
                and TS.fullmatch(ts)
                and flag in (0, 1)
                and len(row) in (4, 5)
                and (field is None or (flag == 1 and isinstance(field, str)))
            ):
                raise ValueError(f"pending sealed entry {seq!r}")
            sealed.add(seq, commitment, ts, field if field is not None else "" if flag else None)
            if flag and field is None:
                del sealed.fields[seq]
        return sealed


# -- MSP/2: every sealed entry opened exactly once ----------------------------------------------

OPENING_WINDOW = timedelta(seconds=protocol.MAX_BID_WINDOW_SECONDS + protocol.OPENING_GRACE_SECONDS)


@dataclass
class Joined:
    """What the join of the openings' claims with the sealed entries found: problems of
    the claiming notices (by notice), problems of the log (unopened or doubly claimed
    sealed entries), and the sealed entries still waiting for their opening."""

    notice_problems: dict[str, list[Problem]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    pending: Sealed = field(default_factory=Sealed)
    sealed: int = 0
    claimed: int = 0
    opened: int = 0  # tlock ciphertexts opened and found to hold their opening


@dataclass
class ClaimSet:
    """Every claim of the openings joined, concatenated (claim ``k`` is entry ``seqs[k]``,
    of opening ``owners[k]``), as sent once to every worker for its part of the join; per
    opening its deadline, whether its sealing is tlock, its round and signature (None: not
    usable, or nothing to decrypt with here); and, for the claims of tlock openings whose
    ciphertexts are to be opened, the plaintext each must open to."""

    seqs: array.array  # 'q'
    commitments: bytes
    owners: array.array  # 'l'
    deadlines: list[bytes]
    tlocks: bytes
    rounds: list[tuple[int, str] | None]
    plaintexts: dict[int, bytes | None]

    @classmethod
    def of(cls, claims: Sequence[Claims]) -> ClaimSet:
        seqs, owners = array.array("q"), array.array("l")
        plaintexts: dict[int, bytes | None] = {}
        decrypt = tlock.available()
        for number, claim in enumerate(claims):
            if (
                decrypt
                and claim.round is not None
                and claim.signature is not None
                and claim.plaintexts is not None
            ):
                plaintexts.update(zip(range(len(seqs), len(seqs) + len(claim.seqs)), claim.plaintexts))
            seqs.extend(claim.seqs)
            owners.extend(itertools.repeat(number, len(claim.seqs)))
        return cls(
            seqs,
            b"".join(claim.commitments for claim in claims),
            owners,
            [claim.deadline.encode("ascii") for claim in claims],
            bytes(claim.tlock for claim in claims),
            [
                (claim.round, claim.signature)
                if claim.round is not None and claim.signature is not None
                else None
                for claim in claims
            ],
            plaintexts,
        )


@dataclass
class JoinPart:
    """One shard's part of the join: the claims on the sealed entries it read (``matched``,
    claim indexes), those that fail (claim index, message), the log's problems among its
    sealed entries (doubly claimed, never opened) and those still pending."""

    matched: array.array  # 'l'
    failures: list[tuple[int, str]]
    problems: list[Problem]
    pending: Sealed
    sealed: int
    claimed: int
    opened: int = 0
    doubles: list[tuple[int, list[int]]] = field(default_factory=list)  # (sealed seq, the claims on it)


def join_part(sealed: Sealed, claims: ClaimSet, *, log_time: str, complete: bool) -> JoinPart:
    """MSP/2 section 7.6, for the sealed entries of one shard: each claim on one of them
    names an entry holding the commitment its opening recomputes, logged before the
    opening's deadline, with a tlock ciphertext exactly when the notice's sealing is tlock
    (which, where the pairing library is installed, opens with the round's signature to
    exactly the claim's timelock plaintext); none of them is claimed twice; and, when
    ``complete``, each is claimed, or was logged less than the longest bid window and the
    opening grace before the log's time (then it is ``pending``).

    The honest case, every claim matching, is checked with whole-list operations (a large
    log has hundreds of thousands of claims); claim by claim only when one does not."""
    n, width = len(sealed), Sealed.TS_BYTES
    position = dict(zip(sealed.seqs, range(n)))
    found = list(map(position.get, claims.seqs))
    own = list(itertools.compress(range(len(found)), map(operator.is_not, found, itertools.repeat(None))))
    # the sealed entry of each claim of ours (``own`` picks the claims that found one)
    at = cast("list[int]", list(map(found.__getitem__, own)))
    blob, ts_blob, wanted = bytes(sealed.commitments), bytes(sealed.ts), claims.commitments
    groups = list(map(claims.owners.__getitem__, own))
    times = [ts_blob[width * i : width * i + width] for i in at]
    fine = (
        b"".join([blob[32 * i : 32 * i + 32] for i in at])
        == b"".join([wanted[32 * k : 32 * k + 32] for k in own])
        and all(map(bytes.__lt__, times, map(claims.deadlines.__getitem__, groups)))
        and bytes(map(sealed.tlock.__getitem__, at)) == bytes(map(claims.tlocks.__getitem__, groups))
    )
    claimed = set(at)
    part = JoinPart(array.array("l", own), [], [], Sealed(), n, len(claimed))
    if not fine or len(claimed) != len(at):
        _join_claim_by_claim(part, claims, own, at, times, sealed)
    if claims.plaintexts:
        _open_ciphertexts(part, claims, found, sealed)
    if complete and len(claimed) < n:
        limit = protocol.format_ts(protocol.parse_ts(log_time) - OPENING_WINDOW).encode("ascii")
        days = OPENING_WINDOW.days
        pending = part.pending
        for i in itertools.filterfalse(claimed.__contains__, range(n)):
            seq, ts = sealed.seqs[i], ts_blob[width * i : width * i + width]
            if ts > limit:
                pending.seqs.append(seq)
                pending.commitments += blob[32 * i : 32 * i + 32]
                pending.ts += ts
                pending.tlock.append(sealed.tlock[i])
                if seq in sealed.fields:
                    pending.fields[seq] = sealed.fields[seq]
            else:
                part.problems.append(
                    Problem(
                        f"sealed entry {seq} (logged at {ts.decode('ascii')}) was never opened by any notice within {days} days "
                        f"(the longest bid window and the opening grace); the log's time is {log_time}",
                        seq=seq,
                    )
                )
    return part


def _join_claim_by_claim(
    part: JoinPart, claims: ClaimSet, own: list[int], at: list[int], times: list[bytes], sealed: Sealed
) -> None:
    """The checks of ``join_part`` claim by claim, naming each claim that fails."""
    claimants: dict[int, list[int]] = {}  # sealed seq -> the claims on it
    wanted, blob = claims.commitments, sealed.commitments
    for k, i, ts_bytes in zip(own, at, times):
        seq = sealed.seqs[i]
        claimants.setdefault(seq, []).append(k)
        group = claims.owners[k]
        if blob[32 * i : 32 * i + 32] != wanted[32 * k : 32 * k + 32]:
            part.failures.append(
                (
                    k,
                    f"sealed entry {seq} does not hold the commitment its opening recomputes from the salt and the document",
                )
            )
        deadline = claims.deadlines[group].decode("ascii")
        ts = ts_bytes.decode("ascii")
        if ts >= deadline:
            part.failures.append(
                (k, f"sealed entry {seq} was logged at {ts}, at or after the deadline {deadline}")
            )
        if sealed.tlock[i] and not claims.tlocks[group]:
            part.failures.append(
                (k, f"sealed entry {seq} has a tlock ciphertext, but the notice's sealing is server")
            )
        elif claims.tlocks[group] and not sealed.tlock[i]:
            part.failures.append(
                (k, f"sealed entry {seq} has no tlock ciphertext, but the notice's sealing is tlock")
            )
    part.doubles.extend((seq, ks) for seq, ks in claimants.items() if len(ks) > 1)


def _open_ciphertexts(part: JoinPart, claims: ClaimSet, found: list[int | None], sealed: Sealed) -> None:
    """Open the tlock ciphertext of each claimed entry of ours (of a tlock opening whose
    round and signature are usable) and hold it to the claim's timelock plaintext."""
    for k, plaintext in claims.plaintexts.items():
        i = found[k]
        if i is None:
            continue
        seq = sealed.seqs[i]
        field = sealed.fields.get(seq)
        if field is None:  # (no ciphertext, or a malformed one: said above, or by the entry's own check)
            continue
        round_signature = claims.rounds[claims.owners[k]]
        assert round_signature is not None
        round_number, signature = round_signature
        if plaintext is None:
            part.failures.append(
                (
                    k,
                    f"its timelock plaintext cannot be formed (longer than {protocol.TLOCK_PLAINTEXT_BYTES} bytes), so sealed entry {seq}'s tlock ciphertext cannot hold it",
                )
            )
            continue
        try:
            opened = tlock.open_sealed(field, round_number, signature)
        except tlock.TlockError as exc:
            part.failures.append(
                (
                    k,
                    f"sealed entry {seq}'s tlock ciphertext does not open with the signature of round {round_number} ({exc})",
                )
            )
            continue
        if opened != plaintext:
            part.failures.append(
                (
                    k,
                    f"sealed entry {seq}'s tlock ciphertext opens to something other than this opening's timelock plaintext",
                )
            )
        else:
            part.opened += 1


def merge_parts(
    claims: Sequence[Claims],
    claim_set: ClaimSet,
    parts: Sequence[JoinPart],
    *,
    kept: Sequence[tuple[str, int, Sequence[int]]] = (),
) -> Joined:
    """The shards' parts of the join, together: each failing claim in its notice's report
    (in claim order, so that the report is the same however the log was split), the log's
    problems, the sealed entries pending; and the claims on no sealed entry read (a state
    file's pending ones are a part too): claimed by a notice that a state file keeps
    (``kept``: (notice_id, opening seq, claimed seqs), joined before), or no sealed entry."""
    joined = Joined(
        sealed=sum(p.sealed for p in parts),
        claimed=sum(p.claimed for p in parts),
        opened=sum(p.opened for p in parts),
    )
    starts = list(itertools.accumulate((len(c.seqs) for c in claims), initial=0))
    failures: list[tuple[int, str]] = []
    doubles: dict[int, list[int]] = {}
    for part in parts:
        failures.extend(part.failures)
        doubles.update(part.doubles)
        joined.problems.extend(part.problems)
        joined.pending.extend(part.pending)
    total = len(claim_set.seqs)
    if sum(len(p.matched) for p in parts) < total:
        matched: set[int] = set()
        for part in parts:
            matched.update(part.matched)
        unknown: dict[int, list[int]] = {}
        for k in itertools.filterfalse(matched.__contains__, range(total)):
            unknown.setdefault(claim_set.seqs[k], []).append(k)
        earlier: dict[int, list[tuple[int, str]]] = {}
        for notice_id, opening_seq, claimed in kept:
            for seq in unknown.keys() & set(claimed):
                earlier.setdefault(seq, []).append((opening_seq, notice_id))
        for seq, ks in unknown.items():
            who = earlier.get(seq, []) + [
                (claims[claim_set.owners[k]].opening_seq, claims[claim_set.owners[k]].notice_id) for k in ks
            ]
            if len(who) > 1:
                _double(joined, seq, who)
            if seq not in earlier:  # (else a sealed entry an earlier verification saw opened: opened again)
                failures.extend((k, f"entry {seq} is not a bid.sealed entry") for k in ks)
    for seq, ks in doubles.items():
        _double(
            joined,
            seq,
            [(claims[claim_set.owners[k]].opening_seq, claims[claim_set.owners[k]].notice_id) for k in ks],
        )
    failures.sort(key=lambda failure: failure[0])
    for k, message in failures:
        claim = claims[claim_set.owners[k]]
        label = claim.label(k - starts[claim_set.owners[k]])
        joined.notice_problems.setdefault(claim.notice_id, []).append(
            Problem(f"{label}: {message}", seq=claim.opening_seq)
        )
    joined.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return joined


def _double(joined: Joined, seq: int, who: list[tuple[int, str]]) -> None:
    named = ", ".join(f"notice {notice_id} (entry {opening_seq})" for opening_seq, notice_id in sorted(who))
    joined.problems.append(
        Problem(f"sealed entry {seq} is claimed by more than one opening: {named}", seq=seq)
    )


def join_sealed(
    sealed: Sealed,
    claims: Sequence[Claims],
    *,
    log_time: str,
    complete: bool = True,
    kept: Sequence[tuple[str, int, Sequence[int]]] = (),
) -> Joined:
    """The whole join in one call (``join_part`` over ``sealed``, then ``merge_parts``):
    MSP/2 section 7.6, every claim against the sealed entries, each sealed entry opened
    once or pending."""
    claim_set = ClaimSet.of(claims)
    return merge_parts(
        claims, claim_set, [join_part(sealed, claim_set, log_time=log_time, complete=complete)], kept=kept
    )
