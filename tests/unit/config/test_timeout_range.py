"""Review of issue 23: a timeout PostgreSQL cannot take (more than 2^31 - 1 ms) made every
connection fail at its start-up message ("Value exceeds integer range"): every request
answered 500. It is refused when the settings are read, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.core.config import ConfigError, Settings

NAMES = (
    "MARKET_DB_STATEMENT_TIMEOUT",
    "MARKET_DB_LOCK_TIMEOUT",
    "MARKET_TASK_STATEMENT_TIMEOUT",
    "MARKET_TASK_LOCK_TIMEOUT",
)


@pytest.mark.parametrize("name", NAMES)
def test_a_timeout_beyond_what_postgresql_takes_is_refused_by_name(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"MARKET_DATA_DIR": str(tmp_path), name: str(2**31)})
    largest = Settings.from_env({"MARKET_DATA_DIR": str(tmp_path), name: str(2**31 - 1)})
    assert 2**31 - 1 in (
        largest.db_statement_timeout,
        largest.db_lock_timeout,
        largest.task_statement_timeout,
        largest.task_lock_timeout,
    )
