"""``market backup`` and ``market restore``: the database and the data directory in one archive.

A backup is a tar file (compressed as its name says) holding

- ``database.dump``: pg_dump's custom format, taken from one snapshot of the database;
- ``keys/...``: the data directory's secret and keys (secret_key, log_signing_key.pem,
  receipt_signing_key.pem, secret_seal_key), those that exist there;
- ``uploads/...``: every uploaded file (agency documents, deliverables), content-addressed;
- ``manifest.json``: format version, time, database, the log's latest checkpoint in the
  dump, and the SHA-256, size and mode of every other file in the archive.

Restoring checks every hash before changing anything, refuses to overwrite a database that
holds data or keys that differ unless told to, restores the dump in one transaction, puts
the files back with their modes and verifies the restored log against the manifest.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

from market import __version__
from market.core.config import Settings
from market.core.pgembed import candidate_bindirs, database_url_for
from market.log import protocol, receipts, signer
from market.notices import secrets as sealing

if TYPE_CHECKING:
    import asyncpg

    from market.log.verifier import Report

# asyncpg, SQLAlchemy and the log's store are imported where they are used: the parser
# imports this module for its help text, and every `market` command should start quickly.

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
COMPRESSION = {".tar": "", ".tar.gz": "gz", ".tgz": "gz", ".tar.xz": "xz", ".txz": "xz", ".tar.bz2": "bz2"}
CHUNK = 1 << 20
MAX_MANIFEST = 64 << 20

EXIT_FAILED = 1
EXIT_ARCHIVE = 3
EXIT_IN_USE = 4
EXIT_DATABASE = 5
EXIT_VERIFY = 6
EXIT_CODES_HELP = """exit codes:
  0  done (restore: the restored log verifies and matches the backup's checkpoint)
  1  a setting or a file is wrong (unwritable --out, another MARKET_LOG_ORIGIN, a missing key)
  2  wrong arguments
  3  restore: the archive is not a market backup, or is truncated or corrupted; nothing was changed
  4  restore: the database holds data, or the data dir holds other keys; nothing was changed (--force replaces them)
  5  the database cannot be reached, or pg_dump, pg_restore or psql failed (a failed restore changes nothing)
  6  the log does not verify: with the data dir's key (backup) or after the restore"""


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# -- PostgreSQL's client programs -------------------------------------------------------------------


@dataclass(frozen=True)
class PgTools:
    """pg_dump, pg_restore and psql from one directory, of one major version."""

    bindir: Path
    major: int
    version: str  # as pg_dump --version says it, e.g. "pg_dump (PostgreSQL) 15.20"

    def __call__(self, tool: str) -> str:
        return str(self.bindir / tool)


def _tool_version(bindir: Path) -> tuple[int, str] | None:
    if not all((bindir / tool).is_file() for tool in ("pg_dump", "pg_restore", "psql")):
        return None
    try:
        out = subprocess.run(
            [str(bindir / "pg_dump"), "--version"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\)\s*(\d+)", out.stdout)
    return (int(found.group(1)), out.stdout.strip()) if found else None


def find_tools(server_major: int) -> PgTools:
    """The client programs for a server of ``server_major``: of that version if there are
    any (Debian's /usr/lib/postgresql/<major>/bin), else the oldest newer one, since pg_dump
    reads older servers but refuses newer ones."""
    explicit = os.environ.get("MARKET_PG_BINDIR")
    candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin"), *candidate_bindirs()]
    if on_path := shutil.which("pg_dump"):
        candidates.append(Path(on_path).resolve().parent)
    found: list[PgTools] = []
    for bindir in candidates:
        version = _tool_version(bindir)
        if version is not None:
            found.append(PgTools(bindir, *version))
    if explicit:  # an explicit choice is taken, or refused, as it is
        chosen = next((t for t in found if t.bindir == Path(explicit)), None)
        if chosen is None or chosen.major < server_major:
            raise BackupError(
                f"MARKET_PG_BINDIR={explicit} holds no pg_dump, pg_restore and psql of PostgreSQL {server_major} or newer",
                EXIT_DATABASE,
            )
        return chosen
    same = [t for t in found if t.major == server_major]
    newer = sorted((t for t in found if t.major > server_major), key=lambda t: t.major)
    if same or newer:
        return (same or newer)[0]
    raise BackupError(
        f"pg_dump, pg_restore and psql of PostgreSQL {server_major} (the server's version) not found: "
        f"install them (Debian/Ubuntu: apt-get install postgresql-client-{server_major}) or set MARKET_PG_BINDIR",
        EXIT_DATABASE,
    )


def _db_name(url: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(url).database)


def libpq_env(url: str) -> dict[str, str]:
    """The environment that points libpq's programs at ``url``. The password goes in
    PGPASSWORD, never on a command line that ``ps`` shows."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    env = dict(os.environ)
    host = parsed.host or parsed.query.get("host")
    values = {
        "PGHOST": host if isinstance(host, str) else None,
        "PGPORT": str(parsed.port) if parsed.port else None,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
        "PGSSLMODE": parsed.query.get("sslmode") or parsed.query.get("ssl"),
    }
    env.update({k: str(v) for k, v in values.items() if v})
    env["PGAPPNAME"] = "market backup"
    return env


def _tail(text: str, lines: int = 3) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " / ".join(kept) or "no output"


# -- the database ----------------------------------------------------------------------------------


async def _connect(url: str) -> asyncpg.Connection:
    import asyncpg

    from market.core.db import to_asyncpg_dsn

    try:
        return await asyncpg.connect(to_asyncpg_dsn(url), timeout=15)
    except asyncpg.InvalidCatalogNameError:
        raise
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        raise BackupError(f"cannot reach the database {_db_name(url)}: {exc}", EXIT_DATABASE) from None


async def _server_major(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SHOW server_version_num")) // 10000


async def _has_table(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"public.{name}"))


async def referenced_uploads(conn: asyncpg.Connection) -> list[str]:
    """Paths (under the data dir) of every upload the database refers to, built by the same
    functions that store them."""
    from market.agencies.service import document_path
    from market.contracts.service import deliverable_path

    paths: list[str] = []
    if await _has_table(conn, "agency_document"):
        rows = await conn.fetch(
            "SELECT a.public_id, d.sha256, d.content_type FROM agency_document d JOIN agency a ON a.id = d.agency_id"
        )
        for r in rows:
            owner = cast(Any, SimpleNamespace(public_id=r["public_id"]))
            paths.append(document_path(Path(), owner, r["sha256"], r["content_type"]).as_posix())
    if await _has_table(conn, "deliverable"):
        rows = await conn.fetch(
            "SELECT c.public_id, v.sha256, v.content_type FROM deliverable v "
            "JOIN milestone m ON m.id = v.milestone_id JOIN contract c ON c.id = m.contract_id"
        )
        for r in rows:
            owner = cast(Any, SimpleNamespace(public_id=r["public_id"]))
            paths.append(deliverable_path(Path(), owner, r["sha256"], r["content_type"]).as_posix())
    return sorted(set(paths))


@dataclass
class DatabaseState:
    relations: int  # tables, views and sequences outside the system schemas
    users: int | None  # rows of app_user and log_entry, when those tables exist
    entries: int | None

    @property
    def empty(self) -> bool:
        return self.relations == 0

    @property
    def holds_data(self) -> bool:
        """Anything but an empty database or a freshly migrated one (whose only rows are
        the migrations' reference data, which the dump brings back too)."""
        if self.empty:
            return False
        return self.users is None or self.entries is None or self.users > 0 or self.entries > 0

    def describe(self) -> str:
        if self.users is None or self.entries is None:
            return f"{self.relations} tables and sequences of something other than market"
        return f"{self.users} users and {self.entries} log entries"


async def _database_state(conn: asyncpg.Connection) -> DatabaseState:
    relations = int(
        await conn.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
        )
    )
    users = entries = None
    if relations and await _has_table(conn, "app_user") and await _has_table(conn, "log_entry"):
        users = int(await conn.fetchval("SELECT count(*) FROM app_user"))
        entries = int(await conn.fetchval("SELECT count(*) FROM log_entry"))
    return DatabaseState(relations, users, entries)


async def _latest_checkpoint(conn: asyncpg.Connection) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT size, root, note FROM log_checkpoint ORDER BY size DESC LIMIT 1")
    if row is None:
        return None
    return {"size": int(row["size"]), "root": bytes(row["root"]).hex(), "note": str(row["note"])}


# -- backup --------------------------------------------------------------------------------------


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
    and read, from that same snapshot, the checkpoint and the uploads it refers to."""
    conn = await _connect(url)
    try:
        major = await _server_major(conn)
        tools = find_tools(major)
        if not await _has_table(conn, "log_checkpoint") or not await _has_table(conn, "alembic_version"):
            raise BackupError(
                f"the database {_db_name(url)} is not a market database (no log tables): check DATABASE_URL",
                EXIT_DATABASE,
            )
        latest = await _latest_checkpoint(conn)
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
            checkpoint = await _latest_checkpoint(conn)
            entries = int(await conn.fetchval("SELECT coalesce(max(seq) + 1, 0) FROM log_entry"))
            revision = await conn.fetchval("SELECT version_num FROM alembic_version")
            server_version = await conn.fetchval("SHOW server_version")
            uploads = await referenced_uploads(conn)
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
            raise BackupError(f"pg_dump failed: {_tail(done.stderr)}", EXIT_DATABASE)
    finally:
        await conn.close()
    return {
        "database": {
            "name": _db_name(url),
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
        "referenced_uploads": uploads,
    }


def _upload_files(data_dir: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of every finished upload; ``.part`` files are uploads being
    written (renamed into place when complete, before their row is committed)."""
    root = data_dir / UPLOADS
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not path.name.endswith(".part"):
            yield f"{UPLOADS}/{path.relative_to(root).as_posix()}", path


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
        # After the dump: every upload that a row in it refers to was in place before the
        # row was committed, so it is found now; newer uploads come along, unreferenced.
        files: dict[str, dict[str, Any]] = {}
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise BackupError(f"--out {out}: cannot write there ({exc.strerror})") from None
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode=f"w:{compression}", format=tarfile.PAX_FORMAT) as tar:
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
                for name, path in _upload_files(settings.data_dir):
                    try:
                        _check_name(name)
                    except BackupError:  # not one the application writes; restore would refuse it
                        warnings.append(f"{path} left out: the application writes no such name")
                        continue
                    files[name] = _add_file(tar, name, path, stat.S_IMODE(path.stat().st_mode))
                referenced = facts.pop("referenced_uploads")
                missing = [p for p in referenced if p not in files]
                if missing:
                    warnings.append(
                        f"{len(missing)} upload(s) the database refers to are missing from {settings.data_dir / UPLOADS}, "
                        f"such as {missing[0]}: they were lost before this backup"
                    )
                manifest = {
                    "format": FORMAT,
                    "version": VERSION,
                    "created_at": _utc_stamp(),
                    "market_version": __version__,
                    **facts,
                    "keys_from_environment": from_env,
                    "uploads": {
                        "files": sum(1 for n in files if n.startswith(UPLOADS + "/")),
                        "referenced": len(referenced),
                        "missing": missing,
                    },
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


# -- reading an archive ------------------------------------------------------------------------------

_SAFE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def _check_name(name: str) -> None:
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
def _reading(path: Path) -> Iterator[tarfile.TarFile]:
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


def _members(tar: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    """Each regular file of the archive with a stream of its bytes; anything else refused."""
    seen: set[str] = set()
    for member in tar:
        _check_name(member.name)
        if not member.isreg():
            raise BackupError(f"the archive's {member.name} is not a regular file: refused", EXIT_ARCHIVE)
        if member.name in seen:
            raise BackupError(f"the archive holds {member.name} twice: refused", EXIT_ARCHIVE)
        seen.add(member.name)
        stream = tar.extractfile(member)
        assert stream is not None  # a regular file always has one
        yield member, stream


def _copy_hashing(stream: IO[bytes], sink: Callable[[bytes], Any] | None = None) -> tuple[str, int]:
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
    with _reading(path) as tar:
        for member, stream in _members(tar):
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
                digest, size = _copy_hashing(stream)
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
        _check_name(name)
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


# -- restore -------------------------------------------------------------------------------------


@dataclass
class Restored:
    database: str
    created_database: bool
    replaced_data: bool
    keys: list[str]
    uploads: int
    report: Report
    checkpoint: dict[str, Any] | None  # the backup's, from its manifest
    seconds: float
    warnings: list[str] = field(default_factory=list)


def _data_dir_conflicts(archive: Archive, data_dir: Path) -> tuple[list[str], set[str]]:
    """(names of files in the data dir that differ from the archive's, names already there
    byte for byte)."""
    differ: list[str] = []
    same: set[str] = set()
    for name, entry in archive.files.items():
        if name == DUMP:
            continue
        dest = data_dir / _dest_name(name)
        if dest.is_symlink() or (dest.exists() and not dest.is_file()):
            differ.append(name)
        elif dest.is_file():
            (same.add(name) if _sha256_file(dest) == entry["sha256"] else differ.append(name))
    return differ, same


def _dest_name(name: str) -> str:
    """Where an archive member goes, relative to the data dir (keys/x lives at x)."""
    return name.removeprefix(KEYS + "/") if name.startswith(KEYS + "/") else name


def _stage(archive: Archive, staging: Path, skip: set[str]) -> None:
    """Extract the archive's files under ``staging``, checking each hash again as it is
    written (the archive could have changed since it was checked)."""
    with _reading(archive.path) as tar:
        for member, stream in _members(tar):
            if member.name == MANIFEST or member.name in skip:
                continue
            entry = archive.files[member.name]
            dest = staging / member.name
            mode = (
                0o600
                if member.name.startswith(KEYS + "/") or member.name == DUMP
                else int(entry["mode"], 8) & 0o777
            )
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    digest, _ = _copy_hashing(stream, fh.write)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(dest, mode)
            except OSError as exc:  # the data dir's fault (full, read-only), not the archive's
                raise BackupError(
                    f"cannot write {dest}: {exc.strerror or exc}; nothing was changed"
                ) from None
            if digest != entry["sha256"]:
                raise BackupError(
                    f"{member.name} changed in {archive.path} while it was being restored; nothing was changed",
                    EXIT_ARCHIVE,
                )


def _pg_restore(tools: PgTools, url: str, dump: Path, *, replace: bool, server_major: int) -> None:
    """pg_restore writes the dump as SQL and psql runs it as one transaction (after, when
    the database holds tables, dropping the public schema), so a failure changes nothing.

    The SQL is pumped through this process rather than piped straight from one to the
    other: psql commits when its input ends, and input that ends because pg_restore failed
    half-way (a damaged dump) must not be committed. So psql's input is closed only once
    pg_restore has succeeded; otherwise psql is killed and its transaction rolls back."""
    command = [tools("psql"), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    if replace:
        owner = " AUTHORIZATION pg_database_owner" if server_major >= 14 else ""
        grant = (
            "GRANT USAGE ON SCHEMA public TO PUBLIC"
            if server_major >= 15
            else "GRANT ALL ON SCHEMA public TO PUBLIC"
        )
        command += ["-c", f"DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public{owner}; {grant};"]
    command += ["-f", "-"]
    env = libpq_env(url)
    # Their messages go to files: a pipe that nobody reads could fill up and stall them.
    with (
        (dump.parent / "pg_restore.err").open("w+b") as restore_err,
        (dump.parent / "psql.err").open("w+b") as psql_err,
    ):
        writer = subprocess.Popen(
            [tools("pg_restore"), "--no-owner", "--no-privileges", "--file", "-", str(dump)],
            stdout=subprocess.PIPE,
            stderr=restore_err,
            env=env,
        )
        runner = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err, env=env
        )
        assert writer.stdout is not None and runner.stdin is not None
        psql_stopped = False
        try:
            while chunk := writer.stdout.read(CHUNK):
                runner.stdin.write(chunk)
        except BrokenPipeError:  # psql stopped at an error (ON_ERROR_STOP)
            psql_stopped = True
        finally:
            writer.stdout.close()  # if psql stopped, pg_restore gets EPIPE and ends too
            writer.wait(timeout=600)
        if psql_stopped or writer.returncode != 0:
            if runner.poll() is None:
                runner.kill()  # before its input ends: nothing is committed
            runner.wait(timeout=60)
            with contextlib.suppress(BrokenPipeError):
                runner.stdin.close()
        else:
            try:
                runner.stdin.close()  # the whole script is in: psql commits
            except BrokenPipeError:
                pass
            runner.wait(timeout=3600)
        restore_err.seek(0)
        psql_err.seek(0)
        restore_text = restore_err.read().decode(errors="replace")
        psql_text = psql_err.read().decode(errors="replace")
    if runner.returncode not in (0, -signal.SIGKILL) or psql_stopped:
        raise BackupError(
            f"psql could not restore the dump: {_tail(psql_text)}; the database is unchanged", EXIT_DATABASE
        )
    if writer.returncode != 0:
        raise BackupError(
            f"pg_restore failed: {_tail(restore_text)}; the database is unchanged", EXIT_DATABASE
        )


def _ensure_target(url: str) -> bool:
    """Create the target database if it does not exist; True when created here."""
    import asyncpg
    from sqlalchemy.engine import make_url

    async def run() -> bool:
        try:
            conn = await _connect(url)
        except asyncpg.InvalidCatalogNameError:
            pass
        else:
            await conn.close()
            return False
        name = _db_name(url)
        admin = await _connect(make_url(url).set(database="postgres").render_as_string(hide_password=False))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.PostgresError as exc:
            raise BackupError(
                f"the database {name} does not exist and cannot be created ({exc}): create it first",
                EXIT_DATABASE,
            ) from None
        finally:
            await admin.close()
        return True

    return asyncio.run(run())


def _drop_target(url: str) -> None:
    """Drop the database this restore created, when restoring into it failed."""
    from sqlalchemy.engine import make_url

    async def run() -> None:
        admin = await _connect(make_url(url).set(database="postgres").render_as_string(hide_password=False))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{_db_name(url)}"')
        finally:
            await admin.close()

    with contextlib.suppress(Exception):  # a failed clean-up must not hide why the restore failed
        asyncio.run(run())


def _inspect_target(url: str) -> tuple[DatabaseState, int, PgTools]:
    async def run() -> tuple[DatabaseState, int]:
        conn = await _connect(url)
        try:
            return await _database_state(conn), await _server_major(conn)
        finally:
            await conn.close()

    state, major = asyncio.run(run())
    return state, major, find_tools(major)


def _restored_checkpoint(url: str) -> dict[str, Any] | None:
    async def run() -> dict[str, Any] | None:
        conn = await _connect(url)
        try:
            return await _latest_checkpoint(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def _install(staging: Path, data_dir: Path, names: list[str]) -> None:
    """Move the staged files into the data dir (renames within one file system)."""
    for name in names:
        dest = data_dir / _dest_name(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_symlink() or dest.is_dir():
            raise BackupError(f"{dest} is in the way (a link or a directory); remove it and restore again")
        os.replace(staging / name, dest)


def restore(settings: Settings, source: Path, *, force: bool = False, out: TextIO | None = None) -> Restored:
    started = time.monotonic()
    archive = read_archive(source)
    manifest = archive.manifest
    print(
        f"market: {source} checks out: {len(archive.files)} files, made {manifest['created_at']}",
        file=out or sys.stdout,
    )
    origin = manifest["log"]["origin"]
    if origin != settings.log_origin:
        raise BackupError(
            f"the backup's log origin is {origin!r} but this market's is {settings.log_origin!r}: set MARKET_LOG_ORIGIN={origin}"
        )
    key_name = f"{KEYS}/{signer.KEY_FILE}"
    if key_name not in archive.files and not os.environ.get(signer.KEY_ENV):
        raise BackupError(
            f"the backup holds no {signer.KEY_FILE} (the server had it from {signer.KEY_ENV}): set {signer.KEY_ENV}"
        )
    warnings = [
        f"the backup's server took {name} from the environment: set it here too"
        for name in manifest.get("keys_from_environment", [])
        if not os.environ.get(name)
    ]
    data_dir = settings.data_dir
    differ, same = _data_dir_conflicts(archive, data_dir)
    if differ and not force:
        raise BackupError(
            f"{data_dir} already holds {len(differ)} file(s) that differ from the backup's, such as "
            f"{_dest_name(differ[0])}: restore into a new data dir, or pass --force to replace them; nothing was changed",
            EXIT_IN_USE,
        )
    with database_url_for(settings.database_url, data_dir) as url:
        name = _db_name(url)
        created = _ensure_target(url)
        state, major, tools = _inspect_target(url)
        if state.holds_data and not force:
            raise BackupError(
                f"the database {name} holds data ({state.describe()}): restore into a new or empty database, "
                "or pass --force to replace it; nothing was changed",
                EXIT_IN_USE,
            )
        made_dir = not data_dir.exists()
        data_dir.mkdir(parents=True, exist_ok=True)
        staging = data_dir / f".restore-{secrets.token_hex(4)}"
        staging.mkdir(mode=0o700)
        try:
            _stage(archive, staging, skip=same)
            _pg_restore(tools, url, staging / DUMP, replace=not state.empty, server_major=major)
        except BaseException:
            # Nothing was restored: take back what this run made, so nothing has changed.
            shutil.rmtree(staging, ignore_errors=True)
            if made_dir:
                with contextlib.suppress(OSError):
                    data_dir.rmdir()
            if created:
                _drop_target(url)
            raise
        try:
            names = sorted(n for n in archive.files if n != DUMP and n not in same)
            _install(staging, data_dir, names)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for key in KEY_FILES:  # keys that were already there byte for byte keep 0600 too
            if f"{KEYS}/{key}" in archive.files:
                os.chmod(data_dir / key, 0o600)
        report = verify_restored(settings, url, archive)
    keys = sorted(_dest_name(n) for n in archive.files if n.startswith(KEYS + "/"))
    uploads = sum(1 for n in archive.files if n.startswith(UPLOADS + "/"))
    return Restored(
        database=name,
        created_database=created,
        replaced_data=state.holds_data,
        keys=keys,
        uploads=uploads,
        report=report,
        checkpoint=archive.checkpoint,
        seconds=time.monotonic() - started,
        warnings=warnings,
    )


def verify_restored(settings: Settings, url: str, archive: Archive) -> Report:
    """``market log verify`` over the restored database with the restored key, checked
    against the backup's checkpoint: the same checkpoint is the latest, and the log
    verifies and is consistent with it."""
    expected = archive.checkpoint
    found = _restored_checkpoint(url)
    if expected is not None and (found is None or found["note"] != expected["note"]):
        got = "none" if found is None else f"{found['size']} entries, root {found['root']}"
        raise BackupError(
            f"the restored database's latest checkpoint ({got}) is not the backup's ({expected['size']} entries, root {expected['root']})",
            EXIT_VERIFY,
        )
    from market.log import verifier
    from market.log.verify_db import DatabaseSource

    source = DatabaseSource(url, signer.LogSigner.from_data_dir(settings.log_origin, settings.data_dir))
    try:
        report = verifier.verify(source, since=expected["note"] if expected else None)
    finally:
        source.close()
    if not report.ok:
        raise BackupError("the restored log does not verify:\n" + report.human(), EXIT_VERIFY)
    if expected is not None and report.size == expected["size"] and report.root != expected["root"]:
        raise BackupError(
            f"the restored log's root {report.root} is not the backup's {expected['root']}", EXIT_VERIFY
        )
    return report


# -- the commands ------------------------------------------------------------------------------------


def _guarded(work: Callable[[], int]) -> int:
    import asyncpg

    try:
        return work()
    except BackupError as exc:
        print(f"market: {exc}", file=sys.stderr)
        return exc.code
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError, TimeoutError) as exc:
        print(f"market: the database failed: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except OSError as exc:  # a file that cannot be read or written: say which and why
        print(f"market: {exc.filename or 'a file'}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED


def run_backup(settings: Settings, out: Path) -> int:
    def work() -> int:
        done = backup(settings, out)
        m = done.manifest
        cp = m["log"]["checkpoint"]
        for warning in done.warnings:
            print(f"market: warning: {warning}", file=sys.stderr)
        size = done.out.stat().st_size
        print(
            f"market: backed up database {m['database']['name']} to {done.out} ({size:,} bytes, {done.seconds:.1f} s)"
        )
        print(f"  log: {m['log']['entries']} entries; checkpoint {cp['size']} entries, root {cp['root']}")
        keys = [n.removeprefix(KEYS + "/") for n in m["files"] if n.startswith(KEYS + "/")]
        print(f"  keys: {', '.join(keys) or 'none'}; uploads: {m['uploads']['files']} files")
        return 0

    return _guarded(work)


def run_restore(settings: Settings, source: Path, *, force: bool) -> int:
    def work() -> int:
        done = restore(settings, source, force=force)
        for warning in done.warnings:
            print(f"market: warning: {warning}", file=sys.stderr)
        how = (
            "created and restored"
            if done.created_database
            else ("replaced" if done.replaced_data else "restored")
        )
        print(
            f"market: {how} database {done.database} and {settings.data_dir} from {source} ({done.seconds:.1f} s)"
        )
        print(f"  keys: {', '.join(done.keys) or 'none'} (mode 0600); uploads: {done.uploads} files")
        r = done.report
        cp = done.checkpoint
        since = (
            f"; consistent with the backup's checkpoint of {cp['size']} entries"
            if cp and cp["size"] != r.size
            else ""
        )
        same = ", the backup's checkpoint" if cp and cp["size"] == r.size else ""
        print(f"  log verified: {r.size} entries, root {r.root}{same}{since}")
        return 0

    return _guarded(work)
