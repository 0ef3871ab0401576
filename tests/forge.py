"""Hand-made JWTs and JWSs for attack tests: any header, any payload, any signature,
signed by the primitives directly so that no library's own checks get in the way."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return b64(raw)


def forge(header: dict[str, Any], payload: Any, *, key: Any = None, signature: bytes | None = None) -> str:
    """A compact JWS. ``key``: bytes or str for HS*, an EC or RSA private key for ES*/RS*;
    ``signature`` given: used as is (e.g. b"" for alg none)."""
    signing_input = f"{segment(header)}.{segment(payload)}".encode()
    if signature is None:
        alg = header["alg"]
        if alg.startswith("HS"):
            secret = key.encode() if isinstance(key, str) else key
            digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
            signature = hmac.new(secret, signing_input, digest).digest()
        elif alg == "ES256":
            der = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        elif alg == "RS256":
            signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise ValueError(alg)
    return f"{signing_input.decode()}.{b64(signature)}"


def public_pem(private_key: Any) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def new_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def tamper(token: str) -> str:
    """The same token with one signature byte changed (not the last character, whose low
    bits base64url may ignore)."""
    head, payload, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{payload}.{b64(bytes(raw))}"
