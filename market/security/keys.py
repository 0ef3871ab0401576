"""The secret and the private keys every app host must share: each from its environment
variable, or from its file in the data directory (mode 0600).

Development and tests make a missing file on first start. Production does not: a host
that made its own key would sign checkpoints and receipts with a key nobody else trusts,
and open no secret sealed by the others, so it refuses to start and says which key is
missing and how to make them once (``market keys generate``) for every host.

A file is made whole before it appears under its name (written to a temporary file in the
same directory, flushed to disk, then hard-linked to its name, which fails if the name
exists): when several processes start at once on an empty data directory, one wins and
the others read its complete file, never an empty or half-written one.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from market.core.config import ConfigError
from market.core.keyfiles import load_or_create_secret, write_new

__all__ = ["load_or_create_secret", "write_new"]  # with the host keys below; kept importable from here

GENERATE_COMMAND = "market keys generate --out DIR"
SECRET_FILE = "secret_key"  # Settings.with_secret's; the keys' names are in their modules
SECRET_ENV = "MARKET_SECRET_KEY"


def pem(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def load_or_create_key(path: Path, *, env_value: str | None, generate: Callable[[], Any], what: str) -> Any:
    """The PEM private key from ``env_value``, else from ``path``, else a new one saved there
    (production has refused to start before it gets here without one: require_keys)."""
    if env_value:
        try:
            return serialization.load_pem_private_key(env_value.encode(), password=None)
        except ValueError as exc:
            raise ConfigError(f"the {what} in the environment is not a PEM private key: {exc}") from None
    if not path.exists():
        refuse_in_production(path, what)
        key = generate()
        if write_new(path, pem(key)):
            return key
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ConfigError(f"{path} does not hold a PEM private key ({what}): {exc}") from None


def refuse_in_production(path: Path, what: str) -> None:
    """A production host never makes a key of its own, whatever asks for one: a command run
    before the keys were copied (``market log verify``) would otherwise leave one in the
    data dir, which ``market serve`` would then take as given (require_keys says why)."""
    if os.environ.get("MARKET_ENV") == "production":
        raise ConfigError(
            f"MARKET_ENV=production, and this host is given no {what} ({path}): a production host never "
            f"makes keys of its own; make them once with `{GENERATE_COMMAND}` and give every host the same "
            "files or variables (docs/security.md)"
        )


# -- the four every host is given ------------------------------------------------------------


@dataclass(frozen=True)
class HostKey:
    what: str
    file: str
    env: str
    make: Callable[[], bytes]  # a new file's content


def host_keys() -> tuple[HostKey, ...]:
    # Imported here: each module imports this one for load_or_create_key.
    from market.bids import receipts
    from market.log import signer
    from market.notices import secrets as sealing

    return (
        HostKey(
            "secret key (tokens and CSRF)",
            SECRET_FILE,
            SECRET_ENV,
            lambda: (secrets.token_urlsafe(48) + "\n").encode("ascii"),
        ),
        HostKey(
            "log signing key", signer.KEY_FILE, signer.KEY_ENV, lambda: pem(Ed25519PrivateKey.generate())
        ),
        HostKey(
            "receipt signing key",
            receipts.KEY_FILE,
            receipts.KEY_ENV,
            lambda: pem(ec.generate_private_key(ec.SECP256R1())),
        ),
        HostKey(
            "secret seal key",
            sealing.KEY_FILE,
            sealing.KEY_ENV,
            lambda: (base64.b64encode(secrets.token_bytes(32)).decode("ascii") + "\n").encode("ascii"),
        ),
    )


def where(key: HostKey, data_dir: Path, environ: Mapping[str, str]) -> str | None:
    """Where a host finds ``key``: "environment", the file's path, or None (missing)."""
    if environ.get(key.env):
        return "environment"
    path = data_dir / key.file
    return str(path) if path.is_file() else None


def missing_keys(data_dir: Path, environ: Mapping[str, str] | None = None) -> list[HostKey]:
    env = os.environ if environ is None else environ
    return [key for key in host_keys() if where(key, data_dir, env) is None]


def require_keys(
    data_dir: Path, *, secret_given: bool = False, environ: Mapping[str, str] | None = None
) -> None:
    """Production's start: every key from its variable or its file, or a ConfigError that
    names the missing ones and how to make them. Never a key of this host's own. The
    secret counts as given only through the settings (``secret_given``), which are what
    Settings.with_secret reads it from."""
    env = dict(os.environ if environ is None else environ)
    env.pop(SECRET_ENV, None)
    missing = [key for key in missing_keys(data_dir, env) if not (secret_given and key.file == SECRET_FILE)]
    if not missing:
        return
    named = "; no ".join(f"{key.what} ({key.env}, or the file {data_dir / key.file})" for key in missing)
    raise ConfigError(
        f"MARKET_ENV=production, and this host is given no {named}. A production host never makes "
        f"keys of its own (another host would not trust what it signs): make them once with `{GENERATE_COMMAND}`, "
        "then give every host the same files in MARKET_DATA_DIR (mode 0600) or the same variables "
        "(docs/security.md)"
    )


def generate(out: Path) -> list[tuple[HostKey, bool]]:
    """Every host key as a file in ``out`` (mode 0600), each with True when made now and
    False when a file of that name was there already (it is kept, never overwritten)."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    return [(key, write_new(out / key.file, key.make())) for key in host_keys()]


def copy_instructions(out: Path) -> str:
    files = ", ".join(key.file for key in host_keys())
    variables = ", ".join(key.env for key in host_keys())
    return (
        f"Give every app host the same keys: copy {files} from {out} into each host's MARKET_DATA_DIR "
        f"(owned by the service's user, mode 0600), or give every host the same {variables} "
        "(each file's whole text). Keep a copy offline with the backups: checkpoints and receipts "
        "verify only under these keys, sealed secrets open only with this seal key. "
        "`market keys check` on each host prints fingerprints that must be the same everywhere."
    )


def fingerprints(data_dir: Path, log_origin: str, secret: str) -> list[tuple[str, str]]:
    """What each key is, short enough to compare between hosts by eye: the log's verifier
    key, the receipt key's id, and hashes of the two secrets (which they do not reveal)."""
    import hashlib

    from market.bids.receipts import ReceiptSigner
    from market.log.signer import LogSigner
    from market.notices.secrets import KEY_ENV as SEAL_ENV
    from market.notices.secrets import KEY_FILE as SEAL_FILE

    seal = os.environ.get(SEAL_ENV) or (data_dir / SEAL_FILE).read_text(encoding="ascii")
    return [
        ("secret key", "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]),
        ("log verifier key", LogSigner.from_data_dir(log_origin, data_dir).verifier_key),
        ("receipt key id", ReceiptSigner.from_data_dir(data_dir).kid),
        ("secret seal key", "sha256:" + hashlib.sha256(base64.b64decode(seal.strip())).hexdigest()[:16]),
    ]
