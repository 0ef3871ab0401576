"""The Market Selection Protocol, version 1 (MSP/1), as pure functions.

Everything a verifier needs to re-derive a selection offline lives here: canonical JSON,
the commitment, the draw, the RFC 9162 Merkle tree with its proofs, and C2SP checkpoints
and signed notes. Nothing here touches a database, a clock or a random source; the secret,
the nonces and the signing key are always passed in. The specification is
``selection-protocol.md``; its section 6 vectors are the unit tests of this module.

Two programs written from the specification alone must agree byte for byte, so every
function refuses input the specification does not define instead of guessing what a
caller meant.

Readings of the specification that its text leaves open, settled here (the section 6
vectors all recompute under them):

- Weights above 1 are accepted (vector V2 needs them) although MSP/1 entries carry weight
  1; holding production draws to weight 1 is the selection service's rule. Likewise
  ``bid_document`` takes a price or None, and which one a method needs is the caller's.
- ``lowest_price`` ranking: every candidate needs a price; prices of bidders that are not
  candidates (excluded bidders' standing bids) are ignored.
- Consistency from size 0 has an empty proof: it holds when the old root is H("") and
  says nothing about the new root (the empty tree is a prefix of every tree).
- A checkpoint is exactly the three lines of section 3: C2SP extension lines are refused,
  since MSP/1 defines none.
- The drand round formula takes whole Unix seconds; :func:`deadline_unix` rounds a
  deadline with a fraction up, so the round is still emitted at least an hour after it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# The protocol version new entries carry (``v``). MSP/1 entries stay valid for ever and are
# checked by MSP/1's rules; a notice's entries all carry its notice.published's version.
VERSION: Final = 2
VERSIONS: Final = (1, 2)

# ---------------------------------------------------------------------------------------
# Canonical JSON
# ---------------------------------------------------------------------------------------

# JSON numbers are IEEE doubles in most readers (JavaScript among them): beyond 2^53 two
# programs could read the same digits as different integers, so such values never enter.
MAX_SAFE_INTEGER: Final = 2**53 - 1

JSONValue = dict[str, Any] | list[Any] | str | int | bool | None


class CanonicalJSONError(ValueError):
    """A value that has no canonical JSON form under MSP/1, or bytes that are not one."""


def _child_path(path: str, key: str) -> str:
    # Plain keys read as `$.a.b`; anything else is quoted so the path stays unambiguous.
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _check_canonical(value: object, path: str) -> None:
    """Refuse, naming where it sits, anything that json.dumps would emit differently from
    RFC 8785 or that another reader could read back differently."""
    # bool before int: bool is a subclass of int, and true/false are fine as they are.
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(
                f"{path}: integer {value} is outside ±(2^53 - 1); "
                "canonical JSON readers may not read it back exactly"
            )
        return
    if isinstance(value, str):
        # A lone surrogate cannot be encoded as UTF-8, and ensure_ascii=False would
        # otherwise pass it through to a failing encode without saying where it was.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CanonicalJSONError(f"{path}: string holds a lone surrogate") from None
        return
    if isinstance(value, float):
        # Floats have no single decimal spelling across languages; money is integer fen.
        raise CanonicalJSONError(f"{path}: floats are not allowed ({value!r})")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(
                    f"{path}: object key {key!r} is a {type(key).__name__}, not a string"
                )
            # sort_keys orders by code point, RFC 8785 by UTF-16 unit: they agree only
            # on ASCII, so non-ASCII keys are refused rather than sorted two ways.
            if not key.isascii():
                raise CanonicalJSONError(f"{path}: object key {key!r} is not ASCII")
            _check_canonical(item, _child_path(path, key))
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_canonical(item, f"{path}[{index}]")
        return
    # Tuples, sets, datetimes, Decimals...: the caller converts them explicitly, so the
    # bytes never depend on how json.dumps happens to treat a type.
    raise CanonicalJSONError(f"{path}: values of type {type(value).__name__} are not allowed")


def canonical_json(value: JSONValue) -> bytes:
    """The canonical JSON bytes of ``value`` (section 1): RFC 8785 on the restricted data
    model, which for it is exactly sorted keys, no spaces, UTF-8 without escapes."""
    _check_canonical(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _refuse_float(text: str) -> Any:
    raise CanonicalJSONError(f"non-integer number {text} in canonical JSON")


def _refuse_constant(text: str) -> Any:
    raise CanonicalJSONError(f"{text} is not JSON")


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Parse one canonical JSON object, refusing bytes that are not exactly its canonical
    form (so that a stored entry has one spelling and one hash)."""
    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_constant)
    except CanonicalJSONError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CanonicalJSONError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CanonicalJSONError(f"expected a JSON object, got {type(value).__name__}")
    # Re-encoding catches everything else at once: spaces, key order, duplicate keys,
    # escapes such as \u00e9 or \/, and integers spelled 1e3 or -0.
    if canonical_json(value) != data:
        raise CanonicalJSONError("JSON is valid but not in canonical form")
    return value


# ---------------------------------------------------------------------------------------
# Primitives (section 1)
# ---------------------------------------------------------------------------------------

