"""Pages of public selection (being written)."""

from __future__ import annotations

from litestar import Controller


class SelectionPages(Controller):
    path = "/notices"
    include_in_schema = False
