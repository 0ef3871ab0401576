"""Files that earlier versions wrote under ``MARKET_DATA_DIR/uploads``, imported into the
database (``market files import``, run by ``market serve`` and ``market db upgrade`` too,
and by ``market restore`` for an archive that still carries them).

They were laid out as ``uploads/agencies/<agency id>/<sha256>.<ext>`` and
``uploads/contracts/<contract id>/<sha256>.<ext>``. Only files some row refers to and the
database lacks are read; each is checked against the SHA-256 (and size) its row recorded
at upload, so a file changed on disk since is refused and named, never stored under the
hash of other bytes; and each goes in with a transaction of its own, whole or not at all.
Running it again imports what is still missing and nothing else. The files stay on disk
(the operator deletes them once a backup holds the database; docs/reliability.md)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from market.core.db import Database
from market.files import store

UPLOADS = "uploads"
SUFFIX = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}

# Every file a row refers to, with where an earlier version put it; a file two rows share
# is listed once per place, and found in any of them.
_REFERENCED = """
SELECT 'agencies/' || a.public_id AS folder, d.sha256, d.content_type, d.size
FROM agency_document d JOIN agency a ON a.id = d.agency_id
UNION
SELECT 'contracts/' || c.public_id, v.sha256, v.content_type, v.size
FROM deliverable v JOIN milestone m ON m.id = v.milestone_id JOIN contract c ON c.id = m.contract_id
"""
NOT_STORED = f"""
SELECT r.folder, r.sha256, r.content_type, r.size FROM ({_REFERENCED}) r
WHERE NOT EXISTS (SELECT 1 FROM stored_file f WHERE f.sha256 = r.sha256)
ORDER BY r.sha256, r.folder
"""
_COUNT_REFERENCED = f"SELECT count(DISTINCT sha256) FROM ({_REFERENCED}) r"


def legacy_name(folder: str, sha256: str, content_type: str) -> str:
    """Where an earlier version kept a file, relative to its data dir."""
    return f"{UPLOADS}/{folder}/{sha256}{SUFFIX.get(content_type, '')}"


@dataclass
class Imported:
    referenced: int = 0  # distinct files the database refers to
    imported: list[str] = field(default_factory=list)  # names read from disk and stored now
    missing: list[str] = field(default_factory=list)  # not on disk, nor stored
    mismatched: list[str] = field(default_factory=list)  # on disk, but not the bytes the row recorded
    unresolved: int = 0  # distinct files neither stored before nor imported now

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched

    @property
    def already(self) -> int:
        """Referenced files that were in the database before this run."""
        return self.referenced - len(self.imported) - self.unresolved

    def problems(self) -> list[str]:
        return [f"{name}: no such file" for name in self.missing] + [
            f"{name}: its SHA-256 is not the one recorded at upload (changed on disk?)"
            for name in self.mismatched
        ]


def _read_checked(path: Path, sha256: str, size: int) -> bytes | None:
    """The file's bytes when they are what the row recorded; None when not."""
    if path.stat().st_size != size:
        return None  # a cheap refusal before reading a file grown on disk
    content = path.read_bytes()
    return content if len(content) == size and hashlib.sha256(content).hexdigest() == sha256 else None


async def import_files(db: Database, root: Path) -> Imported:
    """Store every file that rows refer to and the database lacks, from ``root/uploads``
    (``root`` is the data dir, or restore's staging dir)."""
    async with db.transaction() as session:
        referenced = int((await session.execute(sa.text(_COUNT_REFERENCED))).scalar_one())
        rows = (await session.execute(sa.text(NOT_STORED))).all()
    result = Imported(referenced=referenced)
    places: dict[str, list[tuple[str, str, int]]] = {}
    for folder, sha256, content_type, size in rows:
        places.setdefault(sha256, []).append((legacy_name(folder, sha256, content_type), content_type, size))
    for sha256, candidates in places.items():
        absent: list[str] = []
        wrong: list[str] = []
        for name, content_type, size in candidates:
            path = root / name
            if not path.is_file():
                absent.append(name)
                continue
            content = await asyncio.to_thread(_read_checked, path, sha256, size)
            if content is None:
                wrong.append(name)
                continue
            async with db.transaction() as session:  # this file whole, or not at all
                await store.store(session, content=content, content_type=content_type)
            result.imported.append(name)
            break
        else:  # no copy of it was found whole: say where each one was looked for
            result.unresolved += 1
            result.mismatched.extend(wrong)
            result.missing.extend(absent if not wrong else [])
    return result


def run(url: str, root: Path) -> Imported:
    """``import_files`` from blocking code (the CLI, restore)."""

    async def main() -> Imported:
        db = Database.from_url(url, pool_size=1, max_overflow=0)
        try:
            return await import_files(db, root)
        finally:
            await db.dispose()

    return asyncio.run(main())
