"""Secret files made whole before they appear under their name (mode 0600).

Written to a temporary file in the same directory, flushed to disk, then hard-linked to
its name, which fails if the name exists: when several processes start at once on an empty
data directory, one wins and the others read its complete file, never an empty or
half-written one (market/security/keys.py says which files every host is given).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path


def write_new(path: Path, data: bytes) -> bool:
    """Make ``path`` hold ``data`` (mode 0600) unless it exists; False when it did, or when
    another process made it first. Nobody ever sees the file partly written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and never replaces an existing file
        except FileExistsError:
            return False
        _sync_directory(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _sync_directory(directory: Path) -> None:
    """The new name itself on disk, so that a crash cannot lose the key already in use."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_or_create_secret(path: Path) -> str:
    """Read the secret at ``path``, creating it (mode 0600) the first time."""
    if not path.exists():
        write_new(path, (secrets.token_urlsafe(48) + "\n").encode("ascii"))
    return path.read_text(encoding="ascii").strip()
