"""MARKET_BEACON=drand is refused where drand rounds cannot be verified, instead of
committing notices to rounds the server could never check."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.app import create_app
from market.core.config import ConfigError, Settings
from market.selection import beacon


def settings(tmp_path: Path, mode: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url="postgresql+asyncpg://x@127.0.0.1/x",
        env="test",
        secret_key="k" * 40,
        beacon=mode,
    )


def test_drand_without_drand_verify_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(beacon, "drand_verify", None)
    with pytest.raises(ConfigError, match="drand-verify"):
        create_app(settings(tmp_path, "drand"))
    with pytest.raises(ValueError, match="drand-verify is not installed"):
        beacon.verify_round(657413, "b7" * 48)


def test_scheme_none_needs_no_beacon_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(beacon, "drand_verify", None)
    assert create_app(settings(tmp_path, "none")) is not None


def test_drand_starts_where_rounds_can_be_verified(tmp_path: Path) -> None:
    assert beacon.available()
    assert create_app(settings(tmp_path, "drand")) is not None
