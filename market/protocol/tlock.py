"""drand quicknet timelock ("tlock") ciphertexts for MSP/2 sealed entries.

A sealed entry's ``tlock`` field is a drand tlock age file (what drand's ``tle`` writes and
opens) with its header stripped to the bytes that are not determined by the round: a
``tlock`` stanza names its round in clear, and the round would tie the entry to a notice's
deadline. The field is the standard base64 (RFC 4648 section 4, with padding) of

    U (96 bytes: compressed G2 point) || V (16 bytes) || W (16 bytes)   the stanza body
    || MAC (32 bytes)                                                   the header MAC
    || payload (16-byte nonce || ChaCha20-Poly1305 STREAM chunks)       the age payload

Given the round (the notice's opening entry records it), :func:`age_file` rebuilds the age
file byte for byte, which ``tle -d`` (Go) and tlock-js open; :func:`open_sealed` opens it
directly with the round's signature. The age framing here needs only the standard library
and ``cryptography``; the pairing (IBE) part uses the optional package
``py-arkworks-bls12381`` and is refused with :class:`TlockUnavailable` without it.

Sources: age v1 (age-encryption.org/v1, C2SP age.md), drand/tlock ``tlock.go`` and
``tlock_age.go`` (stanza ``tlock <round> <chain hash>``, body U||V||W), drand/kyber
``encrypt/ibe/ibe.go`` (EncryptCCAonG2/DecryptCCAonG2, H2/H3/H4), drand/kyber-bls12381
(SHA-256 suite, GT marshalled by kilic/bls12-381), tlock-js ``crypto/ibe.js`` and
``crypto/utils.js`` (the same, in JavaScript).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from types import ModuleType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

try:  # optional: without it a tlock field can be reframed (age_file) but not opened or sealed
    import py_arkworks_bls12381

    _bls: ModuleType | None = py_arkworks_bls12381
except ImportError:  # pragma: no cover - depends on the environment
    _bls = None

QUICKNET_CHAIN_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
QUICKNET_PUBLIC_KEY = bytes.fromhex(
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
    "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
    "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
)
# quicknet's scheme bls-unchained-g1-rfc9380: signatures on G1, hashed with the RFC 9380 DST
G1_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
# the order of the BLS12-381 scalar field
R_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001

AGE_INTRO = b"age-encryption.org/v1\n"
FILE_KEY_BYTES = 16
U_BYTES = 96
STANZA_BODY_BYTES = U_BYTES + 2 * FILE_KEY_BYTES  # U || V || W
MAC_BYTES = 32
NONCE_BYTES = 16
CHUNK_BYTES = 64 * 1024
TAG_BYTES = 16
SIGNATURE_BYTES = 48
MAX_ROUND = 2**64 - 1

_B64_LINE = 64
_FIELD = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class TlockError(ValueError):
    """A tlock field or age file that is malformed, or that does not open."""


class TlockUnavailable(RuntimeError):
    """The pairing library (py-arkworks-bls12381) is not installed."""


def available() -> bool:
    """Whether sealing and opening (the pairing part) can run here."""
    return _bls is not None


# --- age framing (standard library + cryptography) -------------------------------------


def _check_round(round_number: int) -> int:
    if (
        isinstance(round_number, bool)
        or not isinstance(round_number, int)
        or not 1 <= round_number <= MAX_ROUND
    ):
        raise TlockError(f"a drand round is an integer in [1, 2^64 - 1], got {round_number!r}")
    return round_number


def _b64_raw(data: bytes) -> bytes:
    """age's base64: standard alphabet, no padding."""
    return base64.b64encode(data).rstrip(b"=")


def _header(round_number: int, body: bytes) -> bytes:
    """The age header of a quicknet tlock file up to and including ``---`` (what the MAC
    covers): the intro line, one stanza ``-> tlock <round> <chain hash>`` whose body is
    wrapped at 64 columns (the last line always shorter than 64, so empty when the body's
    base64 is a multiple of 64 long), then ``---``."""
    encoded = _b64_raw(body)
    lines = [encoded[i : i + _B64_LINE] for i in range(0, len(encoded), _B64_LINE)]
    if not lines or len(lines[-1]) == _B64_LINE:
        lines.append(b"")
    stanza = b"-> tlock %d %s\n" % (round_number, QUICKNET_CHAIN_HASH.encode())
    stanza += b"".join(line + b"\n" for line in lines)
    return AGE_INTRO + stanza + b"---"


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _header_mac(file_key: bytes, header: bytes) -> bytes:
    return hmac.new(_hkdf(file_key, b"", b"header"), header, hashlib.sha256).digest()


