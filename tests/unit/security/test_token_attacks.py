"""Forged, expired and confused tokens are refused by decode_token (no server needed)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from market.security.tokens import decode_token, issue_token
from tests.forge import forge, new_ec_key, new_rsa_key, public_pem, tamper

SECRET = "s" * 48
NOW = int(time.time())
# A day, not minutes: the tokens are made at collection, and a long run reaches this
# module many minutes later.
GOOD = {
    "sub": "U-000001",
    "role": "owner",
    "iat": NOW,
    "exp": NOW + 86400,
    "ver": 0,
    "sid": "k3JpQ0m2vW8yX1aB",
}
EC_KEY = new_ec_key()


def test_the_control_a_hand_made_hs256_token_is_accepted() -> None:
    claims = decode_token(forge({"alg": "HS256", "typ": "JWT"}, GOOD, key=SECRET), secret=SECRET)
    assert claims is not None and claims.sub == "U-000001"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            tamper(issue_token(secret=SECRET, subject="U-1", role="owner", ttl=600)), id="tampered signature"
        ),
        pytest.param(
            forge({"alg": "HS256"}, {**GOOD, "role": "admin"}, signature=b"x" * 32),
            id="payload changed, signature kept",
        ),
        pytest.param(
            issue_token(secret=SECRET, subject="U-1", role="owner", ttl=60, now=NOW - 3600), id="expired"
        ),
        pytest.param(forge({"alg": "none", "typ": "JWT"}, GOOD, signature=b""), id="alg none"),
        pytest.param(forge({"alg": "None"}, GOOD, signature=b""), id="alg None"),
        pytest.param(forge({"alg": "NONE"}, GOOD, signature=b""), id="alg NONE"),
        pytest.param(forge({"alg": "HS512"}, GOOD, key=SECRET), id="HS512 with the real secret"),
        pytest.param(forge({"alg": "HS384"}, GOOD, key=SECRET), id="HS384 with the real secret"),
        pytest.param(
            forge({"alg": "HS256"}, GOOD, key=public_pem(EC_KEY)), id="HS256 keyed with a public key PEM"
        ),
        pytest.param(forge({"alg": "ES256"}, GOOD, key=EC_KEY), id="ES256"),
        pytest.param(forge({"alg": "RS256"}, GOOD, key=new_rsa_key()), id="RS256"),
        pytest.param(
            forge({"alg": "HS256", "kid": "../../../dev/null"}, GOOD, key=""), id="empty key via kid"
        ),
        pytest.param(forge({"alg": "HS256"}, GOOD, key="t" * 48), id="another secret"),
    ],
)
def test_forged_or_stale_tokens_are_refused(token: str) -> None:
    assert decode_token(token, secret=SECRET) is None


WRONG_TYPES: dict[str, Any] = {
    "sub is a number": {**GOOD, "sub": 1},
    "sub is a list": {**GOOD, "sub": ["U-1"]},
    "sub is null": {**GOOD, "sub": None},
    "role is a list": {**GOOD, "role": ["admin"]},
    "role is an object": {**GOOD, "role": {"admin": True}},
    "exp is a string": {**GOOD, "exp": str(NOW + 600)},
    "exp is a float": {**GOOD, "exp": float(NOW + 600)},
    "iat is a word": {**GOOD, "iat": "yesterday"},
    "iat is true": {**GOOD, "iat": True},
    "no sub": {k: v for k, v in GOOD.items() if k != "sub"},
    "no iat": {k: v for k, v in GOOD.items() if k != "iat"},
    # Without a session version a token could not be revoked (issued before versions existed).
    "no ver": {k: v for k, v in GOOD.items() if k != "ver"},
    "ver is a string": {**GOOD, "ver": "0"},
    "ver is true": {**GOOD, "ver": True},
    "ver is null": {**GOOD, "ver": None},
    "no sid": {k: v for k, v in GOOD.items() if k != "sid"},
    "sid is empty": {**GOOD, "sid": ""},
    "sid is a number": {**GOOD, "sid": 7},
    "payload is a list": ["not", "an", "object"],
    "payload is a string": "a string",
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_wrong_types_of_claims_are_refused(case: str) -> None:
    assert decode_token(forge({"alg": "HS256"}, WRONG_TYPES[case], key=SECRET), secret=SECRET) is None
