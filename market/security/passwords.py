"""Password hashing with argon2 (pwdlib)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _hasher().verify(password, password_hash)


# Verifying against this when the e-mail is unknown keeps the answer's timing the same
# as for a wrong password, so the timing does not reveal who has an account.
@lru_cache(maxsize=1)
def dummy_hash() -> str:
    return hash_password("not a real password, only for timing")
