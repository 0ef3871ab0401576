from __future__ import annotations

import pytest

from market.templating import format_fen, safe_next


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account", "/account"),
        ("/notices?page=2", "/notices?page=2"),
        ("", "/"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("account", "/"),
    ],
)
def test_safe_next_keeps_only_local_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_money_is_shown_in_yuan_from_fen() -> None:
    assert format_fen(123456789) == "¥1,234,567.89"
    assert format_fen(5) == "¥0.05"
    assert format_fen(-250) == "-¥2.50"
    assert format_fen(None) == "—"


def test_htmx_history_restore_gets_the_whole_page() -> None:
    from types import SimpleNamespace

    from market.templating import wants_partial

    def request(**headers: str) -> object:
        return SimpleNamespace(headers=headers)

    assert wants_partial(request(**{"hx-request": "true"}))  # type: ignore[arg-type]
    assert not wants_partial(request(**{"hx-request": "true", "hx-history-restore-request": "true"}))  # type: ignore[arg-type]
    assert not wants_partial(request())  # type: ignore[arg-type]
