from __future__ import annotations

import pytest

from market.security.ratelimit import client_address


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("10.0.0.1", ["203.0.113.9"], 0, "10.0.0.1"),  # not trusted: the header is ignored
        ("10.0.0.1", [], 1, "10.0.0.1"),  # came past the proxy: its peer
        ("10.0.0.1", ["203.0.113.9"], 1, "203.0.113.9"),
        ("10.0.0.1", ["1.1.1.1, 203.0.113.9"], 1, "203.0.113.9"),  # the client's own claim is ignored
        ("10.0.0.1", ["1.1.1.1", "203.0.113.9"], 1, "203.0.113.9"),  # split over two headers
        ("10.0.0.1", ["1.1.1.1, 203.0.113.9, 10.0.0.2"], 2, "203.0.113.9"),
        ("10.0.0.1", ["203.0.113.9"], 2, "10.0.0.1"),  # fewer hops than proxies: not believed
        ("10.0.0.1", ["not-an-address"], 1, "10.0.0.1"),
        ("10.0.0.1", ["2001:db8::1"], 1, "2001:db8::1"),
        (None, [], 0, "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], trusted: int, expected: str) -> None:
    assert client_address(peer, forwarded, trusted) == expected
