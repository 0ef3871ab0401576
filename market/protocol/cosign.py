"""Co-signatures of checkpoints, as C2SP tlog-cosignature v1 (Ed25519, "cosignature/v1").

A cosigner (a supervisor's witness) states with its signature that, as of a time, the
checkpoint is the largest consistent tree head it has seen of the log. The signature line
is a C2SP signed-note line appended after the operator's:

    — <name> base64(key_id || u64be(timestamp) || ed25519 signature)

where ``key_id = SHA-256(name || "\\n" || 0x04 || public key)[:4]`` and the signed message
is ``"cosignature/v1\\ntime <timestamp>\\n"`` followed by the checkpoint body (origin, size
and root lines, final newline included, no signature lines).

Like ``protocol`` this needs only the standard library and ``cryptography``: the witness
command and a standalone verifier can use it without the marketplace.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_COSIGNATURE_V1: Final = b"\x04"  # signed-note signature type of tlog-cosignature/v1 (Ed25519)
HEADER: Final = "cosignature/v1"
EM_DASH: Final = "\u2014"
MAX_TIMESTAMP: Final = 2**63 - 1
MAX_NAME: Final = 200
NAME_PATTERN: Final = re.compile(r"[!-~]{1,200}")  # printable ASCII, no space


class CosignatureError(ValueError):
    """A co-signature that is malformed or does not verify."""


@dataclass(frozen=True)
class Cosignature:
    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    @property
    def line(self) -> str:
        return signature_line(self.name, self.key_id, self.timestamp, self.signature)


def check_name(name: str) -> str:
    """A cosigner name as signed-note allows it: printable, no space, no '+' (the vkey
    separator)."""
    if not NAME_PATTERN.fullmatch(name) or "+" in name:
        raise CosignatureError("a cosigner name is 1 to 200 printable ASCII characters without spaces or '+'")
    return name


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """Strict standard base64 with padding, one spelling."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise CosignatureError(f"{text!r} is not base64") from None
    if b64(data) != text:
        raise CosignatureError(f"{text!r} is not canonical base64")
    return data


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public_key: bytes) -> bytes:
    """``SHA-256(name || "\\n" || 0x04 || public key)[:4]``."""
    if len(public_key) != 32:
        raise CosignatureError("an Ed25519 public key is 32 bytes")
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ALG_COSIGNATURE_V1 + public_key).digest()[:4]


def vkey(name: str, public_key: bytes) -> str:
    """The cosigner's verifier key, ``<name>+<hex key id>+base64(0x04 || public key)``."""
    check_name(name)
    return f"{name}+{key_id(name, public_key).hex()}+{b64(ALG_COSIGNATURE_V1 + public_key)}"


def parse_public_key(text: str) -> bytes:
    """A 32-byte Ed25519 public key from its standard base64."""
    key = unb64(text.strip())
    if len(key) != 32:
        raise CosignatureError("the public key must be the base64 of 32 bytes (a raw Ed25519 public key)")
    try:
        Ed25519PublicKey.from_public_bytes(key)
    except ValueError:
        raise CosignatureError("not an Ed25519 public key") from None
    return key


def checkpoint_body(note: str) -> str:
    """The text of a signed note (up to and including the newline before the blank line)."""
    split = note.find("\n\n")
    if split < 0:
        raise CosignatureError("not a signed note")
    return note[: split + 1]


