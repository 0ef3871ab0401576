"""Review of issue 23: a production host given no keys refuses to start rather than make
its own. A command run there first (``market log verify``, as an operator checks a new
host before copying the keys) must not make them either: it used to write a fresh
log_signing_key.pem (and receipt, seal keys) into the data dir, after which ``market
serve`` found "its" keys and started, signing checkpoints nobody else trusts."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.app import create_app
from market.bids.receipts import ReceiptSigner
from market.core.config import ConfigError
from market.log.signer import LogSigner
from market.notices.secrets import SecretSealer
from tests.integration.security.test_keys_cluster import FILES, VARIABLES, production


@pytest.fixture(autouse=True)
def _no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.committing
def test_a_command_on_a_production_host_without_keys_makes_none(
    committed_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from market.cli import main

    data = tmp_path / "data"
    for name, value in {
        "MARKET_ENV": "production",
        "MARKET_DATA_DIR": str(data),
        "MARKET_PUBLIC_URL": "https://zjcs.example.gov.cn",
        "DATABASE_URL": committed_database_url,
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["log", "verify"]) != 0
    assert not any((data / name).exists() for name in FILES)
    with pytest.raises(ConfigError, match="market keys generate"):
        create_app(production(data, committed_database_url))


def test_no_key_is_made_in_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKET_ENV", "production")
    for make in (
        lambda: LogSigner.from_data_dir("zjcs.example.gov.cn/log", tmp_path),
        lambda: ReceiptSigner.from_data_dir(tmp_path),
        lambda: SecretSealer.from_data_dir(tmp_path),
    ):
        with pytest.raises(ConfigError, match="market keys generate"):
            make()
    assert list(tmp_path.iterdir()) == []
