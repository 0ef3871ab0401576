"""MARKET_PUBLIC_URL and MARKET_ALLOWED_HOSTS: required and checked in production, derived
from the bound address in development, and the host names the Host check compares."""

from __future__ import annotations

import pytest

from market.core.config import ConfigError, Settings
from market.security.hosts import host_name

PRODUCTION = {"MARKET_ENV": "production", "MARKET_SECRET_KEY": "k" * 40}


def test_production_refuses_to_start_without_a_public_url() -> None:
    with pytest.raises(ConfigError, match="MARKET_PUBLIC_URL is required in production"):
        Settings.from_env(PRODUCTION)
    settings = Settings.from_env({**PRODUCTION, "MARKET_PUBLIC_URL": "https://ZJCS.example.gov.cn/"})
    assert settings.base_url == "https://zjcs.example.gov.cn"
    assert settings.hosts_allowed == {"zjcs.example.gov.cn"}  # no loopback names in production


@pytest.mark.parametrize(
    "url",
    [
        "zjcs.example.gov.cn",
        "ftp://zjcs.example.gov.cn",
        "https://zjcs.example.gov.cn/market",
        "https://zjcs.example.gov.cn/?a=1",
        "https://u:p@zjcs.example.gov.cn",
        "https://zjcs.example.gov.cn:99999",
        "https://x';$(reboot)",
        "https://",
    ],
)
def test_a_public_url_that_is_not_a_plain_site_root_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="MARKET_PUBLIC_URL"):
        Settings.from_env({"MARKET_PUBLIC_URL": url})


def test_the_public_url_keeps_a_port_and_drops_the_default_one() -> None:
    assert (
        Settings.from_env({"MARKET_PUBLIC_URL": "https://zjcs.example.gov.cn:443"}).base_url
        == "https://zjcs.example.gov.cn"
    )
    assert Settings.from_env({"MARKET_PUBLIC_URL": "http://10.1.2.3:8080"}).base_url == "http://10.1.2.3:8080"
    assert Settings.from_env({"MARKET_PUBLIC_URL": "http://[::1]:8080"}).base_url == "http://[::1]:8080"


def test_in_development_the_public_url_is_the_bound_address() -> None:
    assert Settings.from_env({}).base_url == "http://127.0.0.1:8000"
    assert (
        Settings.from_env({"MARKET_HOST": "0.0.0.0", "MARKET_PORT": "9000"}).base_url
        == "http://127.0.0.1:9000"
    )
    dev = Settings.from_env({"MARKET_HOST": "192.0.2.7"})
    assert dev.base_url == "http://192.0.2.7:8000"
    assert dev.hosts_allowed == {"192.0.2.7", "localhost", "127.0.0.1", "::1"}


def test_allowed_hosts_are_the_list_given_plus_the_public_urls_own() -> None:
    settings = Settings.from_env(
        {
            **PRODUCTION,
            "MARKET_PUBLIC_URL": "https://zjcs.example.gov.cn",
            "MARKET_ALLOWED_HOSTS": " 10.0.0.5 , Intranet.example ,[::1]",
        }
    )
    assert settings.hosts_allowed == {"zjcs.example.gov.cn", "10.0.0.5", "intranet.example", "::1"}
    for bad in ("*", "*.example.cn", "evil.example/x", "a b"):
        with pytest.raises(ConfigError, match="MARKET_ALLOWED_HOSTS"):
            Settings.from_env({"MARKET_ALLOWED_HOSTS": bad})


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Example.CN", "example.cn"),
        ("example.cn:8443", "example.cn"),
        ("[::1]:80", "::1"),
        ("[0:0::1]", "::1"),
        ("127.0.0.1:5000", "127.0.0.1"),
        ("", None),
        (":80", None),
        ("example.cn:x", None),
        ("example.cn:80:80", None),
        ("[::1", None),
        ("[nothost]", None),
        ("a@b.cn", "a@b.cn"),
    ],
)
def test_host_header_values_are_read_as_name_and_port(header: str, name: str | None) -> None:
    assert host_name(header) == name
