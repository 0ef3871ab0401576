"""Issue 23: the secret and keys every app host is given. Read from the side of a second
host: starting at the same moment as the first on an empty data dir, it must end up with
the first one's keys (never an empty or half-written file); in production it must refuse
to start rather than make keys of its own; given the same files or variables, it signs
what the other's public keys verify and opens what the other sealed."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from market.app import create_app
from market.bids.receipts import ReceiptSigner, verify_receipt
from market.core.config import ConfigError, Settings, load_or_create_secret
from market.core.db import Database
from market.log.signer import LogSigner
from market.notices.secrets import SecretSealer
from market.protocol import open_note
from market.security import keys
from tests.conftest import serve_in_process

ROOT = Path(__file__).resolve().parents[3]
FILES = ("secret_key", "log_signing_key.pem", "receipt_signing_key.pem", "secret_seal_key")
VARIABLES = (
    "MARKET_SECRET_KEY",
    "MARKET_LOG_SIGNING_KEY",
    "MARKET_RECEIPT_SIGNING_KEY",
    "MARKET_SECRET_SEAL_KEY",
)


def production(data_dir: Path, database_url: str = "", **extra: str) -> Settings:
    env = {
        "MARKET_ENV": "production",
        "MARKET_DATA_DIR": str(data_dir),
        "MARKET_PUBLIC_URL": "https://zjcs.example.gov.cn",
        **({"DATABASE_URL": database_url} if database_url else {}),
        **extra,
    }
    return Settings.from_env(env)


@pytest.fixture(autouse=True)
def _no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


# -- the first-start race ------------------------------------------------------------------


def _start(data_dir: str, barrier: Any, results: Any) -> None:
    """One host's start on ``data_dir``: what it ends up signing and sealing with."""
    path = Path(data_dir)
    try:
        barrier.wait(timeout=30)
        secret = load_or_create_secret(path / "secret_key")
        signer = LogSigner.from_data_dir("market.localhost/log", path)
        receipts = ReceiptSigner.from_data_dir(path)
        sealed = SecretSealer.from_data_dir(path).seal("probe", b"opened by every host")
        results.put((secret, signer.verifier_key, receipts.kid, sealed))
    except Exception as exc:  # a half-written file: ConfigError, or a base64/PEM error
        results.put(("failed", f"{type(exc).__name__}: {exc}", "", b""))


