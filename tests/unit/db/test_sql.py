"""market/core/sql.py: what the hand-written statements share."""

from __future__ import annotations

from market.core.sql import Params, json_column, like_pattern


def test_params_number_their_placeholders_in_order() -> None:
    params = Params()
    assert f"a = {params('x')} AND b = ANY({params([1, 2])})" == "a = $1 AND b = ANY($2)"
    assert params == ["x", [1, 2]]


def test_like_patterns_match_the_text_literally() -> None:
    assert like_pattern("100%_a\\b") == "%100\\%\\_a\\\\b%"
    assert like_pattern("五华区") == "%五华区%"


def test_json_columns_arrive_as_text_or_parsed() -> None:
    assert json_column('[["AG-1", "关联"]]') == [["AG-1", "关联"]]
    assert json_column([["AG-1", "关联"]]) == [["AG-1", "关联"]]
