"""The halls' service, its pure parts: the tree built from rows, and why a park code is refused."""

from __future__ import annotations

from market.halls.models import Jurisdiction
from market.halls.service import _park_code_error, tree


def hall(code: str, parent: str | None, kind: str) -> Jurisdiction:
    return Jurisdiction(code=code, parent=parent, kind=kind, name_zh=code, name_en=code, region=code[:6])


def test_the_tree_puts_parks_after_counties_and_roots_anywhere() -> None:
    rows = [
        hall("530100KF", "530100", "park"),
        hall("530000", None, "province"),
        hall("530102", "530100", "county"),
        hall("530100", "530000", "prefecture"),
        hall("530103", "530100", "county"),
        hall("530102K1", "530102", "park"),
    ]
    root = tree(rows)
    assert root is not None and root.hall.code == "530000"
    kunming = root.children[0]
    assert [c.hall.code for c in kunming.children] == ["530102", "530103", "530100KF"]
    assert [c.hall.code for c in kunming.children[0].children] == ["530102K1"]
    county = tree(rows, "530102")
    assert county is not None and [c.hall.code for c in county.children] == ["530102K1"]
    assert tree(rows, "999999") is None


def test_park_code_errors_say_what_is_wrong() -> None:
    assert _park_code_error("530100KF", "530100") is None
    assert _park_code_error("", "530100") is not None
    too_short = _park_code_error("530100K", "530100")
    assert too_short is not None and too_short.params == {"example": "530100KF"}
    other = _park_code_error("530102KF", "530100")
    assert other is not None and other.params == {"parent": "530100"}
    assert _park_code_error("5301001K", "530100") is not None
