"""Review of issue 23: ``market backup`` no longer carries uploads/ files, so a database not
migrated yet (the new version installed, a backup taken before ``market db upgrade``, as
an upgrade is done) holds its files on disk only. The backup must then say that the files
its rows refer to are not in it, not that every file is in the dump."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from market.backup.pg import referenced_uploads
from market.core.db import to_asyncpg_dsn
from tests.conftest import run_blocking
from tests.integration.files.test_import import old_site  # noqa: F401 (fixture)


async def _as_before_the_migration(url: str) -> tuple[int, list[str]]:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        await conn.execute("DROP TABLE stored_file_chunk, stored_file")  # the schema before 0012
        return await referenced_uploads(conn)
    finally:
        await conn.close()


@pytest.mark.committing
def test_a_backup_of_a_database_not_migrated_yet_names_the_files_it_lacks(
    old_site: tuple[str, Path, dict[str, bytes]],
) -> None:
    url, _, on_disk = old_site
    stored, missing = run_blocking(_as_before_the_migration(url))
    assert stored == 0
    assert sorted(missing) == sorted(on_disk)
