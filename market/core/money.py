"""Money, pure: yuan as people type and read it, fen (integers) as the code keeps it.
Digits are read as text, never through a float."""

from __future__ import annotations

import re
from functools import lru_cache

from market.core.errors import FieldError, InvalidInput
from market.core.i18n import N_

YUAN = re.compile(r"^(\d{1,13})(?:\.(\d{1,2}))?$")


def _clean(text: str) -> str:
    """Without spaces, thousands separators and a leading yuan sign."""
    return text.strip().replace(",", "").replace("，", "").removeprefix("¥").removeprefix("￥").strip()


def yuan_to_fen(text: str) -> int | None:
    """``"12,345.6"`` -> 1234560; None when it is not an amount of yuan with at most two
    decimals."""
    match = YUAN.match(_clean(text))
    if match is None:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))


def _invalid(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(message, [FieldError(field_name, message, {})])


def parse_yuan(text: str, field_name: str) -> int:
    """An amount in yuan as typed (``300000``, ``1,234.5``, ``¥99.99``) to whole fen, exactly.
    More than two decimals, or nothing above zero, is refused beside ``field_name``."""
    if not _clean(text):
        raise _invalid(field_name, N_("This field is required."))
    fen = yuan_to_fen(text)
    if fen is None:
        raise _invalid(
            field_name, N_("Enter an amount in yuan with at most two decimals, such as 300000 or 1234.50.")
        )
    if fen <= 0:
        raise _invalid(field_name, N_("The amount must be more than zero."))
    return fen


def fen_to_yuan(value: int) -> str:
    """Fen as yuan with two decimals and no separators: ``1234560`` -> ``"12345.60"``."""
    sign = "-" if value < 0 else ""
    yuan, fen = divmod(abs(value), 100)
    return f"{sign}{yuan}.{fen:02d}"


def yuan_decimal(fen: int | None) -> str:
    """Money for spreadsheets: yuan with two decimals always, no separators; empty for None."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def yuan_text(fen: int | None) -> str:
    """Fen as the yuan text a form field holds (no separators, decimals only when there are
    any); empty for None."""
    if fen is None:
        return ""
    yuan, rest = divmod(int(fen), 100)
    return str(yuan) if rest == 0 else f"{yuan}.{rest:02d}"


@lru_cache(maxsize=8192)  # pure, and called per row of the lists; amounts recur
def format_fen(value: int | None) -> str:
    """Fen for reading: yuan with two decimals and thousands separators, ``¥1,234.50``;
    a dash for None."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    yuan, fen = divmod(abs(int(value)), 100)
    return f"{sign}¥{yuan:,}.{fen:02d}"
