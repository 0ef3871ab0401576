"""Private keys kept in the data directory (PEM, mode 0600), created on first start, or
handed in through an environment variable so that several servers share one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from market.core.config import ConfigError


def _write_new(path: Path, pem: bytes) -> bool:
    """Write ``pem`` unless the file exists; False when another process won the race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return True


def load_or_create_key(path: Path, *, env_value: str | None, generate: Callable[[], Any], what: str) -> Any:
    """The PEM private key from ``env_value``, else from ``path``, else a new one saved there."""
    if env_value:
        try:
            return serialization.load_pem_private_key(env_value.encode(), password=None)
        except ValueError as exc:
            raise ConfigError(f"the {what} in the environment is not a PEM private key: {exc}") from None
    if not path.exists():
        key = generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        if _write_new(path, pem):
            return key
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ConfigError(f"{path} does not hold a PEM private key ({what}): {exc}") from None
