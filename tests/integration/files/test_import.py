"""A site upgraded from a version that kept uploads under MARKET_DATA_DIR/uploads:
``market files import`` (and ``market db upgrade``, which runs it) brings every file the
database refers to in, checked against the SHA-256 recorded at upload, and refuses, by
name, a file changed on disk; restoring an older version's archive imports its uploads."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from market.app import create_app
from market.core.db import Database, alembic_config
from market.demo import DEMO_PASSWORD
from market.files import store
from market.files.legacy import legacy_name
from tests.conftest import in_thread, make_settings, run_blocking, serve_in_process
from tests.integration.agencies.test_api import agency_user, create
from tests.integration.cli.test_backup import (  # noqa: F401 (fixtures)
    LICENCE,
    _load_demo_and_serve_once,
    cli,
    fast_passwords,
    new_database,
)
from tests.live import running_server
from tests.uploads import JPEG, PDF, PNG


async def _stored(url: str) -> dict[str, bytes]:
    """{sha256: bytes} of every file the database holds."""
    db = Database.from_url(url)
    try:
        async with db.transaction() as session:
            shas = (await session.execute(sa.text("SELECT sha256 FROM stored_file"))).scalars().all()
            found = {}
            for sha in shas:
                content = await store.read(session, sha)
                assert content is not None
                found[sha] = content
            return found
    finally:
        await db.dispose()


def stored(url: str) -> dict[str, bytes]:
    return dict(run_blocking(_stored(url)))


async def _as_an_older_version_left_it(url: str, data_dir: Path) -> dict[str, bytes]:
    """Every stored file written where the older version kept it, and taken out of the
    database: the state of a site just migrated to this version. {name: bytes}."""
    db = Database.from_url(url)
    written: dict[str, bytes] = {}
    try:
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    sa.text(
                        "SELECT 'agencies/' || a.public_id, d.sha256, d.content_type FROM agency_document d "
                        "JOIN agency a ON a.id = d.agency_id UNION "
                        "SELECT 'contracts/' || c.public_id, v.sha256, v.content_type FROM deliverable v "
                        "JOIN milestone m ON m.id = v.milestone_id JOIN contract c ON c.id = m.contract_id"
                    )
                )
            ).all()
            for folder, sha256, content_type in rows:
                content = await store.read(session, sha256)
                assert content is not None
                name = legacy_name(folder, sha256, content_type)
                (data_dir / name).parent.mkdir(parents=True, exist_ok=True)
                (data_dir / name).write_bytes(content)
                written[name] = content
            await session.execute(sa.text("DELETE FROM stored_file"))  # the chunks go with them
    finally:
        await db.dispose()
    return written


async def _small_site(url: str, tmp_path: Path) -> None:
    """An agency with three documents (a PDF, a PNG, a JPEG), through the API."""
    db = Database.from_url(url)
    try:
        async with serve_in_process(create_app(make_settings(url, tmp_path / "app"), database=db)) as client:
            headers = await agency_user(client)
            await create(client, headers)
            for name, content in (("licence.pdf", PDF), ("photo.png", PNG), ("photo.jpg", JPEG)):
                made = await client.post(
                    "/api/v1/agencies/mine/documents",
                    files={"file": (name, content, "application/octet-stream")},
                    data={"kind": "other"},
                    headers=headers,
                )
                assert made.status_code == 201, made.text
    finally:
        await db.dispose()


@pytest.fixture
def old_site(committed_database_url: str, tmp_path: Path) -> tuple[str, Path, dict[str, bytes]]:
    data_dir = tmp_path / "data"
    run_blocking(_small_site(committed_database_url, tmp_path))
    on_disk = run_blocking(_as_an_older_version_left_it(committed_database_url, data_dir))
    assert len(on_disk) == 3 and stored(committed_database_url) == {}
    return committed_database_url, data_dir, on_disk


@pytest.mark.committing
def test_files_import_brings_every_file_in_and_a_second_run_adds_nothing(
    old_site: tuple[str, Path, dict[str, bytes]], cli: Any
) -> None:
    url, data_dir, on_disk = old_site
    env = {"DATABASE_URL": url, "MARKET_DATA_DIR": str(data_dir)}
    done = cli("files", "import", env=env)
    assert done.returncode == 0, done.stderr
    assert "3 imported" in done.stdout
    expected = {hashlib.sha256(content).hexdigest(): content for content in on_disk.values()}
    assert stored(url) == expected
    again = cli("files", "import", env=env)
    assert again.returncode == 0 and "0 imported" in again.stdout and "3 already" in again.stdout, (
        again.stdout
    )
    assert stored(url) == expected
    assert all((data_dir / name).read_bytes() == content for name, content in on_disk.items())  # left on disk


@pytest.mark.committing
def test_files_import_refuses_a_file_changed_on_disk_or_gone_and_names_it(
    old_site: tuple[str, Path, dict[str, bytes]], cli: Any
) -> None:
    """A dishonest or damaged disk: a document swapped for other bytes of the same size
    must not go into the database under the hash the log published for the original."""
    url, data_dir, on_disk = old_site
    pdf, png, jpeg = (next(n for n in on_disk if n.endswith(suffix)) for suffix in (".pdf", ".png", ".jpg"))
    tampered = bytearray(on_disk[pdf])
    tampered[20] ^= 0x01
    (data_dir / pdf).write_bytes(bytes(tampered))
    (data_dir / png).unlink()
    env = {"DATABASE_URL": url, "MARKET_DATA_DIR": str(data_dir)}

    done = cli("files", "import", env=env)
    assert done.returncode == 1
    assert str(data_dir / pdf) in done.stderr and "SHA-256" in done.stderr
    assert str(data_dir / png) in done.stderr and "no such file" in done.stderr
    assert jpeg not in done.stderr
    # The sound file went in whole; the others not at all.
    assert stored(url) == {hashlib.sha256(on_disk[jpeg]).hexdigest(): on_disk[jpeg]}

    (data_dir / pdf).write_bytes(on_disk[pdf])
    (data_dir / png).write_bytes(on_disk[png])
    fixed = cli("files", "import", env=env)
    assert fixed.returncode == 0 and "2 imported" in fixed.stdout, fixed.stdout + fixed.stderr
    assert len(stored(url)) == 3


@pytest.mark.committing
def test_db_upgrade_imports_the_files_by_itself(
    old_site: tuple[str, Path, dict[str, bytes]], cli: Any
) -> None:
    url, data_dir, on_disk = old_site
    done = cli("db", "upgrade", env={"DATABASE_URL": url, "MARKET_DATA_DIR": str(data_dir)})
    assert done.returncode == 0, done.stderr
    assert "3 imported" in done.stderr
    assert sorted(stored(url).values()) == sorted(on_disk.values())


@pytest.mark.committing
def test_market_serve_imports_the_files_before_it_serves(
    old_site: tuple[str, Path, dict[str, bytes]],
) -> None:
    """The operator who upgrades and starts the server, with no step of their own."""
    url, data_dir, on_disk = old_site
    with running_server(url, data_dir, MARKET_SCHEDULER_INTERVAL="0", MARKET_SECRET_KEY="s" * 48) as server:
        assert sorted(stored(url).values()) == sorted(on_disk.values())
    assert "3 imported" in server.log_path.read_text()


def _downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def _with_uploads(archive: Path, out: Path, data_dir: Path) -> None:
    """``archive`` as an older version wrote it: the data dir's uploads/ files in it too,
    each listed in the manifest with its SHA-256."""
    with tarfile.open(archive) as src:
        members = [(m, src.extractfile(m).read()) for m in src]  # type: ignore[union-attr]
    manifest = json.loads(dict((m.name, body) for m, body in members)["manifest.json"])
    uploads = {
        path.relative_to(data_dir).as_posix(): path.read_bytes()
        for path in sorted((data_dir / "uploads").rglob("*"))
        if path.is_file()
    }
    for name, body in uploads.items():
        manifest["files"][name] = {
            "sha256": hashlib.sha256(body).hexdigest(),
            "size": len(body),
            "mode": "0644",
        }
    with tarfile.open(out, "w") as dst:
        for member, body in members:
            if member.name == "manifest.json":
                body = json.dumps(manifest).encode()
                member.size = len(body)
            dst.addfile(member, io.BytesIO(body))
        for name, body in uploads.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(body), 0o644
            dst.addfile(info, io.BytesIO(body))


@pytest.mark.committing
def test_restoring_an_older_versions_archive_imports_its_uploads_into_the_database(
    committed_database_url: str, new_database: str, tmp_path: Path, fast_passwords: None, cli: Any
) -> None:
    source_dir, restored_dir = tmp_path / "source", tmp_path / "restored"
    url = committed_database_url
    settings = make_settings(url, tmp_path, data_dir=source_dir)
    shown = run_blocking(_load_demo_and_serve_once(settings))  # the demo (deliverables) and a licence
    on_disk = run_blocking(_as_an_older_version_left_it(url, source_dir))
    assert any(n.startswith("uploads/contracts/") for n in on_disk) and LICENCE in on_disk.values()
    in_thread(_downgrade, url, "0011_portal")  # the schema of the version before files moved in
    plain = tmp_path / "plain.tar"
    done = cli("backup", "--out", str(plain), env={"DATABASE_URL": url, "MARKET_DATA_DIR": str(source_dir)})
    assert done.returncode == 0, done.stderr
    old = tmp_path / "old.tar"
    _with_uploads(plain, old, source_dir)

    env = {"DATABASE_URL": new_database, "MARKET_DATA_DIR": str(restored_dir)}
    restored = cli("restore", "--from", str(old), env=env)
    assert restored.returncode == 0, restored.stderr
    assert f"{len(set(on_disk.values()))} imported" in restored.stdout, restored.stdout
    assert "not imported" not in restored.stderr
    assert not (restored_dir / "uploads").exists()  # into the database, not under the data dir
    assert stored(new_database) == {hashlib.sha256(c).hexdigest(): c for c in on_disk.values()}

    async def document() -> bytes:
        db = Database.from_url(new_database)
        try:
            app = create_app(make_settings(new_database, tmp_path, data_dir=restored_dir), database=db)
            async with serve_in_process(app) as client:
                token = await client.post(
                    "/api/v1/auth/token", json={"email": "admin@demo.market.cn", "password": DEMO_PASSWORD}
                )
                headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                got = await client.get(shown["document_path"], headers=headers)
                assert got.status_code == 200, got.text
                return got.content
        finally:
            await db.dispose()

    assert run_blocking(document()) == LICENCE
