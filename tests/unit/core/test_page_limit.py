"""A keyset page's row count is written into its statement (core/sql.page_limit), so that
PostgreSQL keeps one generic plan for the prepared statement instead of planning it anew
at every execution; the counts are checked integers, never text from a request."""

from __future__ import annotations

import pytest

from market.agencies.queries import DirectoryFilters, directory_page
from market.core.sql import page_limit
from market.notices.queries import NoticeFilters, notice_list


def test_the_count_is_written_as_a_whole_number() -> None:
    assert page_limit(21) == "LIMIT 21"
    with pytest.raises((TypeError, ValueError)):
        page_limit("21; DROP TABLE notice")  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [1, 20, 100])
def test_the_notice_list_writes_its_limit_and_binds_only_the_filters(limit: int) -> None:
    sql, args = notice_list(NoticeFilters(category="EIA", region_prefix="53"), after=500, limit=limit)
    assert sql.endswith(f"ORDER BY n.id DESC LIMIT {limit + 1}")
    assert list(args) == [500, "EIA", "53"]
    assert f"${len(args) + 1}" not in sql


@pytest.mark.parametrize("limit", [1, 20, 100])
def test_the_directory_writes_its_limit_and_binds_only_the_filters(limit: int) -> None:
    sql, args = directory_page(
        DirectoryFilters(status="approved", region_prefix="5301"), after=9, limit=limit
    )
    assert sql.endswith(f"ORDER BY a.id DESC LIMIT {limit + 1}")
    assert list(args) == ["approved", 9, "5301"]
    assert f"${len(args) + 1}" not in sql