def _stream_nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _payload_encrypt(file_key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    chunks = [plaintext[i : i + CHUNK_BYTES] for i in range(0, len(plaintext), CHUNK_BYTES)] or [b""]
    out = [nonce]
    for counter, chunk in enumerate(chunks):
        out.append(aead.encrypt(_stream_nonce(counter, counter == len(chunks) - 1), chunk, None))
    return b"".join(out)


def _payload_decrypt(file_key: bytes, payload: bytes) -> bytes:
    nonce, body = payload[:NONCE_BYTES], payload[NONCE_BYTES:]
    if len(nonce) != NONCE_BYTES or len(body) < TAG_BYTES:
        raise TlockError("age payload too short")
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    size = CHUNK_BYTES + TAG_BYTES
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    out = []
    for counter, piece in enumerate(pieces):
        last = counter == len(pieces) - 1
        if len(piece) < TAG_BYTES or (last and len(piece) == TAG_BYTES and counter > 0):
            raise TlockError("age payload chunk malformed")
        try:
            out.append(aead.decrypt(_stream_nonce(counter, last), piece, None))
        except InvalidTag:
            raise TlockError("age payload does not authenticate") from None
    return b"".join(out)


def _split_field(field: str) -> tuple[bytes, bytes, bytes]:
    """(stanza body, header MAC, payload) of a ``tlock`` field."""
    if not isinstance(field, str) or not _FIELD.fullmatch(field) or len(field) % 4:
        raise TlockError("a tlock field is standard base64 with padding")
    try:
        raw = base64.b64decode(field, validate=True)
    except binascii.Error:
        raise TlockError("a tlock field is standard base64 with padding") from None
    if base64.b64encode(raw).decode() != field:
        raise TlockError("a tlock field is canonical base64")
    if len(raw) < STANZA_BODY_BYTES + MAC_BYTES + NONCE_BYTES + TAG_BYTES:
        raise TlockError("a tlock field is too short")
    mac_at = STANZA_BODY_BYTES
    payload_at = mac_at + MAC_BYTES
    return raw[:mac_at], raw[mac_at:payload_at], raw[payload_at:]


def age_file(field: str, round_number: int) -> bytes:
    """The drand tlock age file (binary, not armored) a ``tlock`` field stands for, to the
    given quicknet round: ``tle -d`` opens it once the round is out."""
    body, mac, payload = _split_field(field)
    return _header(_check_round(round_number), body) + b" " + _b64_raw(mac) + b"\n" + payload


def pack(age_file_bytes: bytes) -> str:
    """The ``tlock`` field of a binary tlock age file. Only the canonical form is accepted
    (one quicknet ``tlock`` stanza, as :func:`age_file` rebuilds it), so that
    ``age_file(pack(f), round) == f``; anything else raises :class:`TlockError`."""
    data = bytes(age_file_bytes)
    match = re.match(rb"age-encryption\.org/v1\n-> tlock ([1-9][0-9]{0,19}) ([0-9a-f]{64})\n", data)
    if not match:
        raise TlockError("not a binary age file with one tlock stanza first")
    if match.group(2).decode() != QUICKNET_CHAIN_HASH:
        raise TlockError("the tlock stanza is not for drand quicknet")
    round_number = _check_round(int(match.group(1)))
    end = data.find(b"\n---", match.end() - 1)
    if end < 0:
        raise TlockError("age header has no MAC line")
    body_lines = data[match.end() : end + 1].split(b"\n")[:-1]
    try:
        body = base64.b64decode(b"".join(body_lines) + b"==", validate=False)
    except binascii.Error:
        raise TlockError("tlock stanza body is not base64") from None
    mac_line_end = data.find(b"\n", end + 4)
    if len(body) != STANZA_BODY_BYTES or mac_line_end < 0:
        raise TlockError("not a quicknet tlock stanza")
    mac_text = data[end + 5 : mac_line_end]
    try:
        mac = base64.b64decode(mac_text + b"=" * (-len(mac_text) % 4), validate=True)
    except binascii.Error:
        raise TlockError("age header MAC is not base64") from None
    field = base64.b64encode(body + mac + data[mac_line_end + 1 :]).decode()
    try:
        rebuilt = age_file(field, round_number)
    except TlockError:
        raise TlockError("not a canonical quicknet tlock age file") from None
    if rebuilt != data:
        raise TlockError("not a canonical quicknet tlock age file (one tlock stanza, nothing else)")
    return field


# --- the IBE part (drand/kyber EncryptCCAonG2 / DecryptCCAonG2 on BLS12-381) -------------


def _need_bls():
    if _bls is None:
        raise TlockUnavailable("timelock needs the optional package py-arkworks-bls12381")
    return _bls


def _round_id(round_number: int) -> bytes:
    """drand's message for an unchained round: SHA-256 of the round as 8 bytes big-endian."""
    return hashlib.sha256(round_number.to_bytes(8, "big")).digest()


def _gt_bytes(gt) -> bytes:
    """A GT element as kyber-bls12381 (kilic/bls12-381) marshals it: 12 base-field
    coefficients of 48 bytes big-endian, in the order c1.c2.c1, c1.c2.c0, c1.c1.c1, ...,
    c0.c0.c0 (Fp12 = c0 + c1*w, Fp6 = c0 + c1*v + c2*v^2, Fp2 = c0 + c1*u): exactly the
    byte reversal of arkworks' little-endian serialization, which str() of a GT prints."""
    raw = bytes.fromhex(str(gt))
    if len(raw) != 576:
        raise TlockError("unexpected GT serialization from the pairing library")
    return raw[::-1]


def _h2(gt) -> bytes:
    return hashlib.sha256(b"IBE-H2" + _gt_bytes(gt)).digest()[:FILE_KEY_BYTES]


def _h3(sigma: bytes, msg: bytes) -> int:
    buffer = hashlib.sha256(b"IBE-H3" + sigma + msg).digest()
    for i in range(1, 65535):
        hashed = bytearray(hashlib.sha256(i.to_bytes(2, "little") + buffer).digest())
        hashed[0] >>= 1
        r = int.from_bytes(hashed, "big")
        if r < R_ORDER:
            return r
    raise TlockError("rejection sampling failure")  # pragma: no cover - probability 2^-65534


def _h4(sigma: bytes) -> bytes:
    return hashlib.sha256(b"IBE-H4" + sigma).digest()[:FILE_KEY_BYTES]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _ibe_encrypt(file_key: bytes, round_number: int, sigma: bytes) -> bytes:
    bls = _need_bls()
    r = _h3(sigma, file_key)
    scalar = bls.Scalar(r)
    q_id = bls.G1Point.hash_to_curve(_round_id(round_number), G1_DST)
    public = bls.G2Point.from_compressed_bytes(QUICKNET_PUBLIC_KEY)
    r_gid = bls.GT.pairing(q_id * scalar, public)  # e(Q_id, P)^r
    u = (bls.G2Point() * scalar).to_compressed_bytes()
    return u + _xor(sigma, _h2(r_gid)) + _xor(file_key, _h4(sigma))


def _ibe_decrypt(body: bytes, signature: bytes) -> bytes:
    bls = _need_bls()
    if len(body) != STANZA_BODY_BYTES:
        raise TlockError("a tlock stanza body is 128 bytes")
    if len(signature) != SIGNATURE_BYTES:
        raise TlockError("a quicknet signature is 48 bytes")
    try:
        u = bls.G2Point.from_compressed_bytes(body[:U_BYTES])
        sig = bls.G1Point.from_compressed_bytes(signature)
    except ValueError:  # what the binding raises for bytes that are not a point of the group
        raise TlockError("U or the signature is not a valid point") from None
    v, w = body[U_BYTES : U_BYTES + FILE_KEY_BYTES], body[U_BYTES + FILE_KEY_BYTES :]
    sigma = _xor(v, _h2(bls.GT.pairing(sig, u)))
    file_key = _xor(w, _h4(sigma))
    if bls.G2Point() * bls.Scalar(_h3(sigma, file_key)) != u:
        raise TlockError("tlock IBE check failed (wrong round or signature, or a tampered U/V/W)")
    return file_key


def open_sealed(field: str, round_number: int, signature: str | bytes) -> bytes:
    """The plaintext of a ``tlock`` field, opened with quicknet's signature of the round
    (hex or 48 raw bytes). Raises :class:`TlockError` if it does not open and
    :class:`TlockUnavailable` without the pairing library."""
    body, mac, payload = _split_field(field)
    round_number = _check_round(round_number)
    if isinstance(signature, str):
        try:
            signature = bytes.fromhex(signature)
        except ValueError:
            raise TlockError("signature is not hex") from None
    file_key = _ibe_decrypt(body, bytes(signature))
    if not hmac.compare_digest(_header_mac(file_key, _header(round_number, body)), mac):
        raise TlockError("age header MAC does not verify (wrong round?)")
    return _payload_decrypt(file_key, payload)


def _seal_with(plaintext: bytes, round_number: int, file_key: bytes, sigma: bytes, nonce: bytes) -> str:
    """:func:`seal` with its randomness given (for test vectors)."""
    round_number = _check_round(round_number)
    if len(file_key) != FILE_KEY_BYTES or len(sigma) != FILE_KEY_BYTES or len(nonce) != NONCE_BYTES:
        raise ValueError("file key and sigma are 16 bytes, the payload nonce 16 bytes")
    body = _ibe_encrypt(file_key, round_number, sigma)
    mac = _header_mac(file_key, _header(round_number, body))
    return base64.b64encode(body + mac + _payload_encrypt(file_key, nonce, bytes(plaintext))).decode()


def seal(plaintext: bytes, round_number: int) -> str:
    """The ``tlock`` field timelocking ``plaintext`` to a drand quicknet round."""
    file_key, sigma, nonce = os.urandom(FILE_KEY_BYTES), os.urandom(FILE_KEY_BYTES), os.urandom(NONCE_BYTES)
    return _seal_with(plaintext, round_number, file_key, sigma, nonce)
