"""The ``market`` command against real databases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg

from market.core.db import to_asyncpg_dsn
from market.core.pgembed import EmbeddedPostgres, free_port
from tests.conftest import run_blocking

ROOT = Path(__file__).resolve().parents[3]


def market(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "market.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_users_create_makes_staff_who_can_log_in(committed_database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(tmp_path)}
    done = market(
        "users",
        "create",
        "--email",
        "chief@yn.gov.cn",
        "--password",
        "a long password",
        "--role",
        "admin",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "created admin U-" in done.stdout

    again = market(
        "users",
        "create",
        "--email",
        "CHIEF@yn.gov.cn",
        "--password",
        "a long password",
        "--role",
        "supervisor",
        env=env,
    )
    assert again.returncode == 1 and "already registered" in again.stderr

    short = market(
        "users", "create", "--email", "s@yn.gov.cn", "--password", "short", "--role", "supervisor", env=env
    )
    assert short.returncode == 1 and "password" in short.stderr and "Traceback" not in short.stderr

    bad_role = market(
        "users",
        "create",
        "--email",
        "o@yn.gov.cn",
        "--password",
        "a long password",
        "--role",
        "owner",
        env=env,
    )
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr


def test_demo_is_idempotent(committed_database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(tmp_path)}
    # Five halls' staff and owners: a few dozen argon2 hashes, slow on a busy machine.
    first = market("demo", env=env, timeout=300)
    second = market("demo", env=env, timeout=300)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout
    for role in ("admin", "supervisor", "owner", "agency"):
        assert role in first.stdout
    assert (
        "admin.530102@demo.market.cn" in first.stdout and "supervisor.530100kf@demo.market.cn" in first.stdout
    )
    the_demo_s_halls_are_staffed_and_busy(committed_database_url)


DEMO_HALLS = ("530000", "530100", "530102", "530103", "530100KF")


def the_demo_s_halls_are_staffed_and_busy(url: str) -> None:
    """Issue 21, item 7: the province, 昆明市, two of its counties and a development park,
    each with an active administrator and supervisor, and published notices."""

    async def read() -> tuple[dict[str, Any], dict[str, int], list[Any]]:
        conn = await asyncpg.connect(to_asyncpg_dsn(url))
        try:
            park = await conn.fetchrow(
                "SELECT parent, kind, region FROM jurisdiction WHERE code = '530100KF'"
            )
            staff = await conn.fetch(
                """SELECT jurisdiction, array_agg(DISTINCT role) AS roles FROM app_user
                WHERE role IN ('admin', 'supervisor') AND is_active GROUP BY jurisdiction"""
            )
            notices = await conn.fetch(
                "SELECT hall, count(*) AS n FROM notice WHERE status <> 'draft' GROUP BY hall"
            )
            added = await conn.fetch(
                "SELECT convert_from(entry, 'UTF8') AS f FROM log_entry WHERE type = 'hall.added'"
            )
        finally:
            await conn.close()
        return (
            {
                "park": dict(park) if park else None,
                "staff": {r["jurisdiction"]: set(r["roles"]) for r in staff},
            },
            {r["hall"]: r["n"] for r in notices},
            [json.loads(r["f"]) for r in added],  # the fields are the entry's own keys
        )

    found, notices, added = run_blocking(read())
    assert found["park"] == {"parent": "530100", "kind": "park", "region": "530100"}
    assert [(f["code"], f["parent"], f["name_zh"]) for f in added] == [
        ("530100KF", "530100", "昆明经济技术开发区")
    ]
    for hall in DEMO_HALLS:
        assert found["staff"].get(hall) == {"admin", "supervisor"}, (hall, found["staff"])
        assert notices.get(hall, 0) >= 2, (hall, notices)


def test_serve_without_database_url_runs_and_stops_a_private_postgres(tmp_path_factory: object) -> None:
    # The data dir sits in the checkout's var/ so that, as root, the postgres user can reach it.
    data_dir = ROOT / "var" / f"test-embedded-{os.getpid()}-{time.time_ns()}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"MARKET_DATA_DIR": str(data_dir), "MARKET_PORT": str(port)})
    process = subprocess.Popen(
        [sys.executable, "-m", "market.cli", "serve", "--demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    cluster = EmbeddedPostgres(data_dir / "postgres")
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                assert time.monotonic() < deadline, "home page not served within two minutes"
                time.sleep(0.3)
        assert 'lang="zh-Hans"' in body and "中介服务网上超市" in body
        assert cluster.is_running()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert not cluster.is_running()
    finally:
        if process.poll() is None:
            process.kill()
        if cluster.is_running():
            cluster.stop()
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)
