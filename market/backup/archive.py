"""A backup archive's names and manifest, and reading one back: every check restore makes
before it changes anything, without a database."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast

from market.backup.errors import EXIT_ARCHIVE, BackupError
from market.bids import receipts
from market.log import signer
from market.notices import secrets as sealing

FORMAT = "market-backup"
VERSION = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
KEYS = "keys"
UPLOADS = "uploads"
# The secret and keys of the data directory and the variables that can stand in for them.
# secret_key is Settings.with_secret's file; the others are named by their modules.
KEY_FILES = {
    "secret_key": "MARKET_SECRET_KEY",
    signer.KEY_FILE: signer.KEY_ENV,
    receipts.KEY_FILE: receipts.KEY_ENV,
    sealing.KEY_FILE: sealing.KEY_ENV,
}
CHUNK = 1 << 20
MAX_MANIFEST = 64 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# -- reading an archive ------------------------------------------------------------------------------

_SAFE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def check_name(name: str) -> None:
    """Only the names a backup writes: no absolute paths, no '..', nothing outside keys/
    and uploads/ but the dump and the manifest."""
    if name in (MANIFEST, DUMP):
        return
    parts = PurePosixPath(name).parts
    if len(parts) == 2 and parts[0] == KEYS and parts[1] in KEY_FILES:
        return
    if (
        len(parts) >= 2
        and parts[0] == UPLOADS
        and all(_SAFE_PART.fullmatch(p) for p in parts[1:])
        and "/".join(parts) == name
    ):
        return
    raise BackupError(f"the archive holds {name!r}, which no market backup holds: refused", EXIT_ARCHIVE)


@dataclass
class Archive:
    path: Path
    manifest: dict[str, Any]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], self.manifest["files"])

    @property
    def checkpoint(self) -> dict[str, Any] | None:
        return cast(dict[str, Any] | None, self.manifest["log"]["checkpoint"])


ARCHIVE_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, ValueError)


@contextlib.contextmanager
def reading(path: Path) -> Iterator[tarfile.TarFile]:
    """The archive open for reading; a damaged one, wherever the damage is met (tar
    header, compressed stream, a member's bytes), is refused with one line."""
    if not path.is_file():
        raise BackupError(f"--from {path}: no such file")
    try:
        with tarfile.open(path, mode="r:*") as tar:
            yield tar
    except tarfile.ReadError as exc:
        first = str(exc).splitlines()[0].rstrip(":")
        raise BackupError(
            f"{path} cannot be read as a tar archive ({first}): not a market backup, or truncated; nothing was changed",
            EXIT_ARCHIVE,
        ) from None
    except ARCHIVE_ERRORS as exc:
        raise BackupError(
            f"{path} is truncated or corrupted ({exc}); nothing was changed", EXIT_ARCHIVE
        ) from None


def members(tar: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    """Each regular file of the archive with a stream of its bytes; anything else refused."""
    seen: set[str] = set()
    for member in tar:
        check_name(member.name)
        if not member.isreg():
            raise BackupError(f"the archive's {member.name} is not a regular file: refused", EXIT_ARCHIVE)
        if member.name in seen:
            raise BackupError(f"the archive holds {member.name} twice: refused", EXIT_ARCHIVE)
        seen.add(member.name)
        stream = tar.extractfile(member)
        assert stream is not None  # a regular file always has one
        yield member, stream


def copy_hashing(stream: IO[bytes], sink: Callable[[bytes], Any] | None = None) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink(chunk)
    return digest.hexdigest(), size


def _listed_files(manifest: dict[str, Any]) -> dict[str, tuple[str, int, int]]:
    """{name: (sha256, size, mode)} from the manifest, whose other fields restore reads are
    checked here too, so that a damaged manifest fails before anything is changed."""
    if not isinstance(manifest["log"]["origin"], str) or not isinstance(manifest["created_at"], str):
        raise TypeError("log.origin and created_at must be strings")
    checkpoint = manifest["log"]["checkpoint"]
    if checkpoint is not None and not (
        isinstance(checkpoint["size"], int)
        and isinstance(checkpoint["root"], str)
        and isinstance(checkpoint["note"], str)
    ):
        raise TypeError("log.checkpoint must have a size, a root and a note")
    if not isinstance(manifest.get("keys_from_environment", []), list):
        raise TypeError("keys_from_environment must be a list")
    return {
        name: (str(e["sha256"]), int(e["size"]), int(str(e["mode"]), 8))
        for name, e in manifest["files"].items()
    }


def read_archive(path: Path) -> Archive:
    """Check the archive against its manifest: every file listed, present, of the listed
    SHA-256 and size, and nothing else. Reads the whole archive and writes nothing."""
    manifest_bytes: bytes | None = None
    found: dict[str, tuple[str, int]] = {}
    with reading(path) as tar:
        for member, stream in members(tar):
            if member.name == MANIFEST:
                if member.size > MAX_MANIFEST:
                    raise BackupError(
                        f"the archive's manifest is {member.size} bytes, too large to be one", EXIT_ARCHIVE
                    )
                manifest_bytes = stream.read()
                if len(manifest_bytes) != member.size:
                    raise BackupError(
                        f"{path} is truncated (in the manifest); nothing was changed", EXIT_ARCHIVE
                    )
            else:
                digest, size = copy_hashing(stream)
                if size != member.size:
                    raise BackupError(
                        f"{path} is truncated (in {member.name}); nothing was changed", EXIT_ARCHIVE
                    )
                found[member.name] = (digest, size)
    if manifest_bytes is None:
        raise BackupError(f"{path} holds no {MANIFEST}: not a market backup, or truncated", EXIT_ARCHIVE)
    try:
        manifest = json.loads(manifest_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"the archive's {MANIFEST} is not JSON ({exc})", EXIT_ARCHIVE) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(
            f"{path} is not a market backup (its manifest's format is not {FORMAT!r})", EXIT_ARCHIVE
        )
    if manifest.get("version") != VERSION:
        raise BackupError(
            f"{path} is a market backup of format version {manifest.get('version')!r}; this market reads version {VERSION}",
            EXIT_ARCHIVE,
        )
    try:
        listed = _listed_files(manifest)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BackupError(
            f"the archive's manifest lacks or misspells a field ({exc!r})", EXIT_ARCHIVE
        ) from None
    for name in listed:
        check_name(name)
    if DUMP not in listed:
        raise BackupError(f"the archive's manifest lists no {DUMP}", EXIT_ARCHIVE)
    for name, (sha256, size, _) in sorted(listed.items()):
        if name not in found:
            raise BackupError(
                f"{path} lacks {name}, which its manifest lists: truncated or incomplete; nothing was changed",
                EXIT_ARCHIVE,
            )
        if found[name] != (sha256, size):
            raise BackupError(
                f"{name} in {path} does not match its SHA-256 in the manifest: the archive is corrupted or was altered; "
                "nothing was changed",
                EXIT_ARCHIVE,
            )
    extra = sorted(set(found) - set(listed))
    if extra:
        raise BackupError(f"{path} holds {extra[0]}, which its manifest does not list: refused", EXIT_ARCHIVE)
    return Archive(path=path, manifest=manifest)
