"""`market log witness` against live servers: the first run stores the checkpoint, a later
run after more entries is consistent; a rebuilt history signed with the same log key is
caught as not consistent; a state directory of another log is a clear error. And
`market log cosign` co-signs from the command line."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url

from market import protocol
from market.log.signer import KEY_FILE
from market.protocol import cosign
from tests.conftest import _drop, _recreate, run_blocking, url_for
from tests.helpers import PASSWORD
from tests.live import live_server

ROOT = Path(__file__).resolve().parents[3]


def post_json(url: str, body: dict[str, object], token: str | None = None) -> dict[str, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def add_entries(base: str, n: int, tag: str) -> None:
    for i in range(n):
        post_json(
            base + "/api/v1/auth/register",
            {"email": f"{tag}{i}@example.cn", "password": "a long password", "name": tag, "role": "owner"},
        )


def market(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "market.cli", "log", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def witness(base: str, state: Path) -> subprocess.CompletedProcess[str]:
    return market("witness", "--url", base, "--state", str(state))


@pytest.fixture
def second_database_url(server_url: str, database_url: str) -> object:
    template = make_url(database_url).database
    name = f"{template}_w{secrets.token_hex(4)}"
    run_blocking(_recreate(server_url, name, template=template))
    yield url_for(server_url, name)
    run_blocking(_drop(server_url, name))


def test_witness_stores_then_checks_growth_and_catches_a_rewritten_history(
    committed_database_url: str, second_database_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    data_a = tmp_path / "data-a"
    with live_server(committed_database_url, data_a) as base:
        add_entries(base, 3, "first")
        first = witness(base, state)
        assert first.returncode == 0, first.stderr
        assert "trusted on first use" in first.stdout and "3 entries" in first.stdout
        stored = (state / "checkpoint").read_text()
        assert protocol.parse_checkpoint(stored.split("\n\n")[0] + "\n")[1] == 3

        add_entries(base, 2, "more")
        second = witness(base, state)
        assert second.returncode == 0, second.stderr
        assert second.stdout.strip() == "consistent: 3 \u2192 5 entries"

        # A state directory kept for another log.
        other = tmp_path / "other"
        other.mkdir()
        foreign_key = Ed25519PrivateKey.generate()
        foreign_public = cosign.public_bytes(foreign_key)
        (other / "key").write_text(protocol.verifier_key("other.example.cn/log", foreign_public) + "\n")
        (other / "checkpoint").write_text(
            protocol.sign_note(
                protocol.checkpoint_text("other.example.cn/log", 1, protocol.H(b"x")),
                "other.example.cn/log",
                foreign_key,
            )
        )
        mismatch = witness(base, other)
        assert mismatch.returncode == 4
        assert (
            "the state directory holds a checkpoint of origin other.example.cn/log, this log is market.localhost/log"
            in mismatch.stderr
        )

    # The operator rebuilds the log with other data and serves it with the same key: every
    # checkpoint verifies, but none extends what the witness saw.
    data_b = tmp_path / "data-b"
    data_b.mkdir()
    shutil.copy(data_a / KEY_FILE, data_b / KEY_FILE)
    with live_server(second_database_url, data_b) as base:
        add_entries(base, 6, "rewritten")
        assert get_text(base + "/api/v1/log/key") == get_text_key(data_a)
        forked = witness(base, state)
        assert forked.returncode == 1, forked.stdout + forked.stderr
        assert "not consistent" in forked.stderr
        assert (state / "checkpoint").read_text() == second_checkpoint(state)

    # Unreachable: a distinct exit code.
    gone = witness(base, state)
    assert gone.returncode == 5


def get_text_key(data_dir: Path) -> str:
    from market.log.signer import LogSigner

    return LogSigner.from_data_dir("market.localhost/log", data_dir).verifier_key + "\n"


def second_checkpoint(state: Path) -> str:
    """The stored checkpoint, which a failed run must leave as it was (size 5)."""
    note = (state / "checkpoint").read_text()
    assert protocol.parse_checkpoint(note.split("\n\n")[0] + "\n")[1] == 5
    return note


def test_cosign_from_the_command_line(committed_database_url: str, tmp_path: Path) -> None:
    from market.accounts.models import Role

    key_path = tmp_path / "witness.pem"
    key = Ed25519PrivateKey.generate()
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    name = "supervisor.example.cn/cli"
    printed = market("cosign", "--key", str(key_path), "--name", name, "--print-public-key")
    assert printed.returncode == 0 and cosign.b64(cosign.public_bytes(key)) in printed.stdout

    env = {"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(tmp_path / "data")}
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "market.cli",
            "users",
            "create",
            "--email",
            "sup@example.cn",
            "--role",
            Role.supervisor.value,
            "--password",
            PASSWORD,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    with live_server(committed_database_url, tmp_path / "data") as base:
        add_entries(base, 2, "cos")
        token = str(
            post_json(base + "/api/v1/auth/token", {"email": "sup@example.cn", "password": PASSWORD})[
                "access_token"
            ]
        )
        state = tmp_path / "state"
        # Not yet registered: refused.
        refused = market(
            "cosign", "--url", base, "--key", str(key_path), "--name", name, "--state", str(state)
        )
        assert refused.returncode == 7 and "refused" in refused.stderr
        done = market(
            "cosign",
            "--url",
            base,
            "--key",
            str(key_path),
            "--name",
            name,
            "--state",
            str(state),
            "--register",
            env={"MARKET_TOKEN": token},
        )
        assert done.returncode == 0, done.stderr
        # 4 entries: the supervisor's account and its grant (staff.granted), and two owners.
        assert "consistent: 4 \u2192 4 entries" in done.stdout and "co-signed" in done.stdout
        note = get_text(base + "/api/v1/log/checkpoint?cosigned=1")
        log_key = get_text(base + "/api/v1/log/key")
        assert protocol.open_checkpoint(note, log_key)[1] == 4
        assert cosign.open_cosigned(note, name, cosign.public_bytes(key))
        assert name in get_text(base + "/log")
