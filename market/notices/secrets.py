"""Sealing a notice's secret and MSP/2 bids' opening material at rest: AES-256-GCM under a key in the data directory
(or MARKET_SECRET_SEAL_KEY), bound to the notice id, so that a database dump or a read of
the table before closing reveals nothing that would let anyone predict the draw."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from market.core.config import ConfigError

KEY_FILE = "secret_seal_key"
KEY_ENV = "MARKET_SECRET_SEAL_KEY"


class SecretSealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigError("the secret-sealing key must be 32 bytes (base64 in the file or environment)")
        self._aead = AESGCM(key)

    def seal(self, label: str, secret: bytes) -> bytes:
        """``secret`` sealed and bound to ``label`` (a notice id for its MSP/1 secret,
        ``bid/<bid id>`` for an MSP/2 bid's opening material): a sealed value moved to
        another row does not open."""
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, secret, label.encode())

    def open(self, label: str, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], label.encode())
        except InvalidTag:
            raise ConfigError(f"the sealed value of {label} does not open under this key") from None

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> SecretSealer:
        if value := os.environ.get(KEY_ENV):
            return cls(base64.b64decode(value))
        path = data_dir / KEY_FILE
        if not path.exists():  # made whole before it appears: a second process reads the same
            from market.security.keys import refuse_in_production, write_new

            refuse_in_production(path, "secret seal key")
            write_new(path, (base64.b64encode(secrets.token_bytes(32)).decode() + "\n").encode())
        return cls(base64.b64decode(path.read_text(encoding="ascii").strip()))
