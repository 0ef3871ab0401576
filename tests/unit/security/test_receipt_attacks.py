"""Bid receipts verify only as ES256 under the published key: alg none, HMAC keyed with
the public key (key confusion), other curves and algorithms, and tampering are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from market.bids.receipts import CLAIMS, ReceiptSigner, verify_receipt
from tests.forge import forge, new_ec_key, new_rsa_key, public_pem, tamper

SIGNER = ReceiptSigner(private_key=new_ec_key())
JWK = SIGNER.public_jwk()
CLAIMS_OK: dict[str, Any] = {c: f"value-{c}" for c in CLAIMS} | {"seq": 7}


def test_the_control_a_real_receipt_verifies() -> None:
    assert verify_receipt(SIGNER.sign(CLAIMS_OK), JWK) == CLAIMS_OK


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(tamper(SIGNER.sign(CLAIMS_OK)), id="tampered signature"),
        pytest.param(forge({"alg": "none"}, CLAIMS_OK, signature=b""), id="alg none"),
        pytest.param(
            forge({"alg": "HS256"}, CLAIMS_OK, key=public_pem(SIGNER.private_key)),
            id="HS256 keyed with the public PEM",
        ),
        pytest.param(
            forge({"alg": "HS256"}, CLAIMS_OK, key=json.dumps(JWK, sort_keys=True)),
            id="HS256 keyed with the JWK text",
        ),
        pytest.param(
            forge({"alg": "HS256"}, CLAIMS_OK, key=JWK["x"]), id="HS256 keyed with the x coordinate"
        ),
        pytest.param(forge({"alg": "ES256"}, CLAIMS_OK, key=new_ec_key()), id="ES256 by another key"),
        pytest.param(forge({"alg": "RS256"}, CLAIMS_OK, key=new_rsa_key()), id="RS256"),
        pytest.param(
            forge({"alg": "ES256", "kid": SIGNER.kid}, {**CLAIMS_OK, "seq": 8}, signature=b"\0" * 64),
            id="changed claims, zero signature",
        ),
        pytest.param(SIGNER.sign(CLAIMS_OK).rsplit(".", 1)[0] + ".", id="signature cut off"),
        pytest.param("not.a.receipt", id="garbage"),
    ],
)
def test_forged_receipts_are_refused(token: str) -> None:
    assert verify_receipt(token, JWK) is None


def test_a_receipt_whose_payload_was_swapped_is_refused() -> None:
    head, _, sig = SIGNER.sign(CLAIMS_OK).split(".")
    other = SIGNER.sign({**CLAIMS_OK, "seq": 99}).split(".")[1]
    assert verify_receipt(f"{head}.{other}.{sig}", JWK) is None


def test_a_jwk_claiming_to_be_a_symmetric_key_does_not_verify_hmac_receipts() -> None:
    """A verifier handed a forged 'oct' key (say, by a man in the middle) still insists on ES256."""
    oct_jwk = {"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}
    token = forge({"alg": "HS256"}, CLAIMS_OK, key=b"secret")
    assert verify_receipt(token, oct_jwk) is None
