"""MSP/1 canonical JSON, time, Merkle tree and signed checkpoints."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from market.protocol import (
    EMPTY_ROOT,
    LP,
    U64,
    CanonicalJSONError,
    Frontier,
    H,
    NoteError,
    canonical_json,
    checkpoint_text,
    consistency_proof,
    format_ts,
    hash_range,
    inclusion_proof,
    key_id,
    leaf_hash,
    node_hash,
    open_checkpoint,
    open_note,
    parse_canonical,
    parse_checkpoint,
    parse_ts,
    parse_verifier_key,
    perfect_pieces,
    root_from_leaf_hashes,
    sha256_hex,
    sign_note,
    subtree_ranges_for_consistency,
    subtree_ranges_for_inclusion,
    u32be,
    verifier_key,
    verify_consistency,
    verify_inclusion,
)

QUICK = settings(max_examples=100, deadline=None)

# --- primitives -----------------------------------------------------------------------------


def test_length_prefix_is_four_bytes_big_endian_and_strings_are_utf8() -> None:
    assert LP(b"ab") == b"\x00\x00\x00\x02ab"
    assert LP("环") == b"\x00\x00\x00\x03" + "环".encode()
    assert LP(b"") == b"\x00\x00\x00\x00"


def test_fixed_width_integers_are_big_endian_and_refuse_overflow() -> None:
    assert U64(1) == b"\x00" * 7 + b"\x01"
    assert u32be(258) == b"\x00\x00\x01\x02"
    for bad in (lambda: U64(2**64), lambda: U64(-1), lambda: u32be(2**32)):
        with pytest.raises(ValueError):
            bad()


def test_hash_helpers_are_sha256() -> None:
    assert H(b"abc") == hashlib.sha256(b"abc").digest()
    assert sha256_hex(b"") == EMPTY_ROOT.hex()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


# --- canonical JSON ----------------------------------------------------------------------------

TERMS = {"budget_fen": 1000000, "title": "环境影响评价 Environmental impact assessment"}


def test_terms_vector_with_non_ascii_text_hashes_to_terms_sha256() -> None:
    data = canonical_json(TERMS)
    assert data == ('{"budget_fen":1000000,"title":"环境影响评价 Environmental impact assessment"}').encode()
    assert sha256_hex(data) == "163768aedac2480ff2e87887888540e4552b3efd4e3c625790887db9b8f84f6c"


def test_log_entry_vector_bytes_and_leaf_hash_from_a_dict() -> None:
    entry = {
        "v": 1,
        "seq": 0,
        "type": "notice.published",
        "ts": "2026-11-27T09:00:00.000000Z",
        "notice_id": "N-000001",
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": "2026-12-04T09:00:00.000000Z",
        "terms_sha256": sha256_hex(canonical_json(TERMS)),
        "commit": "8b4100ae50d60f0212e01c6689c03896d9309929e85683643dda4a63e50c5e7e",
        "scheme": "none",
    }
    data = canonical_json(entry)
    assert data == (
        b'{"bid_deadline":"2026-12-04T09:00:00.000000Z",'
        b'"commit":"8b4100ae50d60f0212e01c6689c03896d9309929e85683643dda4a63e50c5e7e",'
        b'"method":"lottery","min_candidates":3,"notice_id":"N-000001","scheme":"none","seq":0,'
        b'"terms_sha256":"163768aedac2480ff2e87887888540e4552b3efd4e3c625790887db9b8f84f6c",'
        b'"ts":"2026-11-27T09:00:00.000000Z","type":"notice.published","v":1,"winners":1}'
    )
    assert leaf_hash(data).hex() == ("84ae1b94e006b24399e2924baaa2a65d7f19a6a02f7c525e2342b6b1aa9f1479")
    assert parse_canonical(data) == entry


def test_canonical_json_keeps_bools_nulls_and_the_largest_safe_integers() -> None:
    value = {"t": True, "f": False, "n": None, "big": 2**53 - 1, "small": -(2**53 - 1)}
    assert canonical_json(value) == (
        b'{"big":9007199254740991,"f":false,"n":null,"small":-9007199254740991,"t":true}'
    )


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"price": 1.0}, "$.price"),
        ({"a": [1, 2**53]}, "$.a[1]"),
        ({"a": -(2**53)}, "$.a"),
        ({"名": 1}, "$"),
        ({"a": {"b": "x\ud800y"}}, "$.a.b"),
        ({1: "x"}, "$"),
        ({"t": (1, 2)}, "$.t"),
        ({"s": {1}}, "$.s"),
        ({"odd key": [0.5]}, '$["odd key"][0]'),
        (float("nan"), "$"),
    ],
)
def test_canonical_json_refuses_values_with_no_single_spelling_and_names_the_path(
    value: object, path: str
) -> None:
    with pytest.raises(CanonicalJSONError) as info:
        canonical_json(value)  # type: ignore[arg-type]
    assert str(info.value).startswith(f"{path}:")


def test_canonical_json_refuses_a_lone_surrogate_in_a_key() -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_json({"\udc00": 1})


def test_canonical_json_escapes_control_characters_like_rfc8785() -> None:
    value = {"s": 'a"\\\n\t\x01\x7f/é'}
    assert canonical_json(value) == b'{"s":"a\\"\\\\\\n\\t\\u0001\x7f/\xc3\xa9"}'
    assert canonical_json(value) == rfc8785.dumps(value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(max_codepoint=127), max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@QUICK
@given(value=json_values)
def test_canonical_json_agrees_with_an_independent_rfc8785_implementation(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@QUICK
@given(value=st.dictionaries(st.text(st.characters(max_codepoint=127)), json_values))
def test_canonical_bytes_parse_back_to_the_same_value(value: dict[str, object]) -> None:
    assert parse_canonical(canonical_json(value)) == value


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}',  # a space
        b'{"b":1,"a":2}',  # keys out of order
        b'{"a":1,"a":1}',  # duplicate key
        b'{"a":1.0}',  # float
        b'{"a":1e3}',  # exponent
        b'{"a":NaN}',
        b'{"a":9007199254740992}',  # 2^53
        b'{"a":"\\u00e9"}',  # escape where the spec wants UTF-8
        b'{"a":"\\/"}',
        b"[1]",  # not an object
        b'{"a":"\xff"}',  # not UTF-8
        b'\xef\xbb\xbf{"a":1}',  # byte order mark
        b'{"a":1}\n',
        b"",
    ],
)
def test_parse_canonical_refuses_bytes_that_are_not_canonical(data: bytes) -> None:
    with pytest.raises(CanonicalJSONError):
        parse_canonical(data)


# --- time ---------------------------------------------------------------------------------------


def test_timestamps_have_six_fraction_digits_and_z() -> None:
    assert format_ts(datetime(2026, 12, 4, 9, 0, tzinfo=UTC)) == "2026-12-04T09:00:00.000000Z"
    assert format_ts(datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=UTC)) == "2026-01-02T03:04:05.000060Z"


def test_timestamps_in_other_zones_are_written_in_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    assert format_ts(datetime(2026, 12, 4, 17, 0, tzinfo=beijing)) == "2026-12-04T09:00:00.000000Z"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        format_ts(datetime(2026, 12, 4, 9, 0))


def test_years_below_1000_are_zero_padded() -> None:
    assert format_ts(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-04T09:00:00Z",
        "2026-12-04T09:00:00.000Z",
        "2026-12-04T09:00:00.000000+00:00",
        "2026-12-04T09:00:00.000000z",
        "2026-12-04 09:00:00.000000Z",
        "2026-02-30T09:00:00.000000Z",
        "2026-12-04T24:00:00.000000Z",
        "２026-12-04T09:00:00.000000Z",  # a full-width digit
        " 2026-12-04T09:00:00.000000Z",
    ],
)
def test_parse_ts_refuses_every_other_spelling(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ts(text)


@QUICK
@given(dt=st.datetimes(timezones=st.just(UTC)))
def test_format_and_parse_ts_round_trip(dt: datetime) -> None:
    text = format_ts(dt)
    assert len(text) == 27
    assert parse_ts(text) == dt
    assert format_ts(parse_ts(text)) == text


# --- Merkle tree: the RFC 6962 vectors -----------------------------------------------------------

RFC6962_LEAVES = [
    bytes.fromhex(x)
    for x in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
RFC6962_HASHES = [leaf_hash(x) for x in RFC6962_LEAVES]


@pytest.mark.parametrize(
    ("size", "root"),
    [
        (5, "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
        (7, "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
        (8, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
)
def test_merkle_root_vectors(size: int, root: str) -> None:
    assert root_from_leaf_hashes(RFC6962_HASHES[:size]).hex() == root


def test_consistency_proof_vector_6_to_8() -> None:
    proof = consistency_proof(RFC6962_HASHES, 6, 8)
    assert [h.hex() for h in proof] == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    first_root = root_from_leaf_hashes(RFC6962_HASHES[:6])
    second_root = root_from_leaf_hashes(RFC6962_HASHES)
    assert verify_consistency(6, 8, first_root, second_root, proof)


def test_inclusion_proof_vector_leaf_5_in_8() -> None:
    proof = inclusion_proof(RFC6962_HASHES, 5, 8)
    assert [h.hex() for h in proof] == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    root = root_from_leaf_hashes(RFC6962_HASHES)
    assert verify_inclusion(RFC6962_HASHES[5], 5, 8, proof, root)


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert Frontier().root() == EMPTY_ROOT


def test_consistency_proofs_are_empty_from_zero_or_to_the_same_size() -> None:
    assert consistency_proof(RFC6962_HASHES, 0, 8) == []
    assert consistency_proof(RFC6962_HASHES, 8, 8) == []
    root = root_from_leaf_hashes(RFC6962_HASHES)
    assert verify_consistency(0, 8, EMPTY_ROOT, root, [])
    assert verify_consistency(8, 8, root, root, [])
    assert not verify_consistency(8, 8, root, EMPTY_ROOT, [])
    assert not verify_consistency(0, 8, root, root, [])
    with pytest.raises(ValueError):
        consistency_proof(RFC6962_HASHES, 5, 4)
    with pytest.raises(ValueError):
        consistency_proof(RFC6962_HASHES, 5, 9)


def test_inclusion_proof_refuses_an_index_outside_the_tree() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(RFC6962_HASHES, 8, 8)
    assert not verify_inclusion(RFC6962_HASHES[0], 8, 8, [], EMPTY_ROOT)


# --- Merkle tree: against the recursive definitions of RFC 9162, and properties ----------------

# A pool of leaf hashes; a tree of size n uses the first n.
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(2100)]


def _mth(d: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.1 MTH, literally."""
    n = len(d)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return d[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(_mth(d[:k]), _mth(d[k:]))


def _path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH, literally."""
    n = len(d)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return _path(m, d[:k]) + [_mth(d[k:])]
    return _path(m - k, d[k:]) + [_mth(d[:k])]


def _subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """RFC 9162 2.1.4.1 SUBPROOF, literally."""
    n = len(d)
    if m == n:
        return [] if b else [_mth(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return _subproof(m, d[:k], b) + [_mth(d[k:])]
    return _subproof(m - k, d[k:], False) + [_mth(d[:k])]


@QUICK
@given(size=st.integers(1, 300), data=st.data())
def test_roots_and_proofs_equal_the_recursive_rfc_definitions(size: int, data: st.DataObject) -> None:
    leaves = LEAVES[:size]
    assert root_from_leaf_hashes(leaves) == _mth(leaves)
    index = data.draw(st.integers(0, size - 1))
    assert inclusion_proof(leaves, index, size) == _path(index, leaves)
    first = data.draw(st.integers(1, size))
    expected = [] if first == size else _subproof(first, leaves, True)
    assert consistency_proof(leaves, first, size) == expected


def _flip_one(values: list[bytes], which: int, position: int) -> list[bytes]:
    changed = list(values)
    item = bytearray(changed[which])
    item[position % len(item)] ^= 1 << (position % 8)
    changed[which] = bytes(item)
    return changed


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 2000), data=st.data())
def test_every_inclusion_proof_verifies_and_any_flipped_byte_fails(size: int, data: st.DataObject) -> None:
    leaves = LEAVES[:size]
    root = root_from_leaf_hashes(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(leaves, index, size)
    assert verify_inclusion(leaves[index], index, size, proof, root)

    # Flip one byte of the proof, the leaf hash or the root (position drawn by Hypothesis).
    position = data.draw(st.integers(0, 31 * 8), label="position")
    parts = [leaves[index], root, *proof]
    which = data.draw(st.integers(0, len(parts) - 1), label="which")
    bad_leaf, bad_root, *bad_proof = _flip_one(parts, which, position)
    assert not verify_inclusion(bad_leaf, index, size, bad_proof, bad_root)

    # Wrong positions and wrong lengths fail too.
    assert not verify_inclusion(leaves[index], index, size, [*proof, root], root)
    if proof:
        assert not verify_inclusion(leaves[index], index, size, proof[:-1], root)
    if size > 1:
        other = (index + 1) % size
        assert not verify_inclusion(leaves[index], other, size, proof, root)


@settings(max_examples=150, deadline=None)
@given(second=st.integers(1, 2000), data=st.data())
def test_every_consistency_proof_verifies_and_any_flipped_byte_fails(
    second: int, data: st.DataObject
) -> None:
    first = data.draw(st.integers(0, second), label="first")
    first_root = root_from_leaf_hashes(LEAVES[:first])
    second_root = root_from_leaf_hashes(LEAVES[:second])
    proof = consistency_proof(LEAVES, first, second)
    assert verify_consistency(first, second, first_root, second_root, proof)

    position = data.draw(st.integers(0, 31 * 8), label="position")
    parts = [first_root, second_root, *proof]
    which = data.draw(st.integers(0, len(parts) - 1), label="which")
    bad_first, bad_second, *bad_proof = _flip_one(parts, which, position)
    if not (first == 0 and which == 1):  # the empty tree is a prefix of every tree
        assert not verify_consistency(first, second, bad_first, bad_second, bad_proof)

    assert not verify_consistency(first, second, first_root, second_root, [*proof, second_root])
    if proof:
        assert not verify_consistency(first, second, first_root, second_root, proof[:-1])
    if 0 < first < second:
        # A history that differs anywhere before `first` cannot be proved consistent.
        forked = _flip_one(LEAVES[:second], data.draw(st.integers(0, first - 1)), 0)
        forked_root = root_from_leaf_hashes(forked)
        assert not verify_consistency(first, second, first_root, forked_root, proof)


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, 2000))
def test_frontier_root_equals_the_full_tree_root(size: int) -> None:
    frontier = Frontier()
    for h in LEAVES[:size]:
        frontier.append(h)
    assert frontier.size == size
    assert frontier.root() == root_from_leaf_hashes(LEAVES[:size])
    restored = Frontier.from_json(frontier.to_json())
    assert restored.size == size and restored.root() == frontier.root()
    restored.append(LEAVES[size])
    assert restored.root() == root_from_leaf_hashes(LEAVES[: size + 1])


def test_frontier_keeps_one_node_per_set_bit_of_its_size() -> None:
    frontier = Frontier()
    for h in LEAVES[:13]:
        frontier.append(h)
    assert [level for level, _ in frontier.nodes] == [3, 2, 0]
    assert frontier.to_json()["size"] == 13


@pytest.mark.parametrize(
    "data",
    [
        {"size": 3, "nodes": [[0, "00" * 32], [1, "00" * 32]]},  # levels out of order
        {"size": 4, "nodes": [[1, "00" * 32], [0, "00" * 32]]},  # levels do not spell 4
        {"size": 1, "nodes": [[0, "00" * 31]]},  # short hash
        {"size": -1, "nodes": []},
        {"nodes": []},
        {"size": 1, "nodes": [[0, "zz"]]},
    ],
)
def test_a_corrupt_frontier_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Frontier.from_json(data)


def test_a_store_can_build_proofs_from_the_subtrees_the_frontier_completes() -> None:
    # What a store keeps: the hash of every perfect subtree, as append() reports it.
    stored: dict[tuple[int, int], bytes] = {}
    frontier = Frontier()
    size = 1000
    for h in LEAVES[:size]:
        for start, end, subtree in frontier.append(h):
            stored[(start, end)] = subtree

    def perfect_hash(start: int, end: int) -> bytes:
        return stored[(start, end)]  # a KeyError here would mean an unaligned piece

    def from_store(ranges: list[tuple[int, int]]) -> list[bytes]:
        return [hash_range(start, end, perfect_hash) for start, end in ranges]

    for index in (0, 1, 500, 998, 999):
        assert from_store(subtree_ranges_for_inclusion(index, size)) == inclusion_proof(LEAVES, index, size)
    for first in (1, 2, 3, 512, 700, 999):
        for second in (first, 777, 1000):
            if first <= second:
                assert from_store(subtree_ranges_for_consistency(first, second)) == consistency_proof(
                    LEAVES, first, second
                )
    assert hash_range(0, size, perfect_hash) == frontier.root()


@QUICK
@given(second=st.integers(1, 5000), data=st.data())
def test_proof_ranges_split_into_aligned_perfect_subtrees(second: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(1, second))
    index = data.draw(st.integers(0, second - 1))
    ranges = subtree_ranges_for_consistency(first, second) + subtree_ranges_for_inclusion(index, second)
    for start, end in ranges:
        assert 0 <= start < end <= second
        for piece_start, piece_end in perfect_pieces(start, end):
            width = piece_end - piece_start
            assert width & (width - 1) == 0 and piece_start % width == 0


def test_a_million_leaves_hash_without_recursion() -> None:
    leaves = [LEAVES[i % len(LEAVES)] for i in range(1_000_000)]
    frontier = Frontier()
    for h in leaves[:1000]:
        frontier.append(h)
    root = root_from_leaf_hashes(leaves)
    assert len(root) == 32
    assert root_from_leaf_hashes(leaves[:1000]) == frontier.root()


# --- checkpoints and signed notes -----------------------------------------------------------------

ORIGIN = "market.localhost/log"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = KEY.public_key().public_bytes_raw()


def test_go_signed_note_reference_example_signs_and_opens_byte_for_byte() -> None:
    # The example key and note of golang.org/x/mod/sumdb/note: Ed25519 is deterministic,
    # so signing the same text with the same key must give the same note.
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    skey = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
    text = (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
    )
    note = (
        text + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSN"
        "XgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    )
    private = Ed25519PrivateKey.from_private_bytes(skey[1:])
    public = private.public_key().public_bytes_raw()
    assert verifier_key("PeterNeumann", public) == vkey
    assert sign_note(text, "PeterNeumann", private) == note
    assert open_note(note, vkey) == text


def test_checkpoint_text_has_origin_size_and_base64_root() -> None:
    root = root_from_leaf_hashes(RFC6962_HASHES)
    text = checkpoint_text(ORIGIN, 8, root)
    assert text == f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    assert parse_checkpoint(text) == (ORIGIN, 8, root)


def test_key_id_and_verifier_key_follow_the_signed_note_formula() -> None:
    # This key's base64 holds a '+', so parsing must split at the first two only.
    expected = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + PUBLIC).digest()[:4]
    assert key_id(ORIGIN, PUBLIC) == expected
    line = verifier_key(ORIGIN, PUBLIC)
    encoded_key = base64.b64encode(b"\x01" + PUBLIC).decode()
    assert line == f"{ORIGIN}+{expected.hex()}+{encoded_key}"
    assert parse_verifier_key(line) == (ORIGIN, expected, PUBLIC)
    assert parse_verifier_key(line + "\n") == (ORIGIN, expected, PUBLIC)


def test_signed_checkpoint_has_a_blank_line_then_an_em_dash_signature_line() -> None:
    text = checkpoint_text(ORIGIN, 0, EMPTY_ROOT)
    note = sign_note(text, ORIGIN, KEY)
    body, blank, signature = note.partition("\n\n")
    assert body + "\n" == text and blank
    assert signature.startswith(f"\u2014 {ORIGIN} ") and signature.endswith("\n")
    blob = base64.b64decode(signature.split(" ")[2])
    assert blob[:4] == key_id(ORIGIN, PUBLIC) and len(blob) == 68
    assert open_checkpoint(note, verifier_key(ORIGIN, PUBLIC)) == (ORIGIN, 0, EMPTY_ROOT)


def test_parse_verifier_key_refuses_a_key_id_that_does_not_match() -> None:
    line = verifier_key(ORIGIN, PUBLIC)
    origin, key_hex, key_b64 = line.split("+", 2)
    wrong = "00000000" if key_hex != "00000000" else "11111111"
    for bad in (
        f"{origin}+{wrong}+{key_b64}",
        f"other.example+{key_hex}+{key_b64}",
        f"{origin}+{key_hex.upper()}+{key_b64}",
        f"{origin}+{key_hex}+{key_b64}=",
        f"{origin}+{key_hex}+{key_b64[:-4]}",
        f"{origin}+{key_hex}",
    ):
        with pytest.raises(NoteError):
            parse_verifier_key(bad)


@pytest.mark.parametrize(
    "text",
    [
        "market/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",  # no final newline
        "market/log\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",  # leading zero
        "market/log\n-1\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
        "market/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQy=\n",  # bad base64
        "market/log\n8\nAAAA\n",  # root too short
        "market/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\nextension\n",
        "market log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
        "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
    ],
)
def test_parse_checkpoint_refuses_anything_but_the_three_lines(text: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint(text)


def test_a_co_signature_by_another_key_is_skipped() -> None:
    witness = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    text = checkpoint_text(ORIGIN, 8, root_from_leaf_hashes(RFC6962_HASHES))
    ours = sign_note(text, ORIGIN, KEY)
    theirs = sign_note(text, "witness.example", witness).partition("\n\n")[2]
    assert open_note(ours + theirs, verifier_key(ORIGIN, PUBLIC)) == text
    # ...but a note signed only by the witness does not open under our key.
    with pytest.raises(NoteError):
        open_note(text + "\n" + theirs, verifier_key(ORIGIN, PUBLIC))


def test_a_note_without_signatures_or_blank_line_is_refused() -> None:
    text = checkpoint_text(ORIGIN, 0, EMPTY_ROOT)
    for note in (text, text + "\n", text + "\n— garbage\n"):
        with pytest.raises(NoteError):
            open_note(note, verifier_key(ORIGIN, PUBLIC))


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(0, 2**40),
    root=st.binary(min_size=32, max_size=32),
    private_bytes=st.binary(min_size=32, max_size=32),
    data=st.data(),
)
def test_signed_checkpoint_verifies_and_fails_when_flipped_or_under_another_key(
    size: int, root: bytes, private_bytes: bytes, data: st.DataObject
) -> None:
    private = Ed25519PrivateKey.from_private_bytes(private_bytes)
    key_line = verifier_key(ORIGIN, private.public_key().public_bytes_raw())
    text = checkpoint_text(ORIGIN, size, root)
    note = sign_note(text, ORIGIN, private)
    assert open_checkpoint(note, key_line) == (ORIGIN, size, root)

    # One changed character of the text: the signature no longer covers it.
    position = data.draw(st.integers(0, len(text) - 1), label="text position")
    replacement = data.draw(st.sampled_from("0123456789abcXYZ+/="), label="replacement")
    if text[position] != "\n" and replacement != text[position]:
        forged = text[:position] + replacement + text[position + 1 :] + note[len(text) :]
        with pytest.raises(NoteError):
            open_note(forged, key_line)

    # One flipped bit of the signature itself (after the 4-byte key id).
    body, _, signature_line = note.partition("\n\n")
    dash, name, blob_text = signature_line.rstrip("\n").split(" ")
    blob = bytearray(base64.b64decode(blob_text))
    bit = data.draw(st.integers(4 * 8, len(blob) * 8 - 1), label="signature bit")
    blob[bit // 8] ^= 1 << (bit % 8)
    tampered = f"{body}\n\n{dash} {name} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(NoteError):
        open_note(tampered, key_line)

    # Another key with the same origin.
    other = Ed25519PrivateKey.from_private_bytes(H(private_bytes))
    with pytest.raises(NoteError):
        open_note(note, verifier_key(ORIGIN, other.public_key().public_bytes_raw()))


def test_a_checkpoint_of_another_log_signed_with_our_key_is_refused() -> None:
    note = sign_note(checkpoint_text("other.example/log", 1, EMPTY_ROOT), ORIGIN, KEY)
    assert open_note(note, verifier_key(ORIGIN, PUBLIC))  # the signature itself is fine
    with pytest.raises(NoteError):
        open_checkpoint(note, verifier_key(ORIGIN, PUBLIC))
