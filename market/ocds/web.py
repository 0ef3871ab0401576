"""The open-data page ``/data`` and its CSV downloads (``/data/{table}.csv``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.errors import DomainError
from market.core.i18n import N_
from market.ocds import service
from market.web.templating import render


class OpenDataPages(Controller):
    path = "/data"
    include_in_schema = False

    @get("/")
    async def page(self, request: Request[Any, Any, Any]) -> Response[str]:
        return render(
            request,
            "ocds/data.html",
            prefix=request.app.state.settings.ocds_prefix,
            tables=list(service.CSV_TABLES),
        )

    @get("/{filename:str}")
    async def csv(
        self, request: Request[Any, Any, Any], filename: FromPath[str], session: NamedDependency[AsyncSession]
    ) -> Response[bytes]:
        table, dot, ext = filename.partition(".")
        if ext != "csv" or not dot or table not in service.CSV_TABLES:
            raise DomainError(
                detail=N_("There is no download {name}."),
                params={"name": filename},
                status=404,
                title="Not found",
            )
        body = await service.CSV_TABLES[table](session, prefix=request.app.state.settings.ocds_prefix)
        return Response(
            content=body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="market-{table}.csv"',
                "Cache-Control": "no-store",
            },
        )
