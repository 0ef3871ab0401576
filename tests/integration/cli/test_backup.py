"""``market backup`` and ``market restore`` against real databases: the demo round trip into
a new database and data dir, damaged archives, databases in use, and the private PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from market import protocol
from market.accounts import service as accounts
from market.agencies import service as agencies
from market.app import create_app
from market.cli import main
from market.core.config import Settings, load_or_create_secret
from market.core.db import Database, to_asyncpg_dsn, upgrade
from market.core.pgembed import EmbeddedPostgres, free_port
from market.demo import DEMO_PASSWORD, load_demo
from market.log.signer import LogSigner
from market.security import passwords
from tests.conftest import _drop, _recreate, make_settings, run_blocking, serve_in_process, url_for
from tests.uploads import PDF

ROOT = Path(__file__).resolve().parents[3]
KEYS = ("secret_key", "log_signing_key.pem", "receipt_signing_key.pem", "secret_seal_key")
# A licence that differs from the demo's deliverables, so a byte-for-byte check means something.
LICENCE = PDF + b"% licence of agency01 " + secrets.token_hex(16).encode() + b"\n"
# The demo hashes 64 passwords; argon2 at its real cost would take most of this test's time.
# These hashes are still argon2, which the restored server verifies with their own parameters.
FAST_HASHER = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))


def market(*args: str, env: dict[str, str], unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """The command as a process of its own."""
    environ = {k: v for k, v in os.environ.items() if k not in unset and not k.startswith("MARKET_")}
    return subprocess.run(
        [sys.executable, "-m", "market.cli", *args],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """The command's main() in this process, with the environment given: the same parser,
    settings and exit codes as `market` itself, without a second start-up per call."""

    def run(*args: str, env: dict[str, str], unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        with monkeypatch.context() as patch:
            for name in [k for k in os.environ if k in unset or k.startswith("MARKET_")]:
                patch.delenv(name)
            for name, value in env.items():
                patch.setenv(name, value)
            code = main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return run


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", lambda: FAST_HASHER)


@pytest.fixture
def new_database(server_url: str) -> Iterator[str]:
    """The URL of a database that does not exist yet (restore creates it); dropped after."""
    name = f"market_restored_{os.getpid()}_{secrets.token_hex(4)}"
    yield url_for(server_url, name)
    run_blocking(_drop(server_url, name))


async def _fetch(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in run_blocking(_fetch(url, sql))]


def database_exists(server_url: str, name: str) -> bool:
    return bool(fetch(server_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))


def snapshot(url: str) -> list[tuple[Any, ...]]:
    """What restoring over a database would change: its users, log and checkpoints."""
    return fetch(
        url,
        "SELECT (SELECT count(*) FROM app_user), (SELECT count(*) FROM log_entry), "
        "(SELECT max(size) FROM log_checkpoint), (SELECT string_agg(email, ',' ORDER BY id) FROM app_user)",
    )


async def _load_demo_and_serve_once(settings: Settings) -> dict[str, Any]:
    """The demo, an agency document, then what a server on it shows: the checkpoint, the
    key and the document (the app makes the data dir's keys, as `market serve` does)."""
    assert settings.database_url is not None
    db = Database.from_url(settings.database_url)
    try:
        async with db.transaction() as session:
            await load_demo(session, settings=settings, out=io.StringIO())
        async with db.transaction() as session:
            owner = await accounts.find_by_email(session, "agency01@demo.market.cn")
            assert owner is not None
            document = await agencies.add_document(
                session,
                owner=owner,
                kind="licence",
                filename="licence.pdf",
                content=LICENCE,
            )
            agency = await agencies.agency_of(session, owner)
            assert agency is not None
        load_or_create_secret(settings.data_dir / "secret_key")
        async with serve_in_process(create_app(settings, database=db)) as client:
            return await _what_a_server_shows(
                client, f"/api/v1/agencies/{agency.public_id}/documents/{document.id}"
            )
    finally:
        await db.dispose()


async def _what_a_server_shows(client: httpx.AsyncClient, document_path: str) -> dict[str, Any]:
    checkpoint = await client.get("/api/v1/log/checkpoint")
    key = await client.get("/api/v1/log/key")
    token = await client.post(
        "/api/v1/auth/token", json={"email": "admin@demo.market.cn", "password": DEMO_PASSWORD}
    )
    assert checkpoint.status_code == key.status_code == token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    document = await client.get(document_path, headers=headers)
    assert document.status_code == 200, document.text
    return {
        "checkpoint": checkpoint.text,
        "key": key.text,
        "document": document.content,
        "document_path": document_path,
    }


async def _shown_by_server(base_url: str, document_path: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return await _what_a_server_shows(client, document_path)


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
    environ.update(env, MARKET_PORT=str(port), MARKET_SCHEDULER_INTERVAL="0")
    process = subprocess.Popen(
        [sys.executable, "-m", "market.cli", "serve"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            with urllib.request.urlopen(f"{base}/api/v1/log/key", timeout=2):
                return process, base
        except OSError:
            assert time.monotonic() < deadline, "the restored server did not answer within 90 s"
            time.sleep(0.2)


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_demo_restored_into_a_new_database_and_data_dir_verifies_and_serves_the_same_log(
    committed_database_url: str, new_database: str, tmp_path: Path, fast_passwords: None, cli: Any
) -> None:
    source_dir, restored_dir = tmp_path / "source", tmp_path / "restored"
    settings = make_settings(committed_database_url, tmp_path, data_dir=source_dir)
    shown = run_blocking(_load_demo_and_serve_once(settings))
    archive = tmp_path / "backup.tar.gz"

    done = cli(
        "backup",
        "--out",
        str(archive),
        env={"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(source_dir)},
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        names = tar.getnames()
    _, size, root = protocol.open_checkpoint(shown["checkpoint"], shown["key"])
    assert (
        manifest["log"]["checkpoint"]["size"] == size and manifest["log"]["checkpoint"]["root"] == root.hex()
    )
    assert {f"keys/{k}" for k in KEYS} <= set(names) and "database.dump" in names
    # Uploaded files travel in the dump (market/files), not as files of their own.
    assert manifest["uploads"]["in_database"] >= 2 and manifest["uploads"]["missing"] == []
    assert not any(name.startswith("uploads/") for name in names)
    assert set(manifest["files"]) == set(names) - {"manifest.json"}

    env = {"DATABASE_URL": new_database, "MARKET_DATA_DIR": str(restored_dir)}
    restored = market(
        "restore", "--from", str(archive), env=env
    )  # the installed command, as an operator runs it
    assert restored.returncode == 0, restored.stderr
    assert (
        "created and restored" in restored.stdout and f"{size} entries, root {root.hex()}" in restored.stdout
    )

    verified = cli("log", "verify", env=env)
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr
    for key in KEYS:
        assert (restored_dir / key).read_bytes() == (source_dir / key).read_bytes()
        assert stat.S_IMODE((restored_dir / key).stat().st_mode) == 0o600
    restored_key = LogSigner.from_data_dir(settings.log_origin, restored_dir).verifier_key
    assert restored_key == shown["key"].strip()
    (note,) = fetch(new_database, "SELECT note FROM log_checkpoint ORDER BY size DESC LIMIT 1")[0]
    assert protocol.open_checkpoint(note, restored_key)[1:] == (size, root)
    assert not (source_dir / "uploads").exists() and not (restored_dir / "uploads").exists()

    process, base = serve(env)
    try:
        again = run_blocking(_shown_by_server(base, shown["document_path"]))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert again["checkpoint"] == shown["checkpoint"] and again["key"] == shown["key"]
    assert again["document"] == shown["document"] == LICENCE


async def _small_site(settings: Settings) -> None:
    """A few users and log entries, and the keys and checkpoint a server makes."""
    assert settings.database_url is not None
    db = Database.from_url(settings.database_url)
    try:
        async with serve_in_process(create_app(settings, database=db)) as client:
            for n in range(3):
                made = await client.post(
                    "/api/v1/auth/register",
                    json={
                        "email": f"owner{n}@example.cn",
                        "password": "a long password",
                        "name": f"Owner {n}",
                        "role": "owner",
                    },
                )
                assert made.status_code == 201, made.text
            assert (await client.get("/api/v1/log/checkpoint")).status_code == 200
        load_or_create_secret(settings.data_dir / "secret_key")
    finally:
        await db.dispose()


def _backup_of_a_small_site(url: str, tmp_path: Path, cli: Any) -> tuple[Path, Path]:
    source_dir = tmp_path / "source"
    run_blocking(_small_site(make_settings(url, tmp_path, data_dir=source_dir)))
    archive = tmp_path / "small.tar"
    done = cli("backup", "--out", str(archive), env={"DATABASE_URL": url, "MARKET_DATA_DIR": str(source_dir)})
    assert done.returncode == 0, done.stderr
    return archive, source_dir


def _rewrite(archive: Path, out: Path, name: str, change: Any) -> None:
    """Copy ``archive`` to ``out`` with member ``name``'s bytes passed through ``change``."""
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src:
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == name:
                data = change(data)
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


def _with_a_cut_dump(archive: Path, out: Path) -> None:
    """A copy whose dump lacks its last fifth, with the manifest's hash made to match: it
    passes the archive check, and pg_restore fails half-way through the data."""
    with tarfile.open(archive) as src:
        members = [(m, src.extractfile(m).read()) for m in src]  # type: ignore[union-attr]
    data = {m.name: body for m, body in members}
    data["database.dump"] = data["database.dump"][: len(data["database.dump"]) * 4 // 5]
    manifest = json.loads(data["manifest.json"])
    manifest["files"]["database.dump"].update(
        sha256=hashlib.sha256(data["database.dump"]).hexdigest(), size=len(data["database.dump"])
    )
    data["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(out, "w") as dst:
        for member, _ in members:
            member.size = len(data[member.name])
            dst.addfile(member, io.BytesIO(data[member.name]))


def test_a_damaged_archive_or_a_database_in_use_is_refused_and_nothing_changes(
    committed_database_url: str,
    server_url: str,
    new_database: str,
    tmp_path: Path,
    fast_passwords: None,
    cli: Any,
) -> None:
    archive, source_dir = _backup_of_a_small_site(committed_database_url, tmp_path, cli)
    new_name = new_database.rsplit("/", 1)[1]
    restored_dir = tmp_path / "restored"
    env = {"DATABASE_URL": new_database, "MARKET_DATA_DIR": str(restored_dir)}

    tampered = tmp_path / "tampered.tar"
    _rewrite(archive, tampered, "database.dump", lambda b: b[:-100] + bytes([b[-100] ^ 1]) + b[-99:])
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    forged_manifest = tmp_path / "forged.tar"
    _rewrite(archive, forged_manifest, "manifest.json", lambda b: b.replace(b'"version": 1', b'"version": 9'))
    for damaged, says in (
        (tampered, "database.dump in"),
        (truncated, "truncated"),
        (forged_manifest, "format version 9"),
    ):
        refused = cli("restore", "--from", str(damaged), env=env)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert says in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        assert not database_exists(server_url, new_name) and not restored_dir.exists()

    # Onto the database the backup came from (it holds data): refused, untouched.
    before = snapshot(committed_database_url)
    onto_source = {"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(restored_dir)}
    refused = cli("restore", "--from", str(archive), env=onto_source)
    assert (
        refused.returncode == 4 and "holds data (3 users" in refused.stderr and "--force" in refused.stderr
    ), refused.stderr
    assert snapshot(committed_database_url) == before and not restored_dir.exists()

    # Keys that differ in the data dir: refused before the database is created.
    restored_dir.mkdir(exist_ok=True)
    (restored_dir / "secret_seal_key").write_text("another key\n")
    refused = cli("restore", "--from", str(archive), env=env)
    assert refused.returncode == 4 and "secret_seal_key" in refused.stderr, refused.stderr
    assert (
        not database_exists(server_url, new_name)
        and (restored_dir / "secret_seal_key").read_text() == "another key\n"
    )

    # A migrated database without users or log entries holds nothing to lose: replaced.
    run_blocking(_recreate(server_url, new_name))
    upgrade(new_database)
    fresh_dir = tmp_path / "fresh"
    restored = cli(
        "restore",
        "--from",
        str(archive),
        env={"DATABASE_URL": new_database, "MARKET_DATA_DIR": str(fresh_dir)},
    )
    assert restored.returncode == 0 and "market: restored database" in restored.stdout, restored.stderr
    assert snapshot(new_database) == before

    # A dump that fails half-way through the restore, even with --force: nothing committed.
    cut = tmp_path / "cut.tar"
    _with_a_cut_dump(archive, cut)
    failed = cli(
        "restore",
        "--from",
        str(cut),
        "--force",
        env={"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(source_dir)},
    )
    assert failed.returncode == 5 and "pg_restore failed" in failed.stderr and "unchanged" in failed.stderr, (
        failed.stderr
    )
    assert snapshot(committed_database_url) == before

    # --force replaces the database in one transaction; its own data dir is already right.
    forced = cli(
        "restore",
        "--from",
        str(archive),
        "--force",
        env={"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(source_dir)},
    )
    assert forced.returncode == 0 and "replaced database" in forced.stdout, forced.stderr
    assert snapshot(committed_database_url) == before
    verified = cli(
        "log", "verify", env={"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(source_dir)}
    )
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout


def test_backup_and_restore_work_with_the_private_postgres(
    committed_database_url: str, tmp_path: Path, fast_passwords: None, cli: Any
) -> None:
    archive, _ = _backup_of_a_small_site(committed_database_url, tmp_path, cli)
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    # As root, the postgres user must reach the cluster: the checkout's var/ (as test_cli does).
    data_dir = ROOT / "var" / f"test-backup-{os.getpid()}-{time.time_ns()}"
    env = {"MARKET_DATA_DIR": str(data_dir)}
    cluster = EmbeddedPostgres(data_dir / "postgres")
    try:
        restored = cli("restore", "--from", str(archive), env=env, unset=("DATABASE_URL",))
        assert restored.returncode == 0, restored.stderr
        assert not cluster.is_running()  # stopped again, as it was started for the restore
        verified = cli("log", "verify", env=env, unset=("DATABASE_URL",))
        assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr
        again = tmp_path / "again.tar.xz"
        done = cli("backup", "--out", str(again), env=env, unset=("DATABASE_URL",))
        assert done.returncode == 0, done.stderr
        with tarfile.open(again) as tar:
            second = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert second["log"]["checkpoint"] == manifest["log"]["checkpoint"]
        assert second["database"]["name"] == "market"
        assert {n: f["sha256"] for n, f in second["files"].items() if n != "database.dump"} == {
            n: f["sha256"] for n, f in manifest["files"].items() if n != "database.dump"
        }
    finally:
        if cluster.is_running():
            cluster.stop()
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)
