"""Issue 21, item 3: ``market users create --jurisdiction CODE`` makes staff whose powers
reach that hall, logs the grant, and refuses a code that names no hall."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg

from market.core.db import to_asyncpg_dsn
from tests.conftest import run_blocking
from tests.integration.cli.test_cli import market


def _read(url: str, email: str) -> tuple[Any, list[dict[str, Any]]]:
    async def read() -> tuple[Any, list[dict[str, Any]]]:
        conn = await asyncpg.connect(to_asyncpg_dsn(url))
        try:
            user = await conn.fetchrow(
                "SELECT public_id, role, jurisdiction, is_active FROM app_user WHERE email = $1", email
            )
            grants = await conn.fetch(
                "SELECT convert_from(entry, 'UTF8') AS f FROM log_entry WHERE type = 'staff.granted'"
            )
        finally:
            await conn.close()
        return user, [json.loads(row["f"]) for row in grants]

    return run_blocking(read())  # type: ignore[no-any-return]


def test_users_create_makes_a_county_supervisor_and_refuses_an_unknown_code(
    committed_database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(tmp_path)}
    args = ("users", "create", "--password", "a long password", "--role", "supervisor")
    done = market(*args, "--email", "wuhua@km.gov.cn", "--jurisdiction", "530102", env=env)
    assert done.returncode == 0, done.stderr
    assert "created supervisor U-" in done.stdout

    user, grants = _read(committed_database_url, "wuhua@km.gov.cn")
    assert (user["role"], user["jurisdiction"], user["is_active"]) == ("supervisor", "530102", True)
    grant = next(g for g in grants if g["user_id"] == user["public_id"])
    assert (grant["role"], grant["jurisdiction"], grant["by"]) == ("supervisor", "530102", "operator")

    unknown = market(*args, "--email", "nowhere@km.gov.cn", "--jurisdiction", "539999", env=env)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "No such jurisdiction" in unknown.stderr
    missing, _ = _read(committed_database_url, "nowhere@km.gov.cn")
    assert missing is None