def test_hosts_starting_at_once_on_an_empty_data_dir_all_get_the_same_keys(tmp_path: Path) -> None:
    """8 processes released together by a barrier, 8 rounds on a fresh directory each:
    every process reads or makes the same four keys, and none fails on a file another was
    still writing."""
    context = multiprocessing.get_context("fork")
    for round_ in range(8):
        data_dir = tmp_path / f"round-{round_}"
        barrier, results = context.Barrier(8), context.Queue()
        processes = [context.Process(target=_start, args=(str(data_dir), barrier, results)) for _ in range(8)]
        for process in processes:
            process.start()
        seen = [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(timeout=30)
        assert [s for s in seen if s[0] == "failed"] == []
        assert len({s[:3] for s in seen}) == 1, seen
        sealer = SecretSealer.from_data_dir(data_dir)
        assert {sealer.open("probe", s[3]) for s in seen} == {b"opened by every host"}
        assert sorted(p.name for p in data_dir.iterdir()) == sorted(FILES)  # no temporary file left


def test_a_key_file_appears_only_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the key is being written (up to its fsync) nothing is at its name; a crash
    before the end leaves no file at all, not a short one the next start would trust."""
    path = tmp_path / "log_signing_key.pem"
    real_fsync = os.fsync
    visible_while_writing: list[bool] = []

    def crash(fd: int) -> None:
        visible_while_writing.append(path.exists())
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        keys.write_new(path, b"-----BEGIN PRIVATE KEY-----\n")
    assert visible_while_writing == [False]
    assert list(tmp_path.iterdir()) == []  # neither the key nor the temporary file

    def watch(fd: int) -> None:
        visible_while_writing.append(path.exists())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watch)
    signer = LogSigner.from_data_dir("market.localhost/log", tmp_path)
    assert visible_while_writing[1] is False  # the file's own fsync, before the link
    assert LogSigner.from_data_dir("market.localhost/log", tmp_path).verifier_key == signer.verifier_key
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert keys.write_new(path, b"another") is False and path.read_bytes() != b"another"  # never replaced


# -- production refuses to make its own ----------------------------------------------------


def test_production_refuses_to_start_without_keys_and_says_which_and_how(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with pytest.raises(ConfigError) as refused:
        create_app(production(data_dir))
    message = str(refused.value)
    for name in (*FILES, *VARIABLES, "market keys generate --out DIR"):
        assert name in message, name
    assert not data_dir.exists() or list(data_dir.iterdir()) == []  # made nothing of its own

    # With the secret in the environment, only the three keys are missing.
    with pytest.raises(ConfigError) as refused:
        create_app(production(data_dir, MARKET_SECRET_KEY="s" * 48))
    assert "MARKET_SECRET_KEY" not in str(refused.value) and "log_signing_key.pem" in str(refused.value)

    # Development and tests still make them on first start.
    Settings.from_env({"MARKET_ENV": "dev", "MARKET_DATA_DIR": str(data_dir)}).with_secret()
    assert (data_dir / "secret_key").is_file()


def test_two_hosts_given_the_generated_files_or_variables_sign_and_seal_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, db: Database
) -> None:
    """`market keys generate` once; host A and host B get copies of the files, host C the
    same values as variables. Checkpoints signed by B and C verify under A's verifier key,
    receipts signed by B and C under A's public key, and what A sealed B and C open."""
    from market.cli import main

    made = tmp_path / "made"
    monkeypatch.setenv("MARKET_DATA_DIR", str(tmp_path / "operator"))
    assert main(["keys", "generate", "--out", str(made)]) == 0
    assert all(oct((made / name).stat().st_mode & 0o777) == "0o600" for name in FILES)
    assert main(["keys", "generate", "--out", str(made)]) == 0  # kept, not overwritten
    first = {name: (made / name).read_bytes() for name in FILES}

    apps = {}
    for host in ("a", "b"):
        shutil.copytree(made, tmp_path / host)
        apps[host] = create_app(production(tmp_path / host, database_url), database=db)
    for name, variable in zip(FILES, VARIABLES, strict=True):
        monkeypatch.setenv(variable, first[name].decode())
    apps["c"] = create_app(
        production(tmp_path / "c", database_url, MARKET_SECRET_KEY=first["secret_key"].decode()), database=db
    )
    assert not (tmp_path / "c").exists() or list((tmp_path / "c").iterdir()) == []
    assert {(made / name).read_bytes() for name in FILES} == set(first.values())

    a = apps["a"].state
    sealed = a.sealer.seal("N-1", b"the notice's secret")
    for other in ("b", "c"):
        state = apps[other].state
        assert (
            state.settings.secret_key == a.settings.secret_key
        )  # tokens and CSRF cookies work on every host
        note = state.log_signer.sign_checkpoint(3, b"\x01" * 32)
        assert open_note(note, a.log_signer.verifier_key).startswith("market.localhost/log\n")
        claims = {"notice_id": "N-1", "bid_id": "B-1", "agency_id": "A-1", "bid_sha256": "0" * 64, "seq": 1}
        receipt = state.receipts.sign({**claims, "leaf_hash": "1" * 64})
        assert verify_receipt(receipt, a.receipts.public_jwk()) is not None
        assert state.sealer.open("N-1", sealed) == b"the notice's secret"


async def test_a_production_host_with_the_files_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, db: Database
) -> None:
    from market.cli import main

    data_dir = tmp_path / "data"
    monkeypatch.setenv("MARKET_DATA_DIR", str(data_dir))
    assert main(["keys", "generate"]) == 0  # into MARKET_DATA_DIR
    app = create_app(production(data_dir, database_url), database=db)
    async with serve_in_process(app) as client:
        response = await client.get("/healthz", headers={"Host": "zjcs.example.gov.cn"})
    assert response.status_code == 200


def test_market_serve_in_production_without_keys_exits_and_says_how(
    tmp_path: Path, committed_database_url: str
) -> None:
    """What the operator sees: one line naming the command, exit 1, no key file made."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in VARIABLES},
        "MARKET_ENV": "production",
        "MARKET_DATA_DIR": str(tmp_path / "data"),
        "MARKET_PUBLIC_URL": "https://zjcs.example.gov.cn",
        "DATABASE_URL": committed_database_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "market.cli", "serve"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 1, done.stderr.decode()[-2000:]
    assert "market keys generate --out DIR" in done.stderr.decode()
    assert not (tmp_path / "data" / "log_signing_key.pem").exists()


def test_keys_check_prints_the_same_fingerprints_on_hosts_given_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an operator compares between hosts; a host missing a key exits 1."""
    from market.cli import main

    monkeypatch.setenv("MARKET_DATA_DIR", str(tmp_path / "a"))
    assert main(["keys", "generate"]) == 0
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    capsys.readouterr()
    printed = []
    for host in ("a", "b"):
        monkeypatch.setenv("MARKET_DATA_DIR", str(tmp_path / host))
        assert main(["keys", "check"]) == 0
        printed.append([line for line in capsys.readouterr().out.splitlines() if str(tmp_path) not in line])
    assert printed[0] == printed[1] and any(line.startswith("log verifier key: ") for line in printed[0])
    (tmp_path / "b" / "secret_seal_key").unlink()
    assert main(["keys", "check"]) == 1
    assert "secret seal key: missing" in capsys.readouterr().out