_U64_LIMIT: Final = 2**64
_U32_LIMIT: Final = 2**32
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def H(x: bytes) -> bytes:
    """SHA-256."""
    return hashlib.sha256(x).digest()


def sha256_hex(x: bytes) -> str:
    return hashlib.sha256(x).hexdigest()


def u32be(n: int) -> bytes:
    if not 0 <= n < _U32_LIMIT:
        raise ValueError(f"{n} does not fit in an unsigned 32-bit integer")
    return n.to_bytes(4, "big")


def U64(n: int) -> bytes:
    if not 0 <= n < _U64_LIMIT:
        raise ValueError(f"{n} does not fit in an unsigned 64-bit integer")
    return n.to_bytes(8, "big")


def LP(x: bytes | str) -> bytes:
    """Length-prefixed bytes: without the prefix, ("ab", "c") and ("a", "bc") would hash
    alike."""
    data = x.encode("utf-8") if isinstance(x, str) else x
    return u32be(len(data)) + data


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a public identifier (section 1), else raise ValueError."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not an id ([A-Za-z0-9._:-]{{1,64}})")
    return value


def _check_digest(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ValueError(f"{what} must be 32 raw bytes")
    return value


# ---------------------------------------------------------------------------------------
# Time (section 1): one spelling, so that entries holding times hash the same everywhere
# ---------------------------------------------------------------------------------------

_TS_PATTERN: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z"
)


def format_ts(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC. Naive datetimes are refused: guessing their
    zone would put a wrong time into a log that is never corrected in place."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: give a timezone-aware one")
    u = dt.astimezone(UTC)
    # Spelled out instead of strftime, whose %Y does not pad years below 1000 on glibc.
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}"
        f"T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"
    )


def parse_ts(s: str) -> datetime:
    """The aware UTC datetime that ``s`` spells; anything but the exact format is refused."""
    match = _TS_PATTERN.fullmatch(s) if isinstance(s, str) else None
    if match is None:
        raise ValueError(f"{s!r} is not a time of the form YYYY-MM-DDTHH:MM:SS.ffffffZ")
    year, month, day, hour, minute, second, micro = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError as exc:  # 2026-02-30, 25:00 and the like
        raise ValueError(f"{s!r} is not a valid time: {exc}") from None


def deadline_unix(dt: datetime) -> int:
    """A deadline as whole Unix seconds, rounded up so that the beacon round chosen from it
    is never emitted less than an hour after the real deadline."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: give a timezone-aware one")
    delta = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    whole = delta.days * 86400 + delta.seconds
    return whole + (1 if delta.microseconds else 0)


# ---------------------------------------------------------------------------------------
# Commitment, bids and eligibility (section 2, steps 1 to 3)
# ---------------------------------------------------------------------------------------

METHODS: Final = ("lottery", "lowest_price", "direct")
_NONCE_PATTERN: Final = re.compile(r"[0-9a-f]{32}")


def commitment(notice_id: str, secret: bytes) -> bytes:
    """``commit`` of step 1: binds the operator to the secret before any bid is seen."""
    check_id(notice_id, "notice_id")
    _check_digest(secret, "secret")
    return H(LP("msp/1/commit") + LP(notice_id) + LP(secret))


def bid_document(notice_id: str, bid_id: str, agency_id: str, price_fen: int | None, nonce_hex: str) -> bytes:
    """The canonical JSON of a bid (step 2). The nonce keeps a low-entropy price from being
    guessed back out of the published hash before the deadline."""
    check_id(notice_id, "notice_id")
    check_id(bid_id, "bid_id")
    check_id(agency_id, "agency_id")
    if price_fen is not None and (
        isinstance(price_fen, bool) or not isinstance(price_fen, int) or price_fen < 1
    ):
        raise ValueError(f"price_fen must be a positive integer or None, got {price_fen!r}")
    if not isinstance(nonce_hex, str) or not _NONCE_PATTERN.fullmatch(nonce_hex):
        raise ValueError("nonce must be 16 bytes in lowercase hex")
    return canonical_json(
        {
            "notice_id": notice_id,
            "bid_id": bid_id,
            "agency_id": agency_id,
            "price_fen": price_fen,
            "nonce": nonce_hex,
        }
    )


def bid_sha256(doc: bytes) -> str:
    return sha256_hex(doc)


# ---------------------------------------------------------------------------------------
# Sealed bids (MSP/2, docs/protocol/msp.md section 2 step 2): entries that link to nothing
# ---------------------------------------------------------------------------------------

# The longest bid window publishing allows (deadline - publication time, also after an
# amendment). A sealed entry names no notice, so a verifier knows only this about when it
# must have been opened: within the window and the grace below of being logged.
MAX_BID_WINDOW_SECONDS: Final = 90 * 86400
# How long after the longest window a sealed entry may wait for its opening (a close that
# the server owes but has not yet written, e.g. after an outage).
OPENING_GRACE_SECONDS: Final = 7 * 86400
SALT_BYTES: Final = 32
SEALED_TYPE: Final = "bid.sealed"
SEALINGS: Final = ("server", "tlock")
# A tlock plaintext is padded to exactly this many bytes, so that its ciphertext's length
# says nothing about the price or the ids.
TLOCK_PLAINTEXT_BYTES: Final = 512


def bid_document_v2(notice_id: str, bid_id: str, agency_id: str, price_fen: int | None) -> bytes:
    """The canonical JSON of an MSP/2 bid: MSP/1's without the nonce, whose work (hiding a
    guessable price) the commitment's salt does."""
    check_id(notice_id, "notice_id")
    check_id(bid_id, "bid_id")
    check_id(agency_id, "agency_id")
    if price_fen is not None and (
        isinstance(price_fen, bool)
        or not isinstance(price_fen, int)
        or not 1 <= price_fen <= MAX_SAFE_INTEGER
    ):
        raise ValueError(f"price_fen must be a positive integer or None, got {price_fen!r}")
    return canonical_json(
        {"notice_id": notice_id, "bid_id": bid_id, "agency_id": agency_id, "price_fen": price_fen}
    )


