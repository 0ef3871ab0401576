"""Access tokens: HS256 JWTs through python-jose (the only module that imports it for
tokens). Decoding always pins the algorithm, so ``alg: none`` and key-confusion tokens
are refused."""

from __future__ import annotations

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


def issue_token(*, secret: str, subject: str, role: str, ttl: int, now: int | None = None) -> str:
    issued = int(time.time()) if now is None else now
    payload = {"sub": subject, "role": role, "iat": issued, "exp": issued + ttl}
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
    sub, role, iat, exp = (payload.get(k) for k in ("sub", "role", "iat", "exp"))
    # type() rather than isinstance(): JSON true is a Python bool, which isinstance counts as int.
    if type(sub) is not str or type(role) is not str or type(iat) is not int or type(exp) is not int:
        return None
    return Claims(sub=sub, role=role, iat=iat, exp=exp)
