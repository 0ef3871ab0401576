"""Access tokens: HS256 JWTs through python-jose (the only module that imports it for
tokens). Decoding always pins the algorithm, so ``alg: none`` and key-confusion tokens
are refused.

Besides who and which role, a token carries ``ver``, the account's session version when
it was issued (a token is good only while the account's version is still that one:
market/security/auth.py), and ``sid``, a random id of this one session, which the CSRF
token is bound to (market/security/csrf.py). A token without them predates session
versions and cannot be revoked, so it is refused."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from jose import JWTError, jwt

ALGORITHM = "HS256"


@dataclass(frozen=True)
class Claims:
    sub: str
    role: str
    iat: int
    exp: int
    ver: int
    sid: str


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def issue_token(
    *,
    secret: str,
    subject: str,
    role: str,
    ttl: int,
    version: int = 0,
    session_id: str | None = None,
    now: int | None = None,
) -> str:
    issued = int(time.time()) if now is None else now
    payload = {
        "sub": subject,
        "role": role,
        "iat": issued,
        "exp": issued + ttl,
        "ver": version,
        "sid": session_id or new_session_id(),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str) -> Claims | None:
    """The token's claims, or None when it is malformed, forged, expired or incomplete."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require_sub": True, "require_iat": True, "require_exp": True},
        )
    except JWTError:
        return None
    sub, role, iat, exp, ver, sid = (payload.get(k) for k in ("sub", "role", "iat", "exp", "ver", "sid"))
    # type() rather than isinstance(): JSON true is a Python bool, which isinstance counts as int.
    if type(sub) is not str or type(role) is not str or type(iat) is not int or type(exp) is not int:
        return None
    if type(ver) is not int or type(sid) is not str or not sid:
        return None
    return Claims(sub=sub, role=role, iat=iat, exp=exp, ver=ver, sid=sid)
