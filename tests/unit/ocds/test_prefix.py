"""The ocid prefix is no placeholder: MARKET_OCID_PREFIX, checked at start-up (docs/ocds.md)."""

from __future__ import annotations

import pytest

from market.core.config import ConfigError, Settings

PRODUCTION = {
    "MARKET_ENV": "production",
    "MARKET_SECRET_KEY": "k" * 40,
    "MARKET_PUBLIC_URL": "https://zjcs.example.gov.cn",
}


def test_a_registered_prefix_is_taken_with_its_dash() -> None:
    assert (
        Settings.from_env({**PRODUCTION, "MARKET_OCID_PREFIX": "ocds-213czf"}).ocds_prefix == "ocds-213czf-"
    )
    assert Settings.from_env({"MARKET_OCID_PREFIX": "ocds-213czf-"}).ocds_prefix == "ocds-213czf-"
    assert (
        Settings.from_env({"MARKET_OCDS_PREFIX": "ocds-a1b2c3"}).ocds_prefix == "ocds-a1b2c3-"
    )  # the old name


@pytest.mark.parametrize(
    "raw", ["mkt-", "ocds-ABCDEF", "ocds-abc", "ocds-abcdefg", "ocds-abc def", "OCDS-213czf"]
)
def test_a_malformed_prefix_stops_the_start(raw: str) -> None:
    with pytest.raises(ConfigError, match="MARKET_OCID_PREFIX"):
        Settings.from_env({"MARKET_OCID_PREFIX": raw})


def test_production_refuses_the_placeholder_and_publishes_nothing_without_a_prefix() -> None:
    with pytest.raises(ConfigError, match="placeholder"):
        Settings.from_env({**PRODUCTION, "MARKET_OCID_PREFIX": "ocds-mkt000"})
    assert Settings.from_env(PRODUCTION).ocds_prefix == ""  # the open data answers 503 (test_trust.py)
    assert Settings.from_env({}).ocds_prefix == "ocds-mkt000-"  # development only
