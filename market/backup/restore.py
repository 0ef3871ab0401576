"""``market restore``: check the archive, refuse to overwrite data unless told to, restore
the dump in one transaction, put the keys back and verify the restored log.

Uploaded files are in the dump (market/files). An archive made by an older version carries
them as ``uploads/...`` files instead: those are imported into the restored database,
each checked against the SHA-256 its row recorded, and not written under the data dir."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from market.backup.archive import (
    CHUNK,
    DUMP,
    KEY_FILES,
    KEYS,
    MANIFEST,
    UPLOADS,
    Archive,
    copy_hashing,
    members,
    read_archive,
    reading,
    sha256_file,
)
from market.backup.errors import EXIT_ARCHIVE, EXIT_DATABASE, EXIT_IN_USE, EXIT_VERIFY, BackupError
from market.backup.pg import (
    DatabaseState,
    PgTools,
    connect,
    database_state,
    db_name,
    find_tools,
    latest_checkpoint,
    libpq_env,
    server_major,
    tail,
)
from market.core.config import Settings
from market.core.pgembed import database_url_for
from market.log import signer

if TYPE_CHECKING:
    from market.protocol.verify_entries import Report


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
        if name == DUMP or name.startswith(UPLOADS + "/"):
            continue
        dest = data_dir / _dest_name(name)
        if dest.is_symlink() or (dest.exists() and not dest.is_file()):
            differ.append(name)
        elif dest.is_file():
            (same.add(name) if sha256_file(dest) == entry["sha256"] else differ.append(name))
    return differ, same


def _dest_name(name: str) -> str:
    """Where an archive member goes, relative to the data dir (keys/x lives at x)."""
    return name.removeprefix(KEYS + "/") if name.startswith(KEYS + "/") else name


def _stage(archive: Archive, staging: Path, skip: set[str]) -> None:
    """Extract the archive's files under ``staging``, checking each hash again as it is
    written (the archive could have changed since it was checked)."""
    with reading(archive.path) as tar:
        for member, stream in members(tar):
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
                    digest, _ = copy_hashing(stream, fh.write)
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


def _pg_restore(tools: PgTools, url: str, dump: Path, *, replace: bool, major: int) -> None:
    """pg_restore writes the dump as SQL and psql runs it as one transaction (after, when
    the database holds tables, dropping the public schema), so a failure changes nothing.

    The SQL is pumped through this process rather than piped straight from one to the
    other: psql commits when its input ends, and input that ends because pg_restore failed
    half-way (a damaged dump) must not be committed. So psql's input is closed only once
    pg_restore has succeeded; otherwise psql is killed and its transaction rolls back."""
    command = [tools("psql"), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    if replace:
        owner = " AUTHORIZATION pg_database_owner" if major >= 14 else ""
        grant = (
            "GRANT USAGE ON SCHEMA public TO PUBLIC"
            if major >= 15
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
            f"psql could not restore the dump: {tail(psql_text)}; the database is unchanged", EXIT_DATABASE
        )
    if writer.returncode != 0:
        raise BackupError(
            f"pg_restore failed: {tail(restore_text)}; the database is unchanged", EXIT_DATABASE
        )


def _ensure_target(url: str) -> bool:
    """Create the target database if it does not exist; True when created here."""
    import asyncpg
    from sqlalchemy.engine import make_url

    async def run() -> bool:
        try:
            conn = await connect(url)
        except asyncpg.InvalidCatalogNameError:
            pass
        else:
            await conn.close()
            return False
        name = db_name(url)
        admin = await connect(make_url(url).set(database="postgres").render_as_string(hide_password=False))
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
        admin = await connect(make_url(url).set(database="postgres").render_as_string(hide_password=False))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db_name(url)}"')
        finally:
            await admin.close()

    with contextlib.suppress(Exception):  # a failed clean-up must not hide why the restore failed
        asyncio.run(run())


def _inspect_target(url: str) -> tuple[DatabaseState, int, PgTools]:
    async def run() -> tuple[DatabaseState, int]:
        conn = await connect(url)
        try:
            return await database_state(conn), await server_major(conn)
        finally:
            await conn.close()

    state, major = asyncio.run(run())
    return state, major, find_tools(major)


def _restored_checkpoint(url: str) -> dict[str, Any] | None:
    async def run() -> dict[str, Any] | None:
        conn = await connect(url)
        try:
            return await latest_checkpoint(conn)
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


def _import_old_uploads(archive: Archive, url: str, staging: Path, warnings: list[str]) -> int:
    """An older version's archive: its dump is of an older schema and its files are under
    uploads/. The database is migrated (as `market serve` would) so that it can hold them,
    and the files are imported from the staging dir, each checked against its row's
    SHA-256. Returns how many were imported."""
    if not any(n.startswith(UPLOADS + "/") for n in archive.files):
        return 0
    from market.core.db import upgrade
    from market.files import legacy

    upgrade(url)
    done = legacy.run(url, staging)
    warnings.extend(f"an uploaded file was not imported: {problem}" for problem in done.problems())
    return len(done.imported)


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
        name = db_name(url)
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
            _pg_restore(tools, url, staging / DUMP, replace=not state.empty, major=major)
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
            names = sorted(
                n for n in archive.files if n != DUMP and n not in same and not n.startswith(UPLOADS + "/")
            )
            _install(staging, data_dir, names)
            imported = _import_old_uploads(archive, url, staging, warnings)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for key in KEY_FILES:  # keys that were already there byte for byte keep 0600 too
            if f"{KEYS}/{key}" in archive.files:
                os.chmod(data_dir / key, 0o600)
        report = verify_restored(settings, url, archive)
    keys = sorted(_dest_name(n) for n in archive.files if n.startswith(KEYS + "/"))
    uploads = imported
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
    from market.log.verify_db import DatabaseSource
    from market.protocol import verifier

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
