"""The log's Ed25519 signing key and what it signs (checkpoints as C2SP signed notes)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from market import protocol
from market.core.config import ConfigError
from market.security.keys import load_or_create_key

KEY_FILE = "log_signing_key.pem"
KEY_ENV = "MARKET_LOG_SIGNING_KEY"


@dataclass(frozen=True)
class LogSigner:
    origin: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def verifier_key(self) -> str:
        return protocol.verifier_key(self.origin, self.public_key)

    def sign_checkpoint(self, size: int, root: bytes) -> str:
        return protocol.sign_note(
            protocol.checkpoint_text(self.origin, size, root), self.origin, self.private_key
        )

    @classmethod
    def from_data_dir(cls, origin: str, data_dir: Path) -> LogSigner:
        key = load_or_create_key(
            data_dir / KEY_FILE,
            env_value=os.environ.get(KEY_ENV),
            generate=Ed25519PrivateKey.generate,
            what="log signing key",
        )
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError("the log signing key must be an Ed25519 key")
        return cls(origin=origin, private_key=key)