def message(body: str, timestamp: int) -> bytes:
    """The bytes a v1 co-signature covers."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError("the timestamp must be between 0 and 2^63 - 1")
    if not body.endswith("\n"):
        raise CosignatureError("the checkpoint body must end with a newline")
    return f"{HEADER}\ntime {timestamp}\n{body}".encode()


def signature_line(name: str, kid: bytes, timestamp: int, signature: bytes) -> str:
    return f"{EM_DASH} {name} {b64(kid + timestamp.to_bytes(8, 'big') + signature)}"


def sign(
    body: str, name: str, private_key: Ed25519PrivateKey, *, timestamp: int | None = None
) -> Cosignature:
    check_name(name)
    ts = int(time.time()) if timestamp is None else timestamp
    signature = private_key.sign(message(body, ts))
    return Cosignature(
        name=name, key_id=key_id(name, public_bytes(private_key)), timestamp=ts, signature=signature
    )


def parse_line(line: str) -> Cosignature:
    """A co-signature line ``— <name> <base64>``, its blob split into key id, timestamp
    and signature."""
    fields = line.strip("\n").split(" ")
    if len(fields) != 3 or fields[0] != EM_DASH or not fields[1]:
        raise CosignatureError(
            "a co-signature line is '\u2014 <name> <base64(key id || timestamp || signature)>'"
        )
    name = check_name(fields[1])
    blob = unb64(fields[2])
    if len(blob) != 4 + 8 + 64:
        raise CosignatureError(
            "a cosignature/v1 blob is 76 bytes: key id (4), timestamp (8), Ed25519 signature (64)"
        )
    timestamp = int.from_bytes(blob[4:12], "big")
    if timestamp > MAX_TIMESTAMP:
        raise CosignatureError("the timestamp must not exceed 2^63 - 1")
    return Cosignature(name=name, key_id=blob[:4], timestamp=timestamp, signature=blob[12:])


def verify(body: str, public_key: bytes, timestamp: int, signature: bytes) -> bool:
    if len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message(body, timestamp))
    except (InvalidSignature, ValueError):
        return False
    return True


def append(note: str, lines: list[str]) -> str:
    """The signed note with more signature lines after the ones it has."""
    if not note.endswith("\n"):
        raise CosignatureError("a signed note ends with a newline")
    return note + "".join(line + "\n" for line in lines)


def open_cosigned(note: str, name: str, public_key: bytes) -> Cosignature:
    """The verified co-signature by (name, key) on ``note``; an error if none or a bad one."""
    body = checkpoint_body(note)
    want = key_id(name, public_key)
    found: Cosignature | None = None
    for line in note[len(body) + 1 :].split("\n"):
        if not line:
            continue
        fields = line.split(" ")
        if len(fields) != 3 or fields[1] != name:
            continue
        try:
            blob = unb64(fields[2])
        except CosignatureError:
            continue
        if blob[:4] != want:
            continue
        cosig = parse_line(line)
        if not verify(body, public_key, cosig.timestamp, cosig.signature):
            raise CosignatureError(f"the co-signature by {name} does not verify")
        found = cosig
    if found is None:
        raise CosignatureError(f"no co-signature by {name} with key id {want.hex()}")
    return found


# -- the command line helper: `market log cosign` ------------------------------------------


def load_private_key(path: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (``openssl genpkey -algorithm ed25519``) or a
    file holding the base64 of its 32-byte seed."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    with open(path, "rb") as f:
        data = f.read()
    if b"-----BEGIN" in data:
        key = load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise CosignatureError(f"{path} does not hold an Ed25519 private key")
        return key
    try:
        seed = base64.b64decode(data.strip(), validate=True)
    except binascii.Error:
        raise CosignatureError(
            f"{path} is neither a PEM private key nor the base64 of a 32-byte seed"
        ) from None
    if len(seed) != 32:
        raise CosignatureError(f"{path} is neither a PEM private key nor the base64 of a 32-byte seed")
    return Ed25519PrivateKey.from_private_bytes(seed)


def run_cosign(
    url: str | None,
    key_file: str,
    name: str,
    *,
    state_dir: str | None = None,
    token: str | None = None,
    register: bool = False,
    print_public_key: bool = False,
) -> int:
    """Fetch, verify (and with a state directory check consistency), co-sign and POST."""
    import json
    import sys
    from pathlib import Path

    from market import protocol
    from market.protocol import witness

    def fail(message: str, code: int) -> int:
        print(f"market log cosign: {message}", file=sys.stderr)
        return code

    try:
        check_name(name)
        private_key = load_private_key(key_file)
    except CosignatureError as exc:
        return fail(str(exc), witness.EXIT_BAD_SIGNATURE)
    except OSError as exc:
        return fail(f"cannot read {key_file}: {exc}", witness.EXIT_STATE)
    public_key = public_bytes(private_key)
    if print_public_key:
        print(f"public key (base64): {b64(public_key)}")
        print(f"key id: {key_id(name, public_key).hex()}")
        print(f"cosigner key: {vkey(name, public_key)}")
        return witness.EXIT_OK
    if not url:
        return fail("--url is required", 2)

    source = witness.HttpSource(url)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        if register:
            if not token:
                return fail("--register needs a supervisor's token (--token or MARKET_TOKEN)", 2)
            body = json.dumps({"name": name, "public_key": b64(public_key)}).encode()
            try:
                source.request("POST", "/api/v1/log/cosigners", body, headers)
            except witness.WitnessError as exc:
                return fail(f"the key registration was refused: {exc}", witness.EXIT_REFUSED)
        if state_dir:
            result = witness.witness(source, Path(state_dir))
            note, origin, size = result.note, result.origin, result.new_size
            print(result.summary(Path(state_dir)))
        else:
            served_key = source.key().strip()
            note = source.checkpoint()
            try:
                origin, size, _ = protocol.open_checkpoint(note, served_key)
            except (protocol.NoteError, ValueError) as exc:
                return fail(f"the checkpoint does not verify: {exc}", witness.EXIT_BAD_SIGNATURE)
            print(
                "note: no --state given, so consistency with an earlier checkpoint was not checked",
                file=sys.stderr,
            )
        cosig = sign(checkpoint_body(note), name, private_key)
        body = json.dumps({"size": size, "cosignature": cosig.line}).encode()
        try:
            source.request("POST", "/api/v1/log/cosignatures", body, headers)
        except witness.WitnessError as exc:
            return fail(f"the co-signature was refused: {exc}", witness.EXIT_REFUSED)
    except witness.WitnessError as exc:
        return fail(str(exc), exc.code)
    print(
        f"co-signed the checkpoint of {origin} at {size} entries as {name} (key id {cosig.key_id.hex()}, time {cosig.timestamp})"
    )
    return witness.EXIT_OK
