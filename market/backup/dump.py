"""``market backup``: one snapshot of the database by pg_dump (uploaded files included:
they live in the database, market/files), the data dir's keys, and a manifest with every
file's SHA-256, in one archive written atomically."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, cast

from market import __version__, protocol
from market.backup.archive import DUMP, FORMAT, KEY_FILES, KEYS, MANIFEST, VERSION
from market.backup.errors import EXIT_DATABASE, EXIT_VERIFY, BackupError
from market.backup.pg import (
    connect,
    db_name,
    find_tools,
    has_table,
    latest_checkpoint,
    libpq_env,
    referenced_uploads,
    server_major,
    tail,
)
from market.core.config import Settings
from market.core.pgembed import database_url_for
from market.log import signer

COMPRESSION = {".tar": "", ".tar.gz": "gz", ".tgz": "gz", ".tar.xz": "xz", ".txz": "xz", ".tar.bz2": "bz2"}
# tarfile's writing mode for each, spelled out: its typing knows each mode by name
WRITE_MODE: dict[str, Literal["w:", "w:gz", "w:xz", "w:bz2"]] = {
    "": "w:",
    "gz": "w:gz",
    "xz": "w:xz",
    "bz2": "w:bz2",
}


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Backup:
    manifest: dict[str, Any]
    out: Path
    seconds: float
    warnings: list[str] = field(default_factory=list)


def _compression(out: Path) -> str:
    name = out.name.lower()
    for suffix, mode in sorted(COMPRESSION.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix) and len(name) > len(suffix):
            return mode
    raise BackupError(f"--out {out}: the name must end in {', '.join(COMPRESSION)}")


def _log_signer(settings: Settings, *, create: bool) -> signer.LogSigner | None:
    """The data dir's (or the environment's) log signing key; None when there is none and
    ``create`` is false, so that a backup never makes up a key for a log that has one."""
    if (
        not create
        and not os.environ.get(signer.KEY_ENV)
        and not (settings.data_dir / signer.KEY_FILE).is_file()
    ):
        return None
    return signer.LogSigner.from_data_dir(settings.log_origin, settings.data_dir)


async def _dump_database(url: str, settings: Settings, dump: Path) -> dict[str, Any]:
    """Sign a checkpoint for everything committed, then dump one snapshot of the database
    and read, from that same snapshot, the checkpoint and which uploaded files it lacks."""
    conn = await connect(url)
    try:
        major = await server_major(conn)
        tools = find_tools(major)
        if not await has_table(conn, "log_checkpoint") or not await has_table(conn, "alembic_version"):
            raise BackupError(
                f"the database {db_name(url)} is not a market database (no log tables): check DATABASE_URL",
                EXIT_DATABASE,
            )
        latest = await latest_checkpoint(conn)
        log_signer = _log_signer(settings, create=latest is None)
        if log_signer is None:
            raise BackupError(
                f"the log has signed checkpoints but {settings.data_dir} holds no {signer.KEY_FILE} and "
                f"{signer.KEY_ENV} is unset: MARKET_DATA_DIR must be the server's data directory"
            )
        if latest is not None:
            try:
                protocol.open_checkpoint(latest["note"], log_signer.verifier_key)
            except (ValueError, protocol.NoteError) as exc:
                raise BackupError(
                    f"the log's latest checkpoint does not verify under the log signing key of {settings.data_dir} ({exc}): "
                    "MARKET_DATA_DIR and MARKET_LOG_ORIGIN must be the server's",
                    EXIT_VERIFY,
                ) from None
        # Entries appended since the last checkpoint get one now, as the server would within
        # seconds, so the manifest's checkpoint covers the whole log in the dump.
        from market.core.db import Database
        from market.log import store

        db = Database.from_url(url)
        try:
            async with db.transaction() as session:
                await store.ensure_checkpoint(session, log_signer)
        finally:
            await db.dispose()

        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            checkpoint = await latest_checkpoint(conn)
            entries = int(await conn.fetchval("SELECT coalesce(max(seq) + 1, 0) FROM log_entry"))
            revision = await conn.fetchval("SELECT version_num FROM alembic_version")
            server_version = await conn.fetchval("SHOW server_version")
            stored, not_stored = await referenced_uploads(conn)
            # The exported snapshot lives as long as this transaction: pg_dump runs inside it.
            command = [
                tools("pg_dump"),
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-password",
                "--file",
                str(dump),
            ]
            done = await asyncio.to_thread(
                subprocess.run,
                command,
                env=libpq_env(url),
                capture_output=True,
                text=True,
                timeout=3600,
                check=False,
            )
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {tail(done.stderr)}", EXIT_DATABASE)
    finally:
        await conn.close()
    return {
        "database": {
            "name": db_name(url),
            "server_version": str(server_version),
            "alembic_revision": str(revision),
            "dumped_with": tools.version,
        },
        "log": {
            "origin": settings.log_origin,
            "verifier_key": log_signer.verifier_key,
            "entries": entries,
            "checkpoint": checkpoint,
        },
        "uploads": {"in_database": stored, "missing": not_stored},
    }


class _HashingReader:
    """Hands a file to tarfile while hashing what it reads."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, name: str, path: Path, mode: int) -> dict[str, Any]:
    info = tar.gettarinfo(str(path), arcname=name)
    info.mode, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, "", ""
    with path.open("rb") as fh:
        reader = _HashingReader(fh)
        tar.addfile(info, cast(IO[bytes], reader))
    return {"sha256": reader.digest.hexdigest(), "size": info.size, "mode": f"{mode:04o}"}


