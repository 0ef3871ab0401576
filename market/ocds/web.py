"""The open-data page ``/data``, its CSV downloads (``/data/{table}.csv``) and the bulk
download of every OCDS release (``/data/ocds/releases.json.gz``)."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.errors import DomainError
from market.core.i18n import N_
from market.ocds import mapping, service
from market.ocds.api import PUBLISHER, base_url
from market.web.templating import render

BULK_NAME = "market-ocds-releases.json.gz"


async def bulk_package(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    """Every release as one gzip-compressed release package, written a page of processes
    at a time: memory stays bounded by a page, whatever the size of the data set. Each page
    is read in a short transaction of its own (service.release_pages), none is held while a
    chunk is sent: a slow reader holds no connection, no transaction and no release row."""
    settings = request.app.state.settings
    db = request.app.state.db
    base = base_url(request)
    gzip = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip container
    async with db.transaction() as session:
        published = await service.data_date(session)
    head = mapping.package(
        [],
        uri=f"{base}/data/ocds/releases.json.gz",
        published=published,
        publisher=PUBLISHER,
        base_url=base,
    )
    opening = json.dumps(head, ensure_ascii=False)
    yield gzip.compress(opening[: opening.rindex("[") + 1].encode("utf-8"))
    first = True
    async for page in service.release_pages(db, prefix=settings.ocds_prefix, base_url=base):
        parts = []
        for release in page:
            parts.append(("" if first else ",") + json.dumps(release, ensure_ascii=False))
            first = False
        # Flushed per page: a reader gets each page as soon as it is read, not when the
        # compressor's buffer happens to fill.
        chunk = gzip.compress("\n".join(parts).encode("utf-8")) + gzip.flush(zlib.Z_SYNC_FLUSH)
        if chunk:
            yield chunk
    yield gzip.compress(b"]}\n") + gzip.flush()


class OpenDataPages(Controller):
    path = "/data"
    include_in_schema = False

    @get("/")
    async def page(self, request: Request[Any, Any, Any]) -> Response[str]:
        settings = request.app.state.settings
        return render(
            request,
            "ocds/data.html",
            prefix=settings.ocds_prefix,
            tables=list(service.CSV_TABLES),
            licence_url=mapping.LICENSE_URL,
            public_url=base_url(request),
            publisher=PUBLISHER,
        )

    @get("/ocds/releases.json.gz")
    async def bulk(self, request: Request[Any, Any, Any]) -> Stream:
        service.publishing_settings(request.app.state.settings.ocds_prefix)
        return Stream(
            bulk_package(request),
            media_type="application/gzip",
            headers={
                "Content-Disposition": f'attachment; filename="{BULK_NAME}"',
                "Link": f'<{mapping.LICENSE_URL}>; rel="license"',
                "Cache-Control": "no-store",
            },
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
                "Link": f'<{mapping.LICENSE_URL}>; rel="license"',
                "Cache-Control": "no-store",
            },
        )
