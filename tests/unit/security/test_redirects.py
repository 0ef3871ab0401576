from __future__ import annotations

import pytest

from market.security.redirects import local_path

EVIL = [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example",
    "http:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%255C%255Cevil.example",  # encoded twice
    "/%252F%252Fevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\nSet-Cookie: a=b",
    "/%0d%0aSet-Cookie: a=b",
    "/%09/evil.example",
    "/ok\x00",
    "/ok\x7f",
    "evil.example",
    "account",
    ".",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", EVIL)
def test_anything_but_a_local_path_goes_to_the_default(target: str) -> None:
    assert local_path(target) == "/"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account", "/account"),
        ("/notices?page=2&q=x", "/notices?page=2&q=x"),
        ("/notices/N-000001/draw#panel", "/notices/N-000001/draw#panel"),
        ("/agencies?q=%E7%8E%AF%E8%AF%84", "/agencies?q=%E7%8E%AF%E8%AF%84"),
        ("/agencies?q=环评", "/agencies?q=%E7%8E%AF%E8%AF%84"),  # the Location header stays ASCII
        ("/a b", "/a%20b"),
        ("/", "/"),
    ],
)
def test_local_paths_are_kept(target: str, expected: str) -> None:
    assert local_path(target) == expected


def test_empty_and_missing_targets_go_to_the_default() -> None:
    assert local_path(None) == "/" and local_path("") == "/" and local_path(None, "/account") == "/account"
