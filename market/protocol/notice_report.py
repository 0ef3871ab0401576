"""What the checks of a notice's story report, and the small pieces they share: problems,
the notice's report, the claims of an MSP/2 opening, the bids and objections a reader of
the log keeps, and the MSP/2 commitment helpers. Pure, as ``notice_checks``."""

from __future__ import annotations

import array
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from market import protocol
from market.protocol import entry_types

TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


@dataclass
class Problem:
    message: str
    seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "message": self.message}


# -- per-notice checks (MSP/1 section 5, and the award steps of docs/selection.md) ---------

BID_DOCUMENT_KEYS = frozenset({"notice_id", "bid_id", "agency_id", "price_fen", "nonce"})
# MSP/2 (docs/protocol/msp.md): a bid document without the nonce, an opening of it, and the
# types that exist under one version only.
BID_DOCUMENT_V2_KEYS = frozenset({"notice_id", "bid_id", "agency_id", "price_fen"})
OPENING_KEYS = frozenset({"bid", "salt", "seq", "withdrawn"})
WITHDRAWN_KEYS = frozenset({"salt", "seq"})
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
    return entry_type in entry_types.NOTICE_TYPES or (
        isinstance(entry_type, str) and entry_type.startswith("objection.")
    )


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


def is_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and protocol.ID_PATTERN.fullmatch(value) is not None


def _is_hex64(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and HEX64.fullmatch(value) is not None


def _is_int(value: Any, minimum: int) -> TypeGuard[int]:
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
    seqs: array.array  # 'q'
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
