"""MSP/2's new computations against the vectors of docs/protocol/msp.md section 8, and the
same computations written out with hashlib alone (a second implementation from the text),
plus properties over any input (hypothesis)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market import protocol

SPEC = Path(__file__).resolve().parents[3] / "docs" / "protocol" / "msp.md"

SALT = bytes(range(32))
SALT_W = bytes(range(32, 64))
DOC = b'{"agency_id":"AG-102","bid_id":"B-000017","notice_id":"N-000003","price_fen":950000}'
COMMITMENT = "520403053ffe78937e58c8479eaf4f770ccb15522a10b92c9153705144a34c3e"
WITHDRAWAL = "446e541a059e45fb3fdcbdb84b568f6baee57338ee846839738ad0ec2fb130d3"
LOTTERY_DOC = b'{"agency_id":"AG-001","bid_id":"B-000001","notice_id":"N-000001","price_fen":null}'
LOTTERY_COMMITMENT = "a4810ba5e93a6237d4a0d2265447148dc4d8a4ac859c09ed07f10970d4894512"
PLAINTEXT_SHA256 = "20b1b8b9ac38c86fd9777c0b3beb968cda6ffac956e99595eedeba328aea47ea"
WITHDRAWAL_PLAINTEXT_SHA256 = "9da92146e2e2eb301380dc9a4aed97b526288ea69f64537eca3d516d52d900f1"
SEALED_ENTRY = (
    b'{"commitment":"520403053ffe78937e58c8479eaf4f770ccb15522a10b92c9153705144a34c3e",'
    b'"seq":41,"ts":"2026-12-01T02:03:04.000005Z","type":"bid.sealed","v":2}'
)
SEALED_LEAF = "9cff498563f2ba2b3754dfc7844f5b6de97e8ddc8dbd8902cf1964ffaab5f9e8"


def lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def by_hand_commitment(salt: bytes, document: bytes) -> str:
    return hashlib.sha256(lp(b"msp/2/bid") + lp(salt) + lp(document)).hexdigest()


def by_hand_withdrawal(salt: bytes, commitment: bytes) -> str:
    return hashlib.sha256(lp(b"msp/2/withdrawal") + lp(salt) + lp(commitment)).hexdigest()


def test_bid_document_v2_is_msp1s_without_the_nonce() -> None:
    assert protocol.bid_document_v2("N-000003", "B-000017", "AG-102", 950000) == DOC
    assert protocol.bid_document_v2("N-000001", "B-000001", "AG-001", None) == LOTTERY_DOC


def test_commitment_vectors() -> None:
    assert protocol.bid_commitment(SALT, DOC).hex() == COMMITMENT == by_hand_commitment(SALT, DOC)
    assert protocol.bid_commitment(b"\xff" * 32, LOTTERY_DOC).hex() == LOTTERY_COMMITMENT
    assert protocol.withdrawal_commitment(SALT_W, bytes.fromhex(COMMITMENT)).hex() == WITHDRAWAL
    assert by_hand_withdrawal(SALT_W, bytes.fromhex(COMMITMENT)) == WITHDRAWAL


def test_sealed_entry_and_leaf_vector() -> None:
    entry = {
        "commitment": COMMITMENT,
        "seq": 41,
        "ts": "2026-12-01T02:03:04.000005Z",
        "type": "bid.sealed",
        "v": 2,
    }
    assert protocol.canonical_json(entry) == SEALED_ENTRY
    assert protocol.leaf_hash(SEALED_ENTRY).hex() == SEALED_LEAF


def test_opening_vector() -> None:
    opened = protocol.opening(DOC, SALT, 41, (SALT_W, 57))
    assert protocol.canonical_json(opened) == (
        b'{"bid":{"agency_id":"AG-102","bid_id":"B-000017","notice_id":"N-000003","price_fen":950000},'
        b'"salt":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f","seq":41,'
        b'"withdrawn":{"salt":"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f","seq":57}}'
    )
    assert protocol.opening(DOC, SALT, 41, None)["withdrawn"] is None


def test_tlock_plaintext_vectors_are_padded_to_512_bytes() -> None:
    plaintext = protocol.tlock_plaintext(SALT, document=DOC)
    assert len(plaintext) == protocol.TLOCK_PLAINTEXT_BYTES == 512
    assert hashlib.sha256(plaintext).hexdigest() == PLAINTEXT_SHA256
    assert plaintext.startswith(b'{"bid":' + DOC + b',"pad":"   ') and plaintext.endswith(
        b'","salt":"' + SALT.hex().encode() + b'"}'
    )
    withdrawal = protocol.tlock_plaintext(SALT_W, withdraws=bytes.fromhex(COMMITMENT))
    assert len(withdrawal) == 512 and hashlib.sha256(withdrawal).hexdigest() == WITHDRAWAL_PLAINTEXT_SHA256


def test_tlock_round_is_the_first_round_at_or_after_the_deadline() -> None:
    deadline = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert protocol.tlock_round(protocol.deadline_unix(deadline)) == 34523812
    # an hour later is MSP/1's beacon round of the same deadline
    assert protocol.drand_quicknet_round(protocol.deadline_unix(deadline)) == 34523812 + 1200
    assert protocol.deadline_unix(deadline) == protocol.QUICKNET_GENESIS + (34523812 - 1) * 3
    # one second later: the next round
    assert protocol.tlock_round(protocol.deadline_unix(deadline) + 1) == 34523813


def test_the_spec_holds_these_vectors() -> None:
    """The document an independent verifier is written from states the same values."""
    text = SPEC.read_text(encoding="utf-8")
    for value in (
        COMMITMENT,
        WITHDRAWAL,
        LOTTERY_COMMITMENT,
        PLAINTEXT_SHA256,
        WITHDRAWAL_PLAINTEXT_SHA256,
        SEALED_LEAF,
        "34523812",
    ):
        assert value in text, value
    assert SEALED_ENTRY.decode() in text and DOC.decode() in text


@pytest.mark.parametrize(
    ("salt", "document", "message"),
    [
        (b"\x00" * 31, DOC, "salt"),
        (b"\x00" * 33, DOC, "salt"),
        (SALT, b"", "document"),
    ],
)
def test_commitment_refuses_what_the_protocol_does_not_define(
    salt: bytes, document: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        protocol.bid_commitment(salt, document)


def test_opening_refuses_a_withdrawal_before_its_bid() -> None:
    with pytest.raises(ValueError, match="after the bid"):
        protocol.opening(DOC, SALT, 41, (SALT_W, 41))


ids = st.from_regex(re.compile(r"[A-Za-z0-9._:-]{1,64}"), fullmatch=True)
prices = st.one_of(st.none(), st.integers(min_value=1, max_value=protocol.MAX_SAFE_INTEGER))
salts = st.binary(min_size=32, max_size=32)


@given(notice=ids, bid=ids, agency=ids, price=prices, salt=salts)
def test_any_bid_opens_its_own_commitment_and_nothing_else(
    notice: str, bid: str, agency: str, price: int | None, salt: bytes
) -> None:
    document = protocol.bid_document_v2(notice, bid, agency, price)
    commitment = protocol.bid_commitment(salt, document)
    assert commitment.hex() == by_hand_commitment(salt, document)
    # the opening carries the document back exactly
    opened = protocol.opening(document, salt, 7, None)
    assert protocol.canonical_json(opened["bid"]) == document and bytes.fromhex(opened["salt"]) == salt
    # any other salt or price opens something else
    assert protocol.bid_commitment(bytes([salt[0] ^ 1]) + salt[1:], document) != commitment
    other = protocol.bid_document_v2(notice, bid, agency, None if price else 1)
    assert protocol.bid_commitment(salt, other) != commitment
    # a plaintext for the timelock always fits the fixed size
    assert len(protocol.tlock_plaintext(salt, document=document)) == protocol.TLOCK_PLAINTEXT_BYTES


@given(salt=salts, bid_salt=salts, flip=st.integers(min_value=0, max_value=31))
def test_a_withdrawal_binds_to_the_one_bid_it_withdraws(salt: bytes, bid_salt: bytes, flip: int) -> None:
    commitment = protocol.bid_commitment(bid_salt, DOC)
    withdrawal = protocol.withdrawal_commitment(salt, commitment)
    assert withdrawal.hex() == by_hand_withdrawal(salt, commitment)
    other = bytearray(commitment)
    other[flip] ^= 0x80
    assert protocol.withdrawal_commitment(salt, bytes(other)) != withdrawal
    # domain separation: a withdrawal is never a bid's commitment over the same bytes
    assert withdrawal != protocol.bid_commitment(salt, commitment)
