"""`market log verify` and the standalone ops/verify_log.py against a live server and its
database: they agree, and they catch a changed byte, a deleted row, a forged signature and
a forked history."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from market import protocol
from market.core.db import to_asyncpg_dsn
from market.log.signer import LogSigner
from tests.conftest import run_blocking
from tests.live import live_server

ROOT = Path(__file__).resolve().parents[3]


def post_json(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


@pytest.fixture
def logged(committed_database_url: str, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A live server whose log holds 7 entries: (base url, database url, data dir)."""
    data_dir = tmp_path / "data"
    with live_server(committed_database_url, data_dir) as base:
        for i in range(7):
            post_json(
                base + "/api/v1/auth/register",
                {"email": f"v{i}@example.cn", "password": "a long password", "name": "n", "role": "owner"},
            )
        yield base, committed_database_url, data_dir


def market_verify(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "MARKET_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "market.cli", "log", "verify", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def standalone(*args: str) -> subprocess.CompletedProcess[str]:
    # -I: isolated, so the market package cannot be imported even by accident.
    return subprocess.run(
        [sys.executable, "-I", str(ROOT / "ops/verify_log.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )


def tamper(database_url: str, *statements: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
        try:
            await conn.execute("ALTER TABLE log_entry DISABLE TRIGGER log_entry_no_update_delete")
            for statement in statements:
                await conn.execute(statement)
            await conn.execute("ALTER TABLE log_entry ENABLE TRIGGER log_entry_no_update_delete")
        finally:
            await conn.close()

    run_blocking(run())


def test_all_three_verifiers_agree_on_a_good_log(logged: tuple[str, str, Path]) -> None:
    base, database_url, data_dir = logged
    by_db = market_verify(database_url, data_dir, "--json")
    by_url = market_verify(database_url, data_dir, "--url", base, "--json")
    alone = standalone("--url", base, "--json")
    reports = [json.loads(r.stdout) for r in (by_db, by_url, alone)]
    assert [r.returncode for r in (by_db, by_url, alone)] == [0, 0, 0], alone.stderr
    assert all(r["ok"] and r["size"] == 7 for r in reports)
    assert len({r["root"] for r in reports}) == 1
    assert reports[1]["checks"] == reports[2]["checks"]
    human = market_verify(database_url, data_dir)
    assert human.returncode == 0 and "VERIFIED" in human.stdout
    # --log-only, through every front end: the same log checks, no notice re-derived.
    for result in (
        market_verify(database_url, data_dir, "--log-only", "--json"),
        standalone("--url", base, "--log-only", "--json"),
    ):
        quick = json.loads(result.stdout)
        assert (
            result.returncode == 0
            and quick["ok"]
            and quick["notices"] == {}
            and quick["root"] == reports[0]["root"]
        )
        assert any("not re-derived" in note for note in quick["notes"])
    both = standalone("--url", base, "--log-only", "--notice", "N-000001")
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_one_changed_byte_fails_and_names_the_entry(logged: tuple[str, str, Path]) -> None:
    base, database_url, data_dir = logged
    get_text(base + "/api/v1/log/checkpoint")  # the server has signed the 7 entries
    # "owner" -> "ownes" inside entry 4: still canonical JSON, seq intact, only the hash changes
    tamper(
        database_url,
        "UPDATE log_entry SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '\"owner\"', '\"ownes\"'), 'UTF8') WHERE seq = 4",
    )
    for result in (market_verify(database_url, data_dir, "--json"), standalone("--url", base, "--json")):
        report = json.loads(result.stdout)
        assert result.returncode == 1
        assert report["first_bad_seq"] == 4, report
    human = market_verify(database_url, data_dir)
    assert human.returncode == 1 and "entry 4" in human.stdout and "FAILED" in human.stdout


def test_a_deleted_row_fails_and_names_where(logged: tuple[str, str, Path]) -> None:
    base, database_url, data_dir = logged
    get_text(base + "/api/v1/log/checkpoint")
    tamper(database_url, "DELETE FROM log_entry WHERE seq = 2")
    result = market_verify(database_url, data_dir, "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["first_bad_seq"] == 2


def test_a_deleted_last_row_fails(logged: tuple[str, str, Path]) -> None:
    base, database_url, data_dir = logged
    get_text(base + "/api/v1/log/checkpoint")
    tamper(database_url, "DELETE FROM log_entry WHERE seq = 6")
    result = standalone("--url", base, "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["first_bad_seq"] == 6


def test_forged_checkpoint_signature_fails(logged: tuple[str, str, Path], tmp_path: Path) -> None:
    base, database_url, data_dir = logged
    note = get_text(base + "/api/v1/log/checkpoint")
    text, signature_line = note.split("\n\n")
    prefix, b64 = signature_line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    forged = f"{text}\n\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    (tmp_path / "old.txt").write_text(forged)
    result = standalone("--url", base, "--since", str(tmp_path / "old.txt"), "--json")
    assert result.returncode == 1
    assert "does not verify" in json.loads(result.stdout)["problems"][0]["message"]


def test_since_accepts_an_earlier_checkpoint_and_catches_a_fork(
    logged: tuple[str, str, Path], tmp_path: Path
) -> None:
    base, database_url, data_dir = logged
    old = get_text(base + "/api/v1/log/checkpoint")
    (tmp_path / "old.txt").write_text(old)
    post_json(
        base + "/api/v1/auth/register",
        {"email": "later@example.cn", "password": "a long password", "name": "n", "role": "agency"},
    )
    good = standalone("--url", base, "--since", str(tmp_path / "old.txt"), "--json")
    assert good.returncode == 0, good.stdout
    assert any("consistent" in c for c in json.loads(good.stdout)["checks"])

    # A checkpoint the operator signed for another history of the same size: a fork.
    signer = LogSigner.from_data_dir("market.localhost/log", data_dir)
    forked = signer.sign_checkpoint(7, protocol.H(b"another history"))
    (tmp_path / "fork.txt").write_text(forked)
    bad = market_verify(
        database_url, data_dir, "--url", base, "--since", str(tmp_path / "fork.txt"), "--json"
    )
    assert bad.returncode == 1
    assert "not consistent" in json.loads(bad.stdout)["problems"][0]["message"]


def test_the_server_signs_a_checkpoint_after_commits_without_being_asked(
    logged: tuple[str, str, Path],
) -> None:
    import time

    base, database_url, _ = logged

    async def latest_size() -> int:
        conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
        try:
            return int(await conn.fetchval("SELECT coalesce(max(size), -1) FROM log_checkpoint"))
        finally:
            await conn.close()

    deadline = time.monotonic() + 10
    while run_blocking(latest_size()) < 7:
        assert time.monotonic() < deadline, "no checkpoint covering the 7 entries within 10 s"
        time.sleep(0.2)


def test_unreachable_server_is_a_clear_failure() -> None:
    result = standalone("--url", "http://127.0.0.1:9", "--json")
    assert result.returncode == 1
    assert "could not read the log" in json.loads(result.stdout)["problems"][0]["message"]


def test_a_state_carries_over_through_every_front_end(logged: tuple[str, str, Path], tmp_path: Path) -> None:
    base, database_url, data_dir = logged
    by_db, alone = tmp_path / "db-state.json", tmp_path / "alone-state.json"
    runs = (
        lambda: market_verify(database_url, data_dir, "--state", str(by_db), "--json"),
        lambda: standalone("--url", base, "--state", str(alone), "--json"),
    )
    for run in runs:
        first = run()
        assert first.returncode == 0 and any(
            "no state in" in note for note in json.loads(first.stdout)["notes"]
        ), first.stderr
    post_json(
        base + "/api/v1/auth/register",
        {"email": "v8@example.cn", "password": "a long password", "name": "n", "role": "owner"},
    )
    get_text(base + "/api/v1/log/checkpoint")  # signed: the log has grown since the states were kept
    for run, state in zip(runs, (by_db, alone)):
        again = run()
        report = json.loads(again.stdout)
        assert again.returncode == 0 and report["size"] == 8, again.stderr
        assert any(
            check.startswith("the first 7 entries are the ones verified on ") for check in report["checks"]
        )
        assert json.loads(state.read_text())["size"] == 8
    both = market_verify(database_url, data_dir, "--state", str(by_db), "--notice", "N-000001")
    assert both.returncode == 2 and "not allowed with" in both.stderr