def _check_salt(salt: bytes) -> bytes:
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
        raise ValueError(f"a salt is {SALT_BYTES} raw bytes")
    return salt


def bid_commitment(salt: bytes, document: bytes) -> bytes:
    """What a ``bid.sealed`` entry of a bid holds: hides the document (the salt is secret
    until the opening) and binds it (the document cannot change after)."""
    _check_salt(salt)
    if not isinstance(document, bytes) or not document:
        raise ValueError("the bid document is its canonical JSON bytes")
    return H(LP("msp/2/bid") + LP(salt) + LP(document))


def withdrawal_commitment(salt: bytes, bid_commitment_value: bytes) -> bytes:
    """What a ``bid.sealed`` entry of a withdrawal holds: binds the withdrawal to the one
    bid it withdraws, and looks like any other sealed entry until the opening."""
    _check_salt(salt)
    _check_digest(bid_commitment_value, "bid commitment")
    return H(LP("msp/2/withdrawal") + LP(salt) + LP(bid_commitment_value))


def opening(document: bytes, salt: bytes, seq: int, withdrawn: tuple[bytes, int] | None) -> dict[str, Any]:
    """One element of ``openings`` (``bidding.closed`` and ``notice.cancelled`` of MSP/2):
    the bid document, its salt and the seq of its sealed entry, and the withdrawal's salt
    and seq if it was withdrawn. ``document`` is the bid document's canonical bytes."""
    _check_salt(salt)
    _check_seq(seq)
    doc = parse_canonical(document)
    result: dict[str, Any] = {"bid": doc, "salt": salt.hex(), "seq": seq, "withdrawn": None}
    if withdrawn is not None:
        w_salt, w_seq = withdrawn
        _check_salt(w_salt)
        _check_seq(w_seq)
        if w_seq <= seq:
            raise ValueError("a withdrawal is logged after the bid it withdraws")
        result["withdrawn"] = {"salt": w_salt.hex(), "seq": w_seq}
    return result


def _check_seq(seq: int) -> int:
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SAFE_INTEGER:
        raise ValueError(f"seq {seq!r} is not a log index")
    return seq


def tlock_plaintext(salt: bytes, *, document: bytes | None = None, withdraws: bytes | None = None) -> bytes:
    """What a sealed entry's ``tlock`` ciphertext encrypts: the canonical JSON of
    ``{"bid": document, "pad", "salt"}`` for a bid, or ``{"pad", "salt", "withdraws":
    commitment}`` for a withdrawal, with ``pad`` a string of spaces that makes it exactly
    TLOCK_PLAINTEXT_BYTES long."""
    _check_salt(salt)
    if (document is None) == (withdraws is None):
        raise ValueError("a tlock plaintext holds a bid document or a withdrawn commitment")
    body: dict[str, Any] = {"pad": "", "salt": salt.hex()}
    if document is not None:
        body["bid"] = parse_canonical(document)
    else:
        body["withdraws"] = _check_digest(withdraws, "withdrawn commitment").hex()  # type: ignore[arg-type]
    short = TLOCK_PLAINTEXT_BYTES - len(canonical_json(body))
    if short < 0:
        raise ValueError(f"a tlock plaintext is at most {TLOCK_PLAINTEXT_BYTES} bytes")
    body["pad"] = " " * short
    return canonical_json(body)


