"""OCDS release packages over JSON (docs/ocds.md), and the extension they declare."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.clock import utcnow
from market.core.db import ROOT
from market.core.errors import FieldError, InvalidInput
from market.core.pagination import check_limit, decode_cursor, encode_cursor
from market.ocds import mapping, service

EXTENSION_DIR = ROOT / "market" / "ocds" / "extension"
PUBLISHER = "中介服务网上超市 (intermediary-services supermarket)"


def base_url(request: Request[Any, Any, Any]) -> str:
    return request.app.state.settings.base_url  # MARKET_PUBLIC_URL, never the Host header


def parse_since(since: str | None) -> datetime | None:
    """RFC 3339 with a time zone; anything else is bad input, not a 500."""
    if not since:
        return None
    try:
        value = datetime.fromisoformat(
            since.replace(" ", "+")
        )  # a "+" left unencoded in a query string arrives as a space
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InvalidInput(
            "since must be an RFC 3339 date-time with a time zone",
            [FieldError("since", "an RFC 3339 date-time such as 2026-01-01T00:00:00Z")],
        )
    return value


def publisher(hall: mapping.Hall | None, *, base_url: str) -> str | dict[str, str]:
    """The package's publisher: the hall when it holds one hall's processes, else the platform."""
    return PUBLISHER if hall is None else mapping.hall_publisher(hall, base_url=base_url)


def _json(body: dict[str, Any]) -> Response[dict[str, Any]]:
    """The package as JSON; typed as the object it is, so the OpenAPI schema says so."""
    return Response(content=body, media_type="application/json")


class OcdsApi(Controller):
    tags = ["ocds"]

    @get(
        "/api/v1/ocds/releases",
        summary="OCDS 1.1 release package: every published notice as a contracting process; since, cursor, limit (processes per page)",
        cache=False,
    )
    async def releases(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        since: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
        hall: Annotated[
            str | None,
            Parameter(
                description="A hall's code: only the notices published in it and in the halls below it; "
                "the package's publisher is then the hall. Absent: every notice, published by the platform."
            ),
        ] = None,
    ) -> Response[dict[str, Any]]:
        after = decode_cursor(cursor)
        limit = check_limit(limit)
        moment = parse_since(since)
        scope = await service.hall_scope(session, hall)
        base = base_url(request)
        settings = request.app.state.settings
        releases, last = await service.releases(
            session,
            prefix=settings.ocds_prefix,
            base_url=base,
            since=moment,
            after=after,
            limit=limit,
            halls=scope[1] if scope is not None else None,
        )
        query = {
            k: v
            for k, v in {
                "hall": scope[0].code if scope is not None else None,
                "since": since,
                "cursor": cursor,
                "limit": str(limit),
            }.items()
            if v
        }
        uri = f"{base}/api/v1/ocds/releases?{urlencode(query)}"
        next_url = None
        if last is not None:
            next_url = f"{base}/api/v1/ocds/releases?{urlencode({**query, 'cursor': encode_cursor(last)})}"
        return _json(
            mapping.package(
                releases,
                uri=uri,
                published=utcnow(),
                publisher=publisher(scope[0] if scope is not None else None, base_url=base),
                base_url=base,
                next_url=next_url,
            )
        )

    @get(
        "/ocds/extension.json",
        summary="The local OCDS extension for the selection object",
        include_in_schema=False,
    )
    async def extension(self) -> Response[bytes]:
        return Response(
            content=(EXTENSION_DIR / "extension.json").read_bytes(), media_type="application/json"
        )

    @get("/ocds/release-schema.json", summary="The extension's release schema patch", include_in_schema=False)
    async def extension_schema(self) -> Response[bytes]:
        return Response(
            content=(EXTENSION_DIR / "release-schema.json").read_bytes(), media_type="application/json"
        )
