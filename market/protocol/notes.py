"""Checkpoints and C2SP signed notes (MSP section 3): the text, Ed25519 signatures, verifier
keys. Pure: see ``market.protocol``."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from market.protocol.encoding import (
    H,
    check_digest,
)

# ---------------------------------------------------------------------------------------
# Checkpoints and signed notes (section 3, C2SP tlog-checkpoint and signed-note)
# ---------------------------------------------------------------------------------------

_ED25519: Final = b"\x01"  # signed-note signature type of Ed25519
_EM_DASH: Final = "\u2014"
_MAX_SIGNATURES: Final = 100  # as Go's note package: bounds the work a hostile note causes


class NoteError(ValueError):
    """A signed note or checkpoint that is malformed or does not verify."""


def _check_origin(origin: str) -> str:
    # The verifier key is split at '+', and signature lines at spaces.
    if not origin or "+" in origin or any(c.isspace() for c in origin):
        raise ValueError(f"origin {origin!r} must be non-empty, without '+' or white space")
    return origin


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict standard base64: padding required, no stray characters, one spelling."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError(f"{text!r} is not base64") from None
    if _b64(data) != text:  # non-zero padding bits would give two spellings
        raise ValueError(f"{text!r} is not canonical base64")
    return data


def _public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    _check_origin(origin)
    if size < 0:
        raise ValueError("size must not be negative")
    check_digest(root, "root")
    return f"{origin}\n{size}\n{_b64(root)}\n"


def parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint body; anything but the three lines is refused."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) != 3:
        raise NoteError(f"checkpoint must have 3 lines, has {len(lines)}")
    origin, size_text, root_text = lines
    try:
        _check_origin(origin)
    except ValueError as exc:
        raise NoteError(str(exc)) from None
    # Decimal, no sign, no leading zero: one size, one spelling.
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
        raise NoteError(f"checkpoint size {size_text!r} is not a decimal number")
    try:
        root = _unb64(root_text)
    except ValueError as exc:
        raise NoteError(str(exc)) from None
    if len(root) != 32:
        raise NoteError("checkpoint root must be 32 bytes")
    return origin, int(size_text), root


def key_id(origin: str, public_key: bytes) -> bytes:
    """The 4-byte key id of signed-note: names the key in signature lines so a reader can
    pick the line to check."""
    return H(origin.encode("utf-8") + b"\n" + _ED25519 + public_key)[:4]


def verifier_key(origin: str, public_key: bytes) -> str:
    _check_origin(origin)
    if len(public_key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return f"{origin}+{key_id(origin, public_key).hex()}+{_b64(_ED25519 + public_key)}"


def parse_verifier_key(line: str) -> tuple[str, bytes, bytes]:
    """(origin, key id, public key) of a verifier key line, checked for consistency."""
    line = line.removesuffix("\n")  # served as text/plain, often with a final newline
    parts = line.split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key must be <origin>+<key id>+<key>")
    origin, id_hex, key_text = parts
    try:
        _check_origin(origin)
        key = _unb64(key_text)
    except ValueError as exc:
        raise NoteError(str(exc)) from None
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise NoteError("verifier key id must be 8 lowercase hex digits")
    if len(key) != 33 or key[:1] != _ED25519:
        raise NoteError("verifier key is not an Ed25519 key")
    public_key = key[1:]
    if key_id(origin, public_key).hex() != id_hex:
        raise NoteError("verifier key id does not match its key")
    return origin, bytes.fromhex(id_hex), public_key


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    # Control characters could hide text from a human reading the note.
    if any(c < " " and c != "\n" for c in text):
        raise NoteError("note text holds control characters")
    try:
        text.encode("utf-8")  # signatures cover UTF-8 bytes: a lone surrogate has none
    except UnicodeEncodeError:
        raise NoteError("note text is not valid Unicode") from None


def sign_note(text: str, origin: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note: text, a blank line, one signature line (signature over the text's
    UTF-8 bytes, final newline included)."""
    _check_note_text(text)
    _check_origin(origin)
    public_key = _public_bytes(private_key.public_key())
    signature = private_key.sign(text.encode("utf-8"))
    return f"{text}\n{_EM_DASH} {origin} {_b64(key_id(origin, public_key) + signature)}\n"


def open_note(note: str, verifier_key_line: str) -> str:
    """The text of ``note`` once a signature by the given key verifies. Lines by other
    keys are skipped (a witness may co-sign); a bad line by this key is an error."""
    origin, want_id, public_key = parse_verifier_key(verifier_key_line)
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note")
    text, signature_block = note[: split + 1], note[split + 2 :]
    _check_note_text(text)
    lines = signature_block[:-1].split("\n") if signature_block else []
    if not lines:
        raise NoteError("note has no signatures")
    if len(lines) > _MAX_SIGNATURES:
        raise NoteError("note has too many signatures")
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    verified = False
    for line in lines:
        fields = line.split(" ")
        if len(fields) != 3 or fields[0] != _EM_DASH or not fields[1]:
            raise NoteError(f"malformed signature line {line!r}")
        _, name, blob_text = fields
        try:
            blob = _unb64(blob_text)
        except ValueError as exc:
            raise NoteError(str(exc)) from None
        if len(blob) < 5:
            raise NoteError("signature too short")
        if name != origin or blob[:4] != want_id:
            continue
        try:
            verifier.verify(blob[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise NoteError(f"signature by {origin} does not verify") from None
        verified = True
    if not verified:
        raise NoteError(f"no signature by {origin} with key id {want_id.hex()}")
    return text


def open_checkpoint(note: str, verifier_key_line: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a signed checkpoint, verified, whose origin is the key's."""
    key_origin = parse_verifier_key(verifier_key_line)[0]
    origin, size, root = parse_checkpoint(open_note(note, verifier_key_line))
    # A valid signature over another log's checkpoint must not pass for this log's.
    if origin != key_origin:
        raise NoteError(f"checkpoint origin {origin!r} is not the key's {key_origin!r}")
    return origin, size, root
