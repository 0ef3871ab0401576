"""What the hand-written statements of the hot read paths share (the domains' queries.py):
numbered placeholders, json columns as asyncpg hands them over, one keyset page."""

from __future__ import annotations

import json
from typing import Any, Protocol

import asyncpg
import sqlalchemy as sa

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


def page_limit(rows: int) -> str:
    """A keyset page's ``LIMIT``, its row count written into the statement's text (pure).

    A placeholder (``LIMIT $4``) leaves PostgreSQL's generic plan guessing that a tenth of
    the matching rows will be read, so that plan is priced far above the custom ones and
    every execution of the prepared statement is planned again (a list page with a
    category and the province: every one of 240 executions planned anew, 0.9 ms of the
    database backend's CPU each, against 0.5 ms with the count written in and the
    generic plan kept). The counts a page may ask for are few (``check_limit``: 1 to 100), so are the
    texts each connection prepares."""
    return f"LIMIT {int(rows)}"


def like_pattern(text: str) -> str:
    """An ILIKE pattern for "contains ``text``", its wildcards and backslashes escaped
    (used with ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# A region filter's digits (regions.scope_prefix: 2 for a province, 4 for a prefecture, 6
# for a county) and the column holding that many of a row's region digits. notice and
# agency keep the first two and four as generated columns (migration 0013), so the filter
# is an equality that a btree on (..., column, id) serves in keyset order: ``region LIKE
# '5301%'`` is served by no btree under this database's C.UTF-8 collation, and a page
# walked the primary key discarding every row outside the area.
REGION_SCOPE_COLUMNS = {2: "region_province", 4: "region_prefecture", 6: "region"}


def region_digits_column(digits: int) -> sa.Column[str]:
    """The generated column of a row's first ``digits`` (2 or 4) region digits, as notice
    and agency declare it: STORED, so that no writer sets it and an index can hold it."""
    return sa.Column(
        sa.String(digits), sa.Computed(f"substr(region, 1, {digits})", persisted=True), nullable=False
    )


def region_scope_column(alias: str, prefix: str) -> str:
    """``alias``'s column that equals ``prefix`` exactly when its region starts with it
    (pure; a region is six digits, so the county's column is the region itself)."""
    try:
        return f"{alias}.{REGION_SCOPE_COLUMNS[len(prefix)]}"
    except KeyError:
        raise ValueError(f"{prefix!r} is not a region scope's digits (2, 4 or 6)") from None


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
