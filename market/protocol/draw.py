"""MSP commitments, bid documents (MSP/1 and the sealed bids of MSP/2), eligibility, the
drand beacon, the seed and the draw, and the ranking (section 2). Pure: see ``market.protocol``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from market.protocol.encoding import (
    ID_PATTERN,
    LP,
    MAX_SAFE_INTEGER,
    U64,
    U64_LIMIT,
    H,
    canonical_json,
    check_digest,
    check_id,
    parse_canonical,
    sha256_hex,
    u32be,
)

# ---------------------------------------------------------------------------------------
# Commitment, bids and eligibility (section 2, steps 1 to 3)
# ---------------------------------------------------------------------------------------

METHODS: Final = ("lottery", "lowest_price", "direct")
_NONCE_PATTERN: Final = re.compile(r"[0-9a-f]{32}")


def commitment(notice_id: str, secret: bytes) -> bytes:
    """``commit`` of step 1: binds the operator to the secret before any bid is seen."""
    check_id(notice_id, "notice_id")
    check_digest(secret, "secret")
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
    check_digest(bid_commitment_value, "bid commitment")
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
        body["withdraws"] = check_digest(withdraws, "withdrawn commitment").hex()  # type: ignore[arg-type]
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
    check_digest(secret, "secret")
    check_digest(eligible, "eligible")
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    # The beacon must agree with the committed scheme, or a seed could be computed with a
    # beacon the notice never promised (or without the one it did).
    if scheme_round(scheme) is None:
        if beacon != b"":
            raise ValueError("scheme 'none' takes an empty beacon")
    else:
        check_digest(beacon, "beacon")
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
        key = check_digest(seed, "seed").ljust(64, b"\0")
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
        if not 1 <= n <= U64_LIMIT:
            raise ValueError(f"below({n}) needs 1 <= n <= 2^64")
        limit = U64_LIMIT - (U64_LIMIT % n)
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
