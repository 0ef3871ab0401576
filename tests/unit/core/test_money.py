"""Money, pure: yuan typed on a form to fen and back (market/core/money.py)."""

from __future__ import annotations

import pytest

from market.core import money


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("120000", 12_000_000),
        ("120000.5", 12_000_050),
        ("120000.50", 12_000_050),
        ("0.01", 1),
        ("1,200", 120_000),
        ("¥1,200.00", 120_000),
        (" 88 ", 8_800),
        ("", None),
        ("1.234", None),
        ("-5", None),
        ("1e5", None),
        ("十万", None),
        ("1.", None),
    ],
)
def test_yuan_to_fen(text: str, fen: int | None) -> None:
    assert money.yuan_to_fen(text) == fen
    if fen is not None:
        assert money.yuan_to_fen(money.fen_to_yuan(fen)) == fen


@pytest.mark.parametrize(
    ("fen", "form", "sheet"),
    [
        (12_000_000, "120000", "120000.00"),
        (12_000_050, "120000.50", "120000.50"),
        (1, "0.01", "0.01"),
        (0, "0", "0.00"),
        (None, "", ""),
    ],
)
def test_fen_as_form_text_and_as_spreadsheet_decimal(fen: int | None, form: str, sheet: str) -> None:
    # a form shows decimals only when there are any; a spreadsheet column always has two
    assert money.yuan_text(fen) == form
    assert money.yuan_decimal(fen) == sheet


def test_a_negative_amount_keeps_its_sign_in_a_spreadsheet() -> None:
    assert money.yuan_decimal(-150) == "-1.50"
