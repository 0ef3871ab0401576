"""Tokens: what is accepted and what is refused, without a server."""

from __future__ import annotations

import base64
import json
import time

from jose import jwt

from market.security.tokens import decode_token, issue_token

SECRET = "s" * 48


def test_issued_token_decodes_to_its_claims() -> None:
    token = issue_token(secret=SECRET, subject="U-000001", role="owner", ttl=60, now=1_700_000_000)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "HS256"
    claims = jwt.get_unverified_claims(token)
    sid = claims.pop("sid")
    assert claims == {
        "sub": "U-000001",
        "role": "owner",
        "iat": 1_700_000_000,
        "exp": 1_700_000_060,
        "ver": 0,
    }
    assert isinstance(sid, str) and len(sid) >= 20  # 128 random bits


def test_each_token_is_a_session_of_its_own_at_the_version_given() -> None:
    first = decode_token(
        issue_token(secret=SECRET, subject="U-1", role="owner", ttl=60, version=3), secret=SECRET
    )
    second = decode_token(
        issue_token(secret=SECRET, subject="U-1", role="owner", ttl=60, version=3), secret=SECRET
    )
    assert first is not None and second is not None
    assert first.ver == second.ver == 3
    assert first.sid != second.sid


def test_fresh_token_is_accepted() -> None:
    claims = decode_token(issue_token(secret=SECRET, subject="U-1", role="agency", ttl=60), secret=SECRET)
    assert claims is not None and claims.sub == "U-1" and claims.role == "agency"


def test_expired_token_is_refused() -> None:
    token = issue_token(secret=SECRET, subject="U-1", role="owner", ttl=60, now=int(time.time()) - 3600)
    assert decode_token(token, secret=SECRET) is None


def test_wrong_secret_is_refused() -> None:
    token = issue_token(secret=SECRET, subject="U-1", role="owner", ttl=60)
    assert decode_token(token, secret="t" * 48) is None


def test_other_algorithms_are_refused_even_when_validly_signed() -> None:
    now = int(time.time())
    hs512 = jwt.encode(
        {"sub": "U-1", "role": "admin", "iat": now, "exp": now + 60, "ver": 0, "sid": "s" * 22},
        SECRET,
        algorithm="HS512",
    )
    assert decode_token(hs512, secret=SECRET) is None


def test_missing_claims_are_refused() -> None:
    now = int(time.time())
    no_role = jwt.encode({"sub": "U-1", "iat": now, "exp": now + 60}, SECRET, algorithm="HS256")
    no_exp = jwt.encode({"sub": "U-1", "role": "owner", "iat": now}, SECRET, algorithm="HS256")
    assert decode_token(no_role, secret=SECRET) is None
    assert decode_token(no_exp, secret=SECRET) is None


def test_garbage_is_refused() -> None:
    for junk in ("", "a.b.c", "not a token", "e30.e30.", "...."):
        assert decode_token(junk, secret=SECRET) is None
