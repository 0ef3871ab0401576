from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from market.core.config import ConfigError, Settings, check_secret, load_or_create_secret
from market.core.pgembed import EmbeddedPostgresError, find_bindir


def test_defaults_follow_api_v1(tmp_path: Path) -> None:
    settings = Settings.from_env({"MARKET_DATA_DIR": str(tmp_path)})
    assert settings.database_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.min_bid_window == 86400
    assert settings.log_origin == "market.localhost/log"
    assert settings.data_dir == tmp_path.resolve()
    assert (settings.db_pool_size, settings.db_pool_overflow, settings.db_read_pool_size) == (10, 5, 5)


def test_values_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "MARKET_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql+asyncpg://u:p@db:5432/m",
            "MARKET_HOST": "0.0.0.0",
            "MARKET_PORT": "9000",
            "MARKET_MIN_BID_WINDOW": "0",
            "MARKET_LOG_ORIGIN": "market.yn.gov.cn/log",
            "MARKET_DB_POOL_SIZE": "4",
            "MARKET_DB_POOL_OVERFLOW": "0",
        }
    )
    assert (settings.db_pool_size, settings.db_pool_overflow) == (4, 0)
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/m"
    assert (settings.host, settings.port, settings.min_bid_window) == ("0.0.0.0", 9000, 0)
    assert settings.log_origin == "market.yn.gov.cn/log"


@pytest.mark.parametrize(
    "env",
    [
        {"MARKET_PORT": "eighty"},
        {"MARKET_MIN_BID_WINDOW": "-1"},
        {"MARKET_LOG_ORIGIN": "has+plus"},
        {"MARKET_LOG_ORIGIN": "has space"},
        {"DATABASE_URL": "mysql://x"},
        {"MARKET_ENV": "staging"},
        {"MARKET_DB_POOL_SIZE": "many"},
        {"MARKET_DB_POOL_OVERFLOW": "-1"},
    ],
)
def test_bad_settings_are_refused_with_a_message(env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({"MARKET_DATA_DIR": str(tmp_path), **env})


def test_plain_postgresql_urls_get_the_asyncpg_driver(tmp_path: Path) -> None:
    for given in (
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "postgres://postgres@127.0.0.1:5432/postgres",
    ):
        settings = Settings.from_env({"MARKET_DATA_DIR": str(tmp_path), "DATABASE_URL": given})
        assert settings.database_url == "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def test_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path / "secret_key")
    assert len(first) >= 32
    assert load_or_create_secret(tmp_path / "secret_key") == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600


def test_known_default_secret_is_refused_outside_dev(tmp_path: Path) -> None:
    check_secret("changeme", is_dev=True)
    for weak in ("changeme", "secret", "short-but-unique"):
        with pytest.raises(ConfigError):
            check_secret(weak, is_dev=False)
    production = {
        "MARKET_DATA_DIR": str(tmp_path),
        "MARKET_ENV": "production",
        "MARKET_PUBLIC_URL": "https://zjcs.example.gov.cn",
    }
    # Production makes no secret of its own (issue 23): `market keys generate` does, once.
    with pytest.raises(ConfigError, match="market keys generate"):
        Settings.from_env(production).with_secret()
    from market.security.keys import generate

    generate(tmp_path)
    with pytest.raises(ConfigError, match="known default"):
        Settings.from_env({**production, "MARKET_SECRET_KEY": "secret"}).with_secret()
    generated = Settings.from_env(production).with_secret()
    assert generated.secret_key == (tmp_path / "secret_key").read_text().strip()
    assert len(generated.secret_key) >= 32


def test_missing_postgres_binaries_give_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MARKET_PG_BINDIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("glob.glob", lambda pattern: [])
    with pytest.raises(EmbeddedPostgresError) as err:
        find_bindir()
    assert "apt-get install postgresql" in str(err.value) and "\n" not in str(err.value)