def tlock_round(deadline_unix: int) -> int:
    """The drand quicknet round a notice's sealed entries are timelocked to: the first one
    emitted at or after the deadline, ceil((D - genesis) / 3) + 1."""
    if isinstance(deadline_unix, bool) or not isinstance(deadline_unix, int):
        raise ValueError("deadline_unix must be an integer number of seconds")
    offset = deadline_unix - QUICKNET_GENESIS
    if offset < 0:
        raise ValueError("deadline is before drand quicknet existed")
    return -(-offset // QUICKNET_PERIOD) + 1


def canonical_candidates(candidates: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """Candidates in canonical order (by the UTF-8 bytes of agency_id), checked: ids valid
    and distinct, weights integers >= 1. Both the eligibility digest and the draw walk
    this order, so callers may pass candidates in any order."""
    checked = [(agency_id, weight) for agency_id, weight in candidates]
    match = ID_PATTERN.fullmatch  # the checks written out: a draw checks 10,000 of them, thrice
    for agency_id, weight in checked:
        if type(agency_id) is not str or match(agency_id) is None:
            check_id(agency_id, "agency_id")  # raises, with the message (or passes a str subclass)
        if type(weight) is not int or weight < 1:  # bool is an int subclass, and refused
            raise ValueError(f"weight of {agency_id} must be an integer >= 1, got {weight!r}")
    # Ids are ASCII (check_id), and UTF-8 keeps code point order anyway: sorting the
    # strings is sorting their UTF-8 bytes, without encoding each one.
    checked.sort(key=_first)
    if len({agency_id for agency_id, _ in checked}) != len(checked):
        for before, after in zip(checked, checked[1:]):
            if before[0] == after[0]:
                raise ValueError(f"agency {before[0]} is a candidate twice")
    return checked


def _first(pair: tuple[str, int]) -> str:
    return pair[0]


def eligible_digest(candidates: Iterable[tuple[str, int]]) -> bytes:
    """``eligible`` of step 3: the count is in the hash so no list is a prefix of another."""
    return eligible_digest_of_ordered(canonical_candidates(candidates))


def eligible_digest_of_ordered(ordered: list[tuple[str, int]]) -> bytes:
    """``eligible_digest`` of candidates already checked and sorted as
    ``canonical_candidates`` does (the verifier has checked them itself, with its own
    messages, and would otherwise check them twice more)."""
    parts = [LP("msp/1/eligible"), u32be(len(ordered))]
    for agency_id, weight in ordered:
        raw = agency_id.encode("utf-8")  # LP(agency_id) written out; ids are at most 64 bytes
        parts.append(len(raw).to_bytes(4, "big") + raw + U64(weight))
    return H(b"".join(parts))


# ---------------------------------------------------------------------------------------
# Beacon (section 2, steps 1 and 4)
# ---------------------------------------------------------------------------------------

QUICKNET_GENESIS: Final = 1692803367
QUICKNET_PERIOD: Final = 3
_BEACON_DELAY: Final = 3600  # an hour after the deadline: late enough that no bid can react
SCHEME_NONE: Final = "none"
_QUICKNET_PREFIX: Final = "drand/quicknet/"


def drand_quicknet_round(deadline_unix: int) -> int:
    """The first quicknet round emitted at least an hour after the deadline:
    ceil((D + 3600 - genesis) / 3) + 1, in integer arithmetic to stay exact."""
    if isinstance(deadline_unix, bool) or not isinstance(deadline_unix, int):
        raise ValueError("deadline_unix must be an integer number of seconds")
    offset = deadline_unix + _BEACON_DELAY - QUICKNET_GENESIS
    if offset < 0:
        raise ValueError("deadline is before drand quicknet existed")
    return -(-offset // QUICKNET_PERIOD) + 1


def round_emitted_unix(round_number: int) -> int:
    """When quicknet emits ``round_number``, in Unix seconds: genesis + (round - 1) * period."""
    return QUICKNET_GENESIS + (round_number - 1) * QUICKNET_PERIOD


def scheme_for(beacon: str, deadline_unix: int) -> str:
    """The ``scheme`` to commit to for a notice: ``beacon`` is the configured source,
    ``none`` or ``drand/quicknet``."""
    if beacon == SCHEME_NONE:
        return SCHEME_NONE
    if beacon == "drand/quicknet":
        return f"{_QUICKNET_PREFIX}{drand_quicknet_round(deadline_unix)}"
    raise ValueError(f"unknown beacon {beacon!r}: expected 'none' or 'drand/quicknet'")


def scheme_round(scheme: str) -> int | None:
    """The drand round a scheme commits to, None for ``none``; other schemes are refused."""
    if scheme == SCHEME_NONE:
        return None
    if scheme.startswith(_QUICKNET_PREFIX):
        digits = scheme.removeprefix(_QUICKNET_PREFIX)
        # Digits only, no leading zero: one round, one spelling.
        if re.fullmatch(r"[1-9][0-9]*", digits):
            return int(digits)
    raise ValueError(f"unknown scheme {scheme!r}")


def beacon_value(signature: bytes) -> bytes:
    """drand's randomness for a round is SHA-256 of its signature; hashing it ourselves
    means a verifier needs only the signature to check it."""
    if not signature:
        raise ValueError("empty beacon signature")
    return H(signature)


# ---------------------------------------------------------------------------------------
# Seed and draw (section 2, steps 4 to 6)
# ---------------------------------------------------------------------------------------


def seed(notice_id: str, attempt: int, secret: bytes, eligible: bytes, scheme: str, beacon: bytes) -> bytes:
    """The draw's seed: depends on every input that must not change after the fact."""
    check_id(notice_id, "notice_id")
    _check_digest(secret, "secret")
    _check_digest(eligible, "eligible")
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    # The beacon must agree with the committed scheme, or a seed could be computed with a
    # beacon the notice never promised (or without the one it did).
    if scheme_round(scheme) is None:
        if beacon != b"":
            raise ValueError("scheme 'none' takes an empty beacon")
    else:
        _check_digest(beacon, "beacon")
    return H(
        LP("msp/1/seed") + LP(notice_id) + U64(attempt) + LP(secret) + LP(eligible) + LP(scheme) + LP(beacon)
    )


# HMAC's pads as byte translations: key XOR 0x36 (0x5C) in one call, not a loop per byte.
_XOR_36: Final = bytes(b ^ 0x36 for b in range(256))
_XOR_5C: Final = bytes(b ^ 0x5C for b in range(256))


class U64Stream:
    """The deterministic generator of step 5: x_j = first 8 bytes of
    HMAC-SHA256(seed, "msp/1/u64" || U64(j)), j counting every value taken."""

    _TAG: Final = b"msp/1/u64"  # bare: the specification puts no length prefix here

    def __init__(self, seed: bytes) -> None:
        # HMAC (RFC 2104) with both padded keys hashed once and copied per value: the same
        # MAC as hmac.new(seed, tag + U64(j), sha256), at a third of its cost per value.
        key = _check_digest(seed, "seed").ljust(64, b"\0")
        self._inner = hashlib.sha256(key.translate(_XOR_36) + self._TAG)
        self._outer = hashlib.sha256(key.translate(_XOR_5C))
        self._j = 0

    @property
    def taken(self) -> int:
        """How many values have been taken, rejected ones included."""
        return self._j

    def next(self) -> int:
        inner = self._inner.copy()
        inner.update(U64(self._j))
        outer = self._outer.copy()
        outer.update(inner.digest())
        self._j += 1
        return int.from_bytes(outer.digest()[:8], "big")

    def below(self, n: int) -> int:
        """Uniform in [0, n): values at or above the largest multiple of n are rejected,
        since ``x mod n`` over them would favour the small results. (``next`` written out:
        a draw among 10,000 candidates takes 10,000 of these.)"""
        if not 1 <= n <= _U64_LIMIT:
            raise ValueError(f"below({n}) needs 1 <= n <= 2^64")
        limit = _U64_LIMIT - (_U64_LIMIT % n)
        inner0, outer0 = self._inner, self._outer
        while True:
            j = self._j
            inner = inner0.copy()
            inner.update(j.to_bytes(8, "big"))  # U64(j); raises past 2^64 - 1 as U64 does
            outer = outer0.copy()
            outer.update(inner.digest())
            self._j = j + 1
            x = int.from_bytes(outer.digest()[:8], "big")
            if x < limit:
                return x % n


def draw_order(seed: bytes, candidates: Iterable[tuple[str, int]]) -> list[str]:
    """``order`` of step 5: a weighted draw without replacement, walking the remaining
    candidates in canonical order each time.

    The walk itself is O(n) per pick, O(n^2) in all: 3.6 s for 10,000 candidates
    (ops/bench/draw.py). The same candidate is found in O(log n) with prefix sums of the
    weights over the canonical order (a Fenwick tree): the first remaining candidate whose
    running total exceeds ``t`` is the first position whose prefix sum exceeds ``t``, removed
    ones weighing 0. With every weight 1 (this version of the protocol) that position is
    simply the ``t``-th remaining one. ``draw_order_by_walking`` is the specification's
    wording, kept for the tests to compare against."""
    return draw_order_of_ordered(seed, canonical_candidates(candidates))


def draw_order_of_ordered(seed: bytes, remaining: list[tuple[str, int]]) -> list[str]:
    """``draw_order`` of candidates already checked and sorted as ``canonical_candidates``
    does (see ``eligible_digest_of_ordered``)."""
    stream = U64Stream(seed)
    if all(weight == 1 for _, weight in remaining):
        ids = [agency_id for agency_id, _ in remaining]
        return [ids.pop(stream.below(len(ids))) for _ in range(len(remaining))]
    n = len(remaining)
    tree = [0] * (n + 1)  # tree[i]: the sum of weights over (i - lowbit(i), i]
    for i, (_, weight) in enumerate(remaining, start=1):
        tree[i] += weight
        parent = i + (i & -i)
        if parent <= n:
            tree[parent] += tree[i]
    top = 1 << n.bit_length()
    total = sum(weight for _, weight in remaining)
    order: list[str] = []
    for _ in range(n):
        t = stream.below(total)
        position, rest, step = 0, t, top
        while step:  # the last position whose prefix sum is <= t; the next one is drawn
            probe = position + step
            if probe <= n and tree[probe] <= rest:
                position, rest = probe, rest - tree[probe]
            step >>= 1
        agency_id, weight = remaining[position]
        order.append(agency_id)
        total -= weight
        i = position + 1
        while i <= n:
            tree[i] -= weight
            i += i & -i
    return order


def draw_steps(
    notice_id: str,
    attempt: int,
    secret: bytes,
    candidates: Iterable[tuple[str, int]],
    scheme: str,
    beacon: bytes,
) -> tuple[bytes, bytes, list[str]]:
    """Steps 3 to 5 at once, ``(eligible, seed, order)``, the candidates checked and sorted
    once rather than by each step (a third of a 10,000-candidate draw's time)."""
    ordered = canonical_candidates(candidates)
    eligible = eligible_digest_of_ordered(ordered)
    drawn_seed = seed(notice_id, attempt, secret, eligible, scheme, beacon)
    return eligible, drawn_seed, draw_order_of_ordered(drawn_seed, ordered)


def draw_order_by_walking(seed: bytes, candidates: Iterable[tuple[str, int]]) -> list[str]:
    """Step 5 as the specification words it (O(n^2)); the reference for draw_order."""
    remaining = canonical_candidates(candidates)
    stream = U64Stream(seed)
    order: list[str] = []
    while remaining:
        t = stream.below(sum(weight for _, weight in remaining))
        running = 0
        for position, (agency_id, weight) in enumerate(remaining):
            running += weight
            if running > t:
                order.append(agency_id)
                del remaining[position]
                break
    return order


def rank(method: str, order: Sequence[str], prices: dict[str, int] | None) -> list[str]:
    """``ranking`` of step 6. ``prices`` maps agency_id to price_fen; it must cover every
    candidate for ``lowest_price`` and may hold other bidders, which are ignored."""
    if method == "lottery":
        return list(order)
    if method == "lowest_price":
        if prices is None:
            raise ValueError("lowest_price needs prices")
        for agency_id in order:
            price = prices.get(agency_id)
            if isinstance(price, bool) or not isinstance(price, int) or price < 1:
                raise ValueError(f"{agency_id} has no positive integer price: {price!r}")
        # The draw, not the alphabet, breaks ties: ids would favour some agencies forever.
        # Python's sort is stable, so sorting ``order`` by price alone keeps tied agencies in
        # their drawn order.
        return sorted(order, key=prices.__getitem__)
    raise ValueError(f"method {method!r} has no ranking (direct selection does not draw)")


def split_winners(ranking: Sequence[str], k: int) -> tuple[list[str], list[str]]:
    """The first ``k`` of the ranking win; the rest are alternates, in ranking order."""
    if k < 1:
        raise ValueError("k counts winners and is at least 1")
    return list(ranking[:k]), list(ranking[k:])


# ---------------------------------------------------------------------------------------
# Merkle tree (section 3, RFC 9162 section 2.1)
# ---------------------------------------------------------------------------------------

EMPTY_ROOT: Final = H(b"")
# The 0x00 / 0x01 prefixes keep a leaf from ever being passed off as an inner node.
_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"

Range = tuple[int, int]  # [start, end) in leaf indexes
RangeHasher = Callable[[int, int], bytes]  # MTH of the leaves in [start, end)


def leaf_hash(entry: bytes) -> bytes:
    return H(_LEAF + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    return H(_NODE + left + right)


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2): where RFC 9162 splits."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the leaves. A stack of perfect subtrees instead of the recursive definition:
    O(n) time and O(log n) memory, so a million leaves is no trouble."""
    stack: list[tuple[int, bytes]] = []  # (level, hash); levels strictly decrease
    for h in leaf_hashes:
        level, node = 0, h
        while stack and stack[-1][0] == level:
            node = node_hash(stack.pop()[1], node)
            level += 1
        stack.append((level, node))
    return _fold_right([h for _, h in stack])


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """Root of a tree whose right edge holds these perfect subtrees, largest first: the
    RFC splits off the largest power of two each time, which is exactly this fold."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


def perfect_pieces(start: int, end: int) -> list[Range]:
    """The perfect subtrees, largest first, whose right fold is the MTH of [start, end):
    one per set bit of the range's length. For every range the proof functions return
    they are also aligned (start a multiple of their size), so a store that keeps the hash
    of every aligned perfect subtree can hash any such range without reading leaves."""
    if not 0 <= start <= end:
        raise ValueError(f"bad range [{start}, {end})")
    pieces: list[Range] = []
    position, remaining = start, end - start
    while remaining:
        size = 1 << (remaining.bit_length() - 1)
        pieces.append((position, position + size))
        position += size
        remaining -= size
    return pieces


def hash_range(start: int, end: int, perfect_hash: RangeHasher) -> bytes:
    """MTH of [start, end) from the hashes of its perfect pieces."""
    return _fold_right([perfect_hash(s, e) for s, e in perfect_pieces(start, end)])


def subtree_ranges_for_inclusion(index: int, size: int) -> list[Range]:
    """The ranges whose MTHs, in order, are the inclusion proof of leaf ``index`` in the
    tree of ``size`` leaves (RFC 9162 2.1.3.1 PATH), the sibling nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of {size} leaves")
    siblings: list[Range] = []
    lo, hi = 0, size
    # Walk down from the root; the recursion appends each sibling after the deeper path,
    # so the list comes out reversed.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo = lo + k
    siblings.reverse()
    return siblings


def subtree_ranges_for_consistency(first: int, second: int) -> list[Range]:
    """The ranges whose MTHs, in order, are the consistency proof from ``first`` to
    ``second`` leaves (RFC 9162 2.1.4.1 PROOF / SUBPROOF); empty when first is 0 or equal
    to second, as section 4 of the specification says."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first == 0 or first == second:
        return []
    siblings: list[Range] = []
    lo, hi, m = 0, second, first
    whole_old_tree = True  # SUBPROOF's b: the old root is known, so it is not sent
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo, m = lo + k, m - k
            whole_old_tree = False
    head = [] if whole_old_tree else [(lo, hi)]
    siblings.reverse()
    return head + siblings


def _leaf_range_hasher(leaf_hashes: Sequence[bytes]) -> RangeHasher:
    return lambda start, end: root_from_leaf_hashes(leaf_hashes[start:end])


def _check_size(leaf_hashes: Sequence[bytes], size: int) -> None:
    if size > len(leaf_hashes):
        raise ValueError(f"tree size {size} exceeds the {len(leaf_hashes)} leaves given")


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Inclusion proof from leaves in memory; a store uses the ranges with its own hasher."""
    _check_size(leaf_hashes, size)
    hasher = _leaf_range_hasher(leaf_hashes)
    return [hasher(s, e) for s, e in subtree_ranges_for_inclusion(index, size)]


def consistency_proof(leaf_hashes: Sequence[bytes], first: int, second: int) -> list[bytes]:
    """Consistency proof from leaves in memory; a store uses the ranges with its own hasher."""
    _check_size(leaf_hashes, second)
    hasher = _leaf_range_hasher(leaf_hashes)
    return [hasher(s, e) for s, e in subtree_ranges_for_consistency(first, second)]


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2, step by step."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False  # more hashes than the tree has levels
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, step by step, plus the two trivial cases the specification
    defines with an empty proof (first = 0, where the old root must be H(""), and
    first = second, where the roots must be equal)."""
    if not 0 <= first <= second:
        return False
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # first is a power of two: its root is on the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class Frontier:
    """The right edge of the tree (a "compact range"): the roots of its perfect subtrees,
    largest first. That is all a store must keep to append a leaf in O(log n) and to know
    the root, without reading the log back."""

    def __init__(self) -> None:
        self._size = 0
        self._nodes: list[tuple[int, bytes]] = []  # (level, hash); a level-l node has 2^l leaves

    @property
    def size(self) -> int:
        return self._size

    @property
    def nodes(self) -> list[tuple[int, bytes]]:
        return list(self._nodes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; return every perfect subtree it completes as (start, end, hash),
        the leaf itself first, so a store can keep them for proofs."""
        _check_digest(leaf_hash, "leaf hash")
        start = self._size
        completed = [(start, start + 1, leaf_hash)]
        level, node = 0, leaf_hash
        while self._nodes and self._nodes[-1][0] == level:
            node = node_hash(self._nodes.pop()[1], node)
            level += 1
            completed.append((start + 1 - (1 << level), start + 1, node))
        self._nodes.append((level, node))
        self._size += 1
        return completed

    def root(self) -> bytes:
        return _fold_right([h for _, h in self._nodes])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for canonical_json or a JSON column)."""
        return {
            "size": self._size,
            "nodes": [[level, h.hex()] for level, h in self._nodes],
        }

    @classmethod
    def from_nodes(cls, size: int, hashes: Sequence[bytes]) -> Frontier:
        """A frontier from its hashes, largest subtree first (as a store keeps them)."""
        levels = [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
        if size < 0 or len(hashes) != len(levels) or any(len(h) != 32 for h in hashes):
            raise ValueError(f"{len(hashes)} hashes do not make the right edge of a tree of {size} leaves")
        frontier = cls()
        frontier._size = size
        frontier._nodes = [(level, bytes(h)) for level, h in zip(levels, hashes, strict=True)]
        return frontier

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Frontier:
        """Rebuild a frontier, refusing one whose levels do not spell out its size (a
        corrupt frontier would silently give every later root wrong)."""
        try:
            size = data["size"]
            nodes = [(level, bytes.fromhex(h)) for level, h in data["nodes"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a frontier: {exc}") from None
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError("frontier size must be a non-negative integer")
        expected = [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
        if [level for level, _ in nodes] != expected:
            raise ValueError(f"frontier levels do not match size {size}")
        if any(len(h) != 32 for _, h in nodes):
            raise ValueError("frontier hashes must be 32 bytes")
        frontier = cls()
        frontier._size = size
        frontier._nodes = nodes
        return frontier


# ---------------------------------------------------------------------------------------
# Checkpoints and signed notes (section 3, C2SP tlog-checkpoint and signed-note)
# ---------------------------------------------------------------------------------------

_ED25519: Final = b"\x01"  # signed-note signature type of Ed25519
_EM_DASH: Final = "\u2014"
_MAX_SIGNATURES: Final = 100  # as Go's note package: bounds the work a hostile note causes


class NoteError(ValueError):
    """A signed note or checkpoint that is malformed or does not verify."""


def _check_origin(origin: str) -> str:
    # The verifier key is split at '+', and signature lines at spaces.
    if not origin or "+" in origin or any(c.isspace() for c in origin):
        raise ValueError(f"origin {origin!r} must be non-empty, without '+' or white space")
    return origin


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict standard base64: padding required, no stray characters, one spelling."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError(f"{text!r} is not base64") from None
    if _b64(data) != text:  # non-zero padding bits would give two spellings
        raise ValueError(f"{text!r} is not canonical base64")
    return data


def _public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    _check_origin(origin)
    if size < 0:
        raise ValueError("size must not be negative")
    _check_digest(root, "root")
    return f"{origin}\n{size}\n{_b64(root)}\n"


def parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint body; anything but the three lines is refused."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) != 3:
        raise NoteError(f"checkpoint must have 3 lines, has {len(lines)}")
    origin, size_text, root_text = lines
    try:
        _check_origin(origin)
    except ValueError as exc:
        raise NoteError(str(exc)) from None
    # Decimal, no sign, no leading zero: one size, one spelling.
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
        raise NoteError(f"checkpoint size {size_text!r} is not a decimal number")
    try:
        root = _unb64(root_text)
    except ValueError as exc:
        raise NoteError(str(exc)) from None
    if len(root) != 32:
        raise NoteError("checkpoint root must be 32 bytes")
    return origin, int(size_text), root


def key_id(origin: str, public_key: bytes) -> bytes:
    """The 4-byte key id of signed-note: names the key in signature lines so a reader can
    pick the line to check."""
    return H(origin.encode("utf-8") + b"\n" + _ED25519 + public_key)[:4]


def verifier_key(origin: str, public_key: bytes) -> str:
    _check_origin(origin)
    if len(public_key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return f"{origin}+{key_id(origin, public_key).hex()}+{_b64(_ED25519 + public_key)}"


def parse_verifier_key(line: str) -> tuple[str, bytes, bytes]:
    """(origin, key id, public key) of a verifier key line, checked for consistency."""
    line = line.removesuffix("\n")  # served as text/plain, often with a final newline
    parts = line.split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key must be <origin>+<key id>+<key>")
    origin, id_hex, key_text = parts
    try:
        _check_origin(origin)
        key = _unb64(key_text)
    except ValueError as exc:
        raise NoteError(str(exc)) from None
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise NoteError("verifier key id must be 8 lowercase hex digits")
    if len(key) != 33 or key[:1] != _ED25519:
        raise NoteError("verifier key is not an Ed25519 key")
    public_key = key[1:]
    if key_id(origin, public_key).hex() != id_hex:
        raise NoteError("verifier key id does not match its key")
    return origin, bytes.fromhex(id_hex), public_key


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    # Control characters could hide text from a human reading the note.
    if any(c < " " and c != "\n" for c in text):
        raise NoteError("note text holds control characters")
    try:
        text.encode("utf-8")  # signatures cover UTF-8 bytes: a lone surrogate has none
    except UnicodeEncodeError:
        raise NoteError("note text is not valid Unicode") from None


def sign_note(text: str, origin: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note: text, a blank line, one signature line (signature over the text's
    UTF-8 bytes, final newline included)."""
    _check_note_text(text)
    _check_origin(origin)
    public_key = _public_bytes(private_key.public_key())
    signature = private_key.sign(text.encode("utf-8"))
    return f"{text}\n{_EM_DASH} {origin} {_b64(key_id(origin, public_key) + signature)}\n"


def open_note(note: str, verifier_key_line: str) -> str:
    """The text of ``note`` once a signature by the given key verifies. Lines by other
    keys are skipped (a witness may co-sign); a bad line by this key is an error."""
    origin, want_id, public_key = parse_verifier_key(verifier_key_line)
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note")
    text, signature_block = note[: split + 1], note[split + 2 :]
    _check_note_text(text)
    lines = signature_block[:-1].split("\n") if signature_block else []
    if not lines:
        raise NoteError("note has no signatures")
    if len(lines) > _MAX_SIGNATURES:
        raise NoteError("note has too many signatures")
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    verified = False
    for line in lines:
        fields = line.split(" ")
        if len(fields) != 3 or fields[0] != _EM_DASH or not fields[1]:
            raise NoteError(f"malformed signature line {line!r}")
        _, name, blob_text = fields
        try:
            blob = _unb64(blob_text)
        except ValueError as exc:
            raise NoteError(str(exc)) from None
        if len(blob) < 5:
            raise NoteError("signature too short")
        if name != origin or blob[:4] != want_id:
            continue
        try:
            verifier.verify(blob[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise NoteError(f"signature by {origin} does not verify") from None
        verified = True
    if not verified:
        raise NoteError(f"no signature by {origin} with key id {want_id.hex()}")
    return text


def open_checkpoint(note: str, verifier_key_line: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a signed checkpoint, verified, whose origin is the key's."""
    key_origin = parse_verifier_key(verifier_key_line)[0]
    origin, size, root = parse_checkpoint(open_note(note, verifier_key_line))
    # A valid signature over another log's checkpoint must not pass for this log's.
    if origin != key_origin:
        raise NoteError(f"checkpoint origin {origin!r} is not the key's {key_origin!r}")
    return origin, size, root
