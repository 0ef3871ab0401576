"""Reference data over JSON (api-v1.md): the service catalogue and GB/T 2260 regions."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.params import FromQuery

from market.agencies import rules as agency_rules
from market.reference import catalogue, regions
from market.reference.present import category_public, region_public


class ReferenceApi(Controller):
    path = "/api/v1"
    tags = ["reference"]

    @get("/categories", summary="The service catalogue; levels highest first")
    async def categories(self) -> Response[list[dict[str, Any]]]:
        return Response(
            [category_public(c) for c in catalogue.CATEGORIES],
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @get("/regions", summary="GB/T 2260 regions under `parent` (no parent: the provinces)")
    async def regions(self, parent: FromQuery[str | None] = None) -> Response[list[dict[str, Any]]]:
        if parent is not None:
            agency_rules.check_region(parent, "parent")
        return Response(
            [region_public(r) for r in regions.children(parent)],
            headers={"Cache-Control": "public, max-age=3600"},
        )