def backup(settings: Settings, out: Path) -> Backup:
    """Write the archive to ``out`` (replaced atomically; mode 0600)."""
    started = time.monotonic()
    compression = _compression(out)
    out = out.absolute()
    if not out.parent.is_dir():
        raise BackupError(f"--out {out}: the directory {out.parent} does not exist")
    warnings: list[str] = []
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
    work = partial.with_name(partial.name + ".d")
    try:
        work.mkdir(mode=0o700)
        os.chmod(work, 0o700)
        dump = work / DUMP
        with database_url_for(settings.database_url, settings.data_dir) as url:
            facts = asyncio.run(_dump_database(url, settings, dump))
        os.chmod(dump, 0o600)
        files: dict[str, dict[str, Any]] = {}
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise BackupError(f"--out {out}: cannot write there ({exc.strerror})") from None
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode=WRITE_MODE[compression], format=tarfile.PAX_FORMAT) as tar:
                files[DUMP] = _add_file(tar, DUMP, dump, 0o600)
                from_env: list[str] = []
                for key, env_name in KEY_FILES.items():
                    path = settings.data_dir / key
                    if path.is_file():
                        files[f"{KEYS}/{key}"] = _add_file(tar, f"{KEYS}/{key}", path, 0o600)
                    elif os.environ.get(env_name):
                        from_env.append(env_name)
                        warnings.append(
                            f"{key} is not in the data dir but in {env_name}: keep that value safe apart from this backup"
                        )
                    else:
                        warnings.append(
                            f"{settings.data_dir / key} does not exist (the server makes it on first start)"
                        )
                # Uploaded files are in the dump. Those an older version left on disk and
                # nobody imported yet are not: say so rather than carry the disk along.
                missing = facts["uploads"]["missing"]
                if missing:
                    warnings.append(
                        f"{len(missing)} uploaded file(s) the database refers to are not stored in it, such as "
                        f"{settings.data_dir / missing[0]}: run `market files import`, then back up again"
                    )
                manifest = {
                    "format": FORMAT,
                    "version": VERSION,
                    "created_at": _utc_stamp(),
                    "market_version": __version__,
                    **facts,
                    "keys_from_environment": from_env,
                    "files": files,
                }
                body = json.dumps(manifest, ensure_ascii=False, indent=1).encode() + b"\n"
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = len(body), 0o600, int(time.time())
                tar.addfile(info, io.BytesIO(body))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)
        with contextlib.suppress(OSError):  # make the rename durable where the platform allows
            dir_fd = os.open(out.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    return Backup(manifest=manifest, out=out, seconds=time.monotonic() - started, warnings=warnings)
