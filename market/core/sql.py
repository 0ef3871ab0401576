"""What the hand-written statements of the hot read paths share (the domains' queries.py):
numbered placeholders, json columns as asyncpg hands them over, one keyset page."""

from __future__ import annotations

import json
from typing import Any, Protocol

import asyncpg

from market.core.pagination import encode_cursor


class Row(Protocol):
    """A result row read by column name: an asyncpg Record, a SQLAlchemy RowMapping, a dict."""

    def __getitem__(self, key: str, /) -> Any: ...


class Params(list[Any]):
    """A statement's arguments, collected as its text is written: ``params(value)`` keeps
    the value and answers its placeholder (``$1``, ``$2``...)."""

    def __call__(self, value: Any) -> str:
        self.append(value)
        return f"${len(self)}"


def like_pattern(text: str) -> str:
    """An ILIKE pattern for "contains ``text``", its wildcards and backslashes escaped
    (used with ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def json_column(value: Any) -> Any:
    # asyncpg hands json over as text; a codec set on the connection would hand it parsed.
    return json.loads(value) if isinstance(value, str) else value


async def keyset_page(
    reader: asyncpg.Connection, sql: str, args: list[Any], limit: int
) -> tuple[list[asyncpg.Record], str | None]:
    """The rows of a statement that asked for ``limit + 1`` rows keyset-paged by ``id``, and
    the next page's cursor when the extra row says there is one."""
    rows = await reader.fetch(sql, *args)
    next_cursor = encode_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None
    return rows[:limit], next_cursor
