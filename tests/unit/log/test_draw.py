"""MSP/1 commitment, seed and draw: the section 6 vectors, then properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.protocol import (
    U64Stream,
    beacon_value,
    bid_document,
    bid_sha256,
    canonical_candidates,
    commitment,
    deadline_unix,
    drand_quicknet_round,
    draw_order,
    eligible_digest,
    rank,
    scheme_for,
    scheme_round,
    seed,
    split_winners,
)

FAST = settings(max_examples=200, deadline=None)

# --- V1, lottery, 5 candidates, no beacon ----------------------------------------------

V1_SECRET = bytes.fromhex("f9b04710fe955f048de2b05a6ec4613dc47cff7a6588548b7ef1a9b353e9fb80")
V1_CANDIDATES = [("AG-004", 1), ("AG-001", 1), ("AG-003", 1), ("AG-002", 1), ("AG-005", 1)]
V1_ELIGIBLE = "0a507616547e5a1b55368375c34a2a3b1cca95597f8ef1ac67263d620d696825"
V1_SEED = "f1a5980ef247c8c2abe130f08ed038fc561f7a2ef6b566fd897417e627901d86"


def test_lottery_vector_v1_commit_recomputes() -> None:
    assert (
        commitment("N-000001", V1_SECRET).hex()
        == "8b4100ae50d60f0212e01c6689c03896d9309929e85683643dda4a63e50c5e7e"
    )


def test_lottery_vector_v1_eligible_recomputes_from_unsorted_candidates() -> None:
    assert eligible_digest(V1_CANDIDATES).hex() == V1_ELIGIBLE


def test_lottery_vector_v1_seed_recomputes() -> None:
    s = seed("N-000001", 1, V1_SECRET, bytes.fromhex(V1_ELIGIBLE), "none", b"")
    assert s.hex() == V1_SEED


def test_lottery_vector_v1_first_generator_values_recompute() -> None:
    stream = U64Stream(bytes.fromhex(V1_SEED))
    assert [stream.next(), stream.next(), stream.next()] == [
        3265248225127950223,
        12782261845614957759,
        6258051043020832513,
    ]
    assert stream.taken == 3


def test_lottery_vector_v1_order_and_winner_recompute() -> None:
    order = draw_order(bytes.fromhex(V1_SEED), V1_CANDIDATES)
    assert order == ["AG-004", "AG-005", "AG-002", "AG-003", "AG-001"]
    ranking = rank("lottery", order, None)
    assert ranking == order
    assert split_winners(ranking, 1) == (["AG-004"], ["AG-005", "AG-002", "AG-003", "AG-001"])


# --- V2, weighted lottery, k = 2 --------------------------------------------------------


def test_weighted_lottery_vector_v2_recomputes() -> None:
    secret = bytes.fromhex("2279c535ca614e5374a1319081241483591546ea24b9fe59c8ccde4764c8d9df")
    candidates = [("AG-010", 1), ("AG-020", 2), ("AG-030", 3), ("AG-040", 4)]
    eligible = eligible_digest(candidates)
    assert eligible.hex() == "3655c6ea7ec88ec7a4d18a18f1f9adb34283a56b88c33851359bbfdc8161b64b"
    s = seed("N-000002", 1, secret, eligible, "none", b"")
    assert s.hex() == "892bb8ff76c30690ffad2bba0b3ec6a44dd2b4076ed91c87e6e2ffff6a256846"
    order = draw_order(s, candidates)
    assert order == ["AG-040", "AG-030", "AG-020", "AG-010"]
    assert split_winners(rank("lottery", order, None), 2) == (
        ["AG-040", "AG-030"],
        ["AG-020", "AG-010"],
    )


# --- V3, lowest price with a tie, drand quicknet round 657413 ------------------------------

V3_SIGNATURE = bytes.fromhex(
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
)
V3_PRICES = {"AG-101": 980000, "AG-102": 950000, "AG-103": 900000, "AG-104": 900000}


def test_lowest_price_vector_v3_beacon_is_hash_of_signature() -> None:
    assert (
        beacon_value(V3_SIGNATURE).hex() == "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"
    )


def test_lowest_price_vector_v3_recomputes_and_order_breaks_the_tie() -> None:
    secret = bytes.fromhex("12906dc71fbc3500a12ed35015bedc70b1a5617787fbd7a46b606166979a5d3a")
    candidates = [(agency, 1) for agency in V3_PRICES]
    eligible = eligible_digest(candidates)
    assert eligible.hex() == "3e29f18a9a7f0bd90234a639e98b0a5916a5fedbbe6ec85a8eb5d290111de5f5"
    scheme = "drand/quicknet/657413"
    assert scheme_round(scheme) == 657413
    s = seed("N-000003", 1, secret, eligible, scheme, beacon_value(V3_SIGNATURE))
    assert s.hex() == "7fe3d351c14f81199d25dbb2cc8c4b7301a1d25c6746cf6a3c9db355f6544edd"
    order = draw_order(s, candidates)
    assert order == ["AG-101", "AG-102", "AG-104", "AG-103"]
    ranking = rank("lowest_price", order, V3_PRICES)
    # AG-104 beats AG-103 at the same price because the draw put it first.
    assert ranking == ["AG-104", "AG-103", "AG-102", "AG-101"]
    assert split_winners(ranking, 1)[0] == ["AG-104"]


# --- bid document -----------------------------------------------------------------------


def test_bid_document_vector_bytes_and_hash() -> None:
    doc = bid_document("N-000003", "B-000017", "AG-102", 950000, "00112233445566778899aabbccddeeff")
    assert doc == (
        b'{"agency_id":"AG-102","bid_id":"B-000017",'
        b'"nonce":"00112233445566778899aabbccddeeff","notice_id":"N-000003","price_fen":950000}'
    )
    assert bid_sha256(doc) == "d8d8f44e01b5db1ade0b86a75e632c44504a5c4b64ccaf53639be26eb3cd0af7"


def test_lottery_bid_document_has_null_price() -> None:
    doc = bid_document("N-1", "B-1", "AG-1", None, "00" * 16)
    assert b'"price_fen":null' in doc


@pytest.mark.parametrize("price", [0, -5, 1.5, True, "100"])
def test_bid_document_refuses_a_price_that_is_not_a_positive_integer(price: object) -> None:
    with pytest.raises(ValueError):
        bid_document("N-1", "B-1", "AG-1", price, "00" * 16)  # type: ignore[arg-type]


@pytest.mark.parametrize("nonce", ["00" * 15, "00" * 17, "AA" * 16, "zz" * 16])
def test_bid_document_refuses_a_nonce_that_is_not_16_bytes_of_lowercase_hex(nonce: str) -> None:
    with pytest.raises(ValueError):
        bid_document("N-1", "B-1", "AG-1", 100, nonce)


def test_bid_document_refuses_an_id_outside_the_id_alphabet() -> None:
    with pytest.raises(ValueError):
        bid_document("N 1", "B-1", "AG-1", 100, "00" * 16)


# --- beacon round -------------------------------------------------------------------------


def test_drand_round_example_from_the_spec() -> None:
    deadline = datetime(2026, 12, 4, 9, 0, 0, tzinfo=UTC)
    assert drand_quicknet_round(deadline_unix(deadline)) == 34525012
    assert scheme_for("drand/quicknet", deadline_unix(deadline)) == "drand/quicknet/34525012"


def test_drand_round_is_the_first_emitted_at_least_an_hour_after_the_deadline() -> None:
    genesis = 1692803367
    for deadline in range(genesis, genesis + 10):
        r = drand_quicknet_round(deadline)
        emitted = genesis + (r - 1) * 3
        assert emitted >= deadline + 3600
        assert emitted - 3 < deadline + 3600


def test_deadline_with_a_fraction_rounds_up_so_the_round_stays_an_hour_later() -> None:
    whole = datetime(2026, 12, 4, 9, 0, 0, tzinfo=UTC)
    assert deadline_unix(whole) == 1796374800
    assert deadline_unix(whole + timedelta(microseconds=1)) == 1796374801
    assert deadline_unix(whole.astimezone(timezone(timedelta(hours=8)))) == 1796374800


def test_scheme_none_ignores_the_deadline() -> None:
    assert scheme_for("none", 0) == "none"
    assert scheme_round("none") is None


@pytest.mark.parametrize("scheme", ["drand/quicknet/0", "drand/quicknet/012", "drand/x/1", ""])
def test_unknown_or_misspelt_schemes_are_refused(scheme: str) -> None:
    with pytest.raises(ValueError):
        scheme_round(scheme)


def test_seed_refuses_a_beacon_that_disagrees_with_the_scheme() -> None:
    eligible = eligible_digest(V1_CANDIDATES)
    with pytest.raises(ValueError):
        seed("N-000001", 1, V1_SECRET, eligible, "none", b"\x00" * 32)
    with pytest.raises(ValueError):
        seed("N-000001", 1, V1_SECRET, eligible, "drand/quicknet/5", b"")


# --- candidates and ranking -------------------------------------------------------------


def test_candidates_are_ordered_by_utf8_bytes_of_agency_id() -> None:
    assert canonical_candidates([("b", 1), ("B", 1), ("a.1", 1), ("a-1", 1)]) == [
        ("B", 1),
        ("a-1", 1),
        ("a.1", 1),
        ("b", 1),
    ]


@pytest.mark.parametrize("weight", [0, -1, 1.0, True])
def test_a_weight_below_one_or_not_an_integer_is_refused(weight: object) -> None:
    with pytest.raises(ValueError):
        eligible_digest([("AG-1", weight)])  # type: ignore[list-item]


def test_a_candidate_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError):
        eligible_digest([("AG-1", 1), ("AG-1", 1)])


def test_eligible_digest_of_no_candidates_still_commits_to_the_count() -> None:
    assert eligible_digest([]) != eligible_digest([("AG-1", 1)])
    assert draw_order(bytes(32), []) == []


def test_lowest_price_needs_a_price_for_every_candidate_but_ignores_other_bidders() -> None:
    with pytest.raises(ValueError):
        rank("lowest_price", ["AG-1", "AG-2"], {"AG-1": 5})
    with pytest.raises(ValueError):
        rank("lowest_price", ["AG-1"], None)
    assert rank("lowest_price", ["AG-2", "AG-1"], {"AG-1": 5, "AG-2": 5, "AG-9": 1}) == [
        "AG-2",
        "AG-1",
    ]


def test_direct_selection_has_no_ranking() -> None:
    with pytest.raises(ValueError):
        rank("direct", ["AG-1"], None)


def test_more_winners_than_candidates_leaves_no_alternates() -> None:
    assert split_winners(["AG-1"], 3) == (["AG-1"], [])
    with pytest.raises(ValueError):
        split_winners(["AG-1"], 0)


# --- generator ----------------------------------------------------------------------------


def test_below_counts_rejected_values_as_taken() -> None:
    # With n just above 2^63 about half the values are rejected; j must still advance
    # for each, so a fresh stream's first accepted value is the first x below the limit.
    s = bytes.fromhex(V1_SEED)
    n = 2**63 + 1
    limit = 2**64 - (2**64 % n)
    reference = U64Stream(s)
    xs = [reference.next() for _ in range(64)]
    stream = U64Stream(s)
    results = [stream.below(n) for _ in range(5)]
    accepted = [x % n for x in xs if x < limit][:5]
    assert results == accepted
    assert stream.taken == [i for i, x in enumerate(xs) if x < limit][4] + 1


def test_below_one_is_always_zero_and_takes_one_value() -> None:
    stream = U64Stream(bytes(32))
    assert stream.below(1) == 0
    assert stream.taken == 1


@FAST
@given(seed_bytes=st.binary(min_size=32, max_size=32), n=st.integers(1, 2**64))
def test_below_is_always_less_than_n(seed_bytes: bytes, n: int) -> None:
    stream = U64Stream(seed_bytes)
    for _ in range(3):
        assert 0 <= stream.below(n) < n


agency_ids = st.from_regex(r"[A-Za-z0-9._:-]{1,12}", fullmatch=True)


@FAST
@given(
    seed_bytes=st.binary(min_size=32, max_size=32),
    candidates=st.dictionaries(agency_ids, st.integers(1, 10), max_size=30),
)
def test_draw_order_is_a_permutation_of_the_candidates(seed_bytes: bytes, candidates: dict[str, int]) -> None:
    order = draw_order(seed_bytes, list(candidates.items()))
    assert sorted(order) == sorted(candidates)


@FAST
@given(
    seed_bytes=st.binary(min_size=32, max_size=32),
    candidates=st.dictionaries(agency_ids, st.integers(1, 10), min_size=1, max_size=12),
)
def test_draw_order_does_not_depend_on_the_order_candidates_are_given_in(
    seed_bytes: bytes, candidates: dict[str, int]
) -> None:
    items = list(candidates.items())
    assert draw_order(seed_bytes, items) == draw_order(seed_bytes, items[::-1])


@FAST
@given(
    order=st.lists(agency_ids, unique=True, max_size=12),
    data=st.data(),
)
def test_lowest_price_ranking_sorts_by_price_then_by_draw_position(
    order: list[str], data: st.DataObject
) -> None:
    prices = {a: data.draw(st.integers(1, 3)) for a in order}
    ranking = rank("lowest_price", order, prices)
    assert sorted(ranking) == sorted(order)
    for before, after in zip(ranking, ranking[1:]):
        assert (prices[before], order.index(before)) < (prices[after], order.index(after))


# --- the seed depends on every input ---------------------------------------------------------


def _flip(data: bytes, position: int, mask: int) -> bytes:
    changed = bytearray(data)
    changed[position % len(data)] ^= mask
    return bytes(changed)


@FAST
@given(
    secret=st.binary(min_size=32, max_size=32),
    eligible=st.binary(min_size=32, max_size=32),
    beacon=st.binary(min_size=32, max_size=32),
    notice_id=st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True),
    other_id=st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True),
    position=st.integers(0, 31),
    mask=st.integers(1, 255),
)
def test_changing_any_byte_of_secret_eligible_beacon_or_notice_id_changes_the_seed(
    secret: bytes,
    eligible: bytes,
    beacon: bytes,
    notice_id: str,
    other_id: str,
    position: int,
    mask: int,
) -> None:
    scheme = "drand/quicknet/657413"
    base = seed(notice_id, 1, secret, eligible, scheme, beacon)
    variants = [
        seed(notice_id, 1, _flip(secret, position, mask), eligible, scheme, beacon),
        seed(notice_id, 1, secret, _flip(eligible, position, mask), scheme, beacon),
        seed(notice_id, 1, secret, eligible, scheme, _flip(beacon, position, mask)),
        seed(notice_id, 2, secret, eligible, scheme, beacon),
        seed(notice_id, 1, secret, eligible, "drand/quicknet/657414", beacon),
    ]
    if other_id != notice_id:
        variants.append(seed(other_id, 1, secret, eligible, scheme, beacon))
    assert all(v != base for v in variants)
    assert len(set(variants)) == len(variants)


@FAST
@given(secret=st.binary(min_size=32, max_size=32), position=st.integers(0, 31))
def test_a_commitment_binds_the_secret(secret: bytes, position: int) -> None:
    assert commitment("N-1", secret) != commitment("N-1", _flip(secret, position, 1))
    assert commitment("N-1", secret) != commitment("N-2", secret)
