"""Reading a backup archive without a database: what restore refuses before touching anything."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from market.backup import dump
from market.backup.archive import read_archive
from market.backup.errors import EXIT_ARCHIVE, BackupError

DUMP = b"PGDMP fake custom-format dump"
UPLOAD = "uploads/agencies/AG-000001/" + "a" * 64 + ".pdf"


def entry(body: bytes, mode: str = "0600") -> dict[str, Any]:
    return {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "mode": mode}


def manifest(files: dict[str, bytes], **changes: Any) -> dict[str, Any]:
    body = {
        "format": "market-backup",
        "version": 1,
        "created_at": "2026-12-01T00:00:00Z",
        "database": {"name": "market"},
        "log": {"origin": "market.localhost/log", "entries": 0, "checkpoint": None},
        "files": {name: entry(data) for name, data in files.items()},
    }
    body.update(changes)
    return body


def write(path: Path, members: dict[str, bytes], *, links: tuple[str, ...] = ()) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return path


def archive(tmp_path: Path, files: dict[str, bytes], **changes: Any) -> Path:
    members = {**files, "manifest.json": json.dumps(manifest(files, **changes)).encode()}
    return write(tmp_path / "b.tar", members)


def refused(path: Path) -> str:
    with pytest.raises(BackupError) as caught:
        read_archive(path)
    assert caught.value.code == EXIT_ARCHIVE
    return str(caught.value)


def test_a_well_formed_archive_is_read(tmp_path: Path) -> None:
    files = {"database.dump": DUMP, "keys/secret_seal_key": b"k" * 44 + b"\n", UPLOAD: b"%PDF-1.4"}
    read = read_archive(archive(tmp_path, files))
    assert set(read.files) == set(files) and read.checkpoint is None


@pytest.mark.parametrize(
    "name",
    [
        "../escape",
        "/etc/cron.d/x",
        "uploads/../../x",
        "uploads/./x",
        "keys/id_rsa",
        "uploads/a/.hidden",
        "other.txt",
        "uploads",
    ],
)
def test_names_that_no_backup_writes_are_refused(tmp_path: Path, name: str) -> None:
    files = {"database.dump": DUMP, name: b"x"}
    assert "no market backup holds" in refused(archive(tmp_path, files))


def test_links_are_refused(tmp_path: Path) -> None:
    files = {"database.dump": DUMP}
    path = write(
        tmp_path / "b.tar", {**files, "manifest.json": json.dumps(manifest(files)).encode()}, links=(UPLOAD,)
    )
    assert "not a regular file" in refused(path)


def test_a_file_missing_from_the_archive_or_from_the_manifest_is_refused(tmp_path: Path) -> None:
    listed = {"database.dump": DUMP, UPLOAD: b"%PDF-1.4"}
    members = {"database.dump": DUMP, "manifest.json": json.dumps(manifest(listed)).encode()}
    assert "lacks " + UPLOAD in refused(write(tmp_path / "a.tar", members))
    members = {
        "database.dump": DUMP,
        UPLOAD: b"%PDF",
        "manifest.json": json.dumps(manifest({"database.dump": DUMP})).encode(),
    }
    assert "does not list" in refused(write(tmp_path / "b.tar", members))


def test_a_manifest_that_is_not_one_is_refused(tmp_path: Path) -> None:
    files = {"database.dump": DUMP}
    assert "not a market backup" in refused(archive(tmp_path, files, format="something-else"))
    assert "lacks or misspells" in refused(archive(tmp_path, files, log={"origin": "x"}))
    assert "holds no manifest.json" in refused(write(tmp_path / "c.tar", files))
    assert "not JSON" in refused(write(tmp_path / "d.tar", {**files, "manifest.json": b"{"}))


def test_the_archive_name_says_the_compression() -> None:
    assert dump._compression(Path("b.tar")) == ""
    assert dump._compression(Path("B.TAR.GZ")) == "gz" and dump._compression(Path("b.tgz")) == "gz"
    assert dump._compression(Path("b.tar.xz")) == "xz"
    for bad in ("b.zip", ".tar", "b.gz"):
        with pytest.raises(BackupError):
            dump._compression(Path(bad))
