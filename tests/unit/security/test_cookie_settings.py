from __future__ import annotations

from market.core.config import Settings


def test_production_cookies_are_secure_unless_turned_off() -> None:
    assert (
        Settings.from_env(
            {"MARKET_ENV": "production", "MARKET_PUBLIC_URL": "https://zjcs.example.gov.cn"}
        ).cookie_secure
        is True
    )
    assert (
        Settings.from_env(
            {
                "MARKET_ENV": "production",
                "MARKET_COOKIE_SECURE": "0",
                "MARKET_PUBLIC_URL": "https://zjcs.example.gov.cn",
            }
        ).cookie_secure
        is False
    )
    assert Settings.from_env({"MARKET_ENV": "dev"}).cookie_secure is False
    assert Settings.from_env({"MARKET_ENV": "dev", "MARKET_COOKIE_SECURE": "1"}).cookie_secure is True


def test_forwarded_for_is_not_believed_by_default() -> None:
    assert Settings.from_env({}).trusted_proxies == 0
    assert Settings.from_env({"MARKET_TRUSTED_PROXIES": "1"}).trusted_proxies == 1
