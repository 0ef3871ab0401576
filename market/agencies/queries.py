"""Read-only queries the agency pages need beyond service.py: the admin's search over
agencies in any status, and the public directory's page in one statement."""

from __future__ import annotations

from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.agencies.models import Agency
from market.agencies.service import DirectoryFilters, Profile, load_profile
from market.core.pagination import decode_cursor
from market.core.sql import Params, json_column, keyset_page, like_pattern

SEARCH_LIMIT = 50


async def find_agencies(session: AsyncSession, *, q: str, limit: int = SEARCH_LIMIT) -> list[Profile]:
    """Agencies in any status whose name contains ``q``, or whose credit code or public id
    is ``q``; newest first, with their private details (for staff only)."""
    term = q.strip()
    if not term:
        return []
    stmt = (
        sa.select(Agency)
        .where(
            sa.or_(
                col(Agency.name).ilike(like_pattern(term), escape="\\"),
                col(Agency.credit_code) == term.upper(),
                col(Agency.public_id) == term.upper(),
            )
        )
        .order_by(col(Agency.id).desc())
        .limit(limit)
    )
    agencies = (await session.execute(stmt)).scalars().all()
    return [await load_profile(session, agency, private=True) for agency in agencies]


# -- the directory page --------------------------------------------------------------------------
#
# Through the ORM a page of the directory cost the agencies, their categories and their
# qualifications (as ORM objects, every column) inside a transaction: three statements
# and begin/commit. The page shows a few columns of each, so one statement on a readers'
# connection answers it. service.directory (the API's path) applies the same filters;
# tests/integration/agencies/test_directory_rows.py holds the two to the same agencies.

DIRECTORY_COLUMNS = """
    a.id, a.public_id, a.name, a.credit_code, a.region, a.status,
    ARRAY(SELECT c.category FROM agency_category c WHERE c.agency_id = a.id ORDER BY c.category) AS categories,
    (SELECT coalesce(json_agg(json_build_array(q.category, q.level) ORDER BY q.id), '[]')
     FROM qualification q WHERE q.agency_id = a.id AND q.status = 'approved' AND q.level <> '') AS graded
"""


def directory_page(filters: DirectoryFilters, *, after: int | None, limit: int) -> tuple[str, list[Any]]:
    """The SQL and arguments of one directory page, newest first, keyset-paged by id
    (pure); ``limit + 1`` rows, the extra one saying whether a next page exists."""
    params = Params()
    where = [f"a.status = {params(filters.status)}"]
    if after is not None:
        where.append(f"a.id < {params(after)}")
    if filters.name_like:
        where.append(
            f"(a.name ILIKE {params(filters.name_like)} ESCAPE '\\' OR a.credit_code = {params(filters.credit_code)})"
        )
    if filters.region_prefix:
        # LIKE on a prefix of digits, which never hold a wildcard
        where.append(f"a.region LIKE {params(filters.region_prefix + '%')}")
    if filters.category:
        category = params(filters.category)
        where.append(
            f"EXISTS (SELECT 1 FROM agency_category c WHERE c.agency_id = a.id AND c.category = {category})"
        )
        if filters.levels:
            where.append(
                "EXISTS (SELECT 1 FROM qualification q WHERE q.agency_id = a.id"
                f" AND q.category = {category} AND q.status = 'approved' AND q.level = ANY({params(list(filters.levels))}))"
            )
    sql = f"SELECT {DIRECTORY_COLUMNS} FROM agency a WHERE {' AND '.join(where)} ORDER BY a.id DESC LIMIT {params(limit + 1)}"
    return sql, params


async def directory_rows(
    reader: asyncpg.Connection, filters: DirectoryFilters, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[asyncpg.Record], str | None]:
    """One page of the directory as rows of ``DIRECTORY_COLUMNS`` and the next page's cursor."""
    sql, args = directory_page(filters, after=decode_cursor(cursor), limit=limit)
    return await keyset_page(reader, sql, args, limit)


def graded(row: Any) -> list[tuple[str, str]]:
    """The row's approved qualifications that have a level, as (category, level)."""
    return [(c, lv) for c, lv in json_column(row["graded"])]
