"""Bid receipts: an ES256 JWS (python-jose) over what the log recorded for the bid, so an
agency can later prove that its bid was accepted, when, and in which entry."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jws
from jose.exceptions import JOSEError

from market.core.config import ConfigError
from market.security.keys import load_or_create_key

KEY_FILE = "receipt_signing_key.pem"
KEY_ENV = "MARKET_RECEIPT_SIGNING_KEY"
ALGORITHM = "ES256"
CLAIMS = ("notice_id", "bid_id", "agency_id", "bid_sha256", "seq", "leaf_hash")
# MSP/2: what an agency needs to prove its sealed bid later (docs/protocol/msp.md section 6):
# the salt opens its commitment, seq and leaf_hash find the entry and prove it in the tree.
CLAIMS_V2 = ("v", "notice_id", "bid_id", "agency_id", "commitment", "salt", "seq", "leaf_hash")


def claims_of(version: Any) -> tuple[str, ...]:
    return CLAIMS_V2 if version == 2 else CLAIMS


def _b64url(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).decode().rstrip("=")


@dataclass(frozen=True)
class ReceiptSigner:
    private_key: ec.EllipticCurvePrivateKey

    @property
    def kid(self) -> str:
        return self.jwk["x"][:16]

    @property
    def jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x),
            "y": _b64url(numbers.y),
            "alg": ALGORITHM,
            "use": "sig",
        }

    def public_jwk(self) -> dict[str, str]:
        return {**self.jwk, "kid": self.kid}

    def sign(self, claims: dict[str, Any]) -> str:
        names = claims_of(claims.get("v"))
        missing = [c for c in names if c not in claims]
        if missing:
            raise ValueError(f"a receipt needs {missing}")
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        payload = json.dumps({c: claims[c] for c in names}, sort_keys=True, separators=(",", ":"))
        return str(jws.sign(payload.encode(), pem, algorithm=ALGORITHM, headers={"kid": self.kid}))

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> ReceiptSigner:
        key = load_or_create_key(
            data_dir / KEY_FILE,
            env_value=os.environ.get(KEY_ENV),
            generate=lambda: ec.generate_private_key(ec.SECP256R1()),
            what="receipt signing key",
        )
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ConfigError("the receipt signing key must be a P-256 (ES256) key")
        return cls(private_key=key)


def verify_receipt(token: str, jwk: dict[str, str]) -> dict[str, Any] | None:
    """The receipt's claims when it verifies under ``jwk`` with ES256 only; else None."""
    try:
        payload = jws.verify(token, jwk, algorithms=[ALGORITHM])
        claims = json.loads(payload)
    except (JOSEError, ValueError):
        return None
    return (
        claims if isinstance(claims, dict) and all(c in claims for c in claims_of(claims.get("v"))) else None
    )
