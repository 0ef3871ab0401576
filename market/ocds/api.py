"""OCDS release packages over JSON (docs/ocds.md), and the extension they declare."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery, Parameter

from market.core.db import ROOT
from market.core.errors import FieldError, InvalidInput
from market.core.pagination import check_limit, decode_cursor, encode_cursor
from market.ocds import mapping, service

EXTENSION_DIR = ROOT / "market" / "ocds" / "extension"
PUBLISHER = "中介服务网上超市 (intermediary-services supermarket)"


def base_url(request: Request[Any, Any, Any]) -> str:
    return request.app.state.settings.base_url  # MARKET_PUBLIC_URL, never the Host header


def extension_metadata(base: str) -> dict[str, Any]:
    """extension.json as served: its documentation URL on this site's public address."""
    body: dict[str, Any] = json.loads((EXTENSION_DIR / "extension.json").read_text(encoding="utf-8"))
    body["documentationUrl"] = {lang: base + path for lang, path in body["documentationUrl"].items()}
    return body


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


HALL_PARAM = Parameter(
    description="A hall's code: only the notices published in it and in the halls below it; "
    "the package's publisher is then the hall. Absent: every notice, published by the platform."
)
OCID_PARAM = Parameter(description="One contracting process: its ocid (the prefix and a notice id).")


async def _page(
    request: Request[Any, Any, Any],
    *,
    path: str,
    since: str | None,
    cursor: str | None,
    limit: int,
    hall: str | None,
    ocid: str | None,
    whole: bool = False,
) -> tuple[list[list[dict[str, Any]]], dict[str, Any]]:
    """One page of processes' releases and what the package around them says.

    A transaction of its own rather than the request's, committed as soon as the page is
    read: the page may store releases served for the first time, and must not hold them
    uncommitted while the package is built and sent (service.process_releases)."""
    settings = request.app.state.settings
    service.publishing_settings(settings.ocds_prefix)
    after = decode_cursor(cursor)
    limit = check_limit(limit)
    moment = parse_since(since)
    notice_id = service.notice_of_ocid(settings.ocds_prefix, ocid)
    base = base_url(request)
    async with request.app.state.db.transaction() as session:
        scope = await service.hall_scope(session, hall)
        # Read before the page: a change committed meanwhile may then show in the page but
        # not in publishedDate, so a harvester's next ``since`` fetches it again, never misses it.
        published = await service.data_date(session)
        found, last = await service.process_releases(
            session,
            prefix=settings.ocds_prefix,
            base_url=base,
            since=moment,
            after=after,
            limit=limit,
            halls=scope[1] if scope is not None else None,
            notice_id=notice_id,
            whole=whole,
        )
    query = {
        k: v
        for k, v in {
            "ocid": ocid.strip() if ocid else None,
            "hall": scope[0].code if scope is not None else None,
            "since": since,
            "cursor": cursor,
            "limit": str(limit),
        }.items()
        if v
    }
    head: dict[str, Any] = {
        "uri": f"{base}{path}?{urlencode(query)}",
        "published": published,
        "publisher": publisher(scope[0] if scope is not None else None, base_url=base),
        "base_url": base,
        "next_url": (
            f"{base}{path}?{urlencode({**query, 'cursor': encode_cursor(last)})}"
            if last is not None
            else None
        ),
    }
    return found, head


class OcdsApi(Controller):
    tags = ["ocds"]

    @get(
        "/api/v1/ocds/releases",
        summary="OCDS 1.1 release package (CC BY 4.0): every release of every published notice, kept forever; ocid, hall, since, cursor, limit (processes per page)",
        cache=False,
    )
    async def releases(
        self,
        request: Request[Any, Any, Any],
        since: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
        hall: Annotated[str | None, HALL_PARAM] = None,
        ocid: Annotated[str | None, OCID_PARAM] = None,
    ) -> Response[dict[str, Any]]:
        found, head = await _page(
            request,
            path="/api/v1/ocds/releases",
            since=since,
            cursor=cursor,
            limit=limit,
            hall=hall,
            ocid=ocid,
        )
        return _json(mapping.package([r for rs in found for r in rs], **head))

    @get(
        "/api/v1/ocds/records",
        summary="OCDS 1.1 record package (CC BY 4.0): per published notice, every release it had (embedded) and the compiled release; ocid, hall, since, cursor, limit (records per page)",
        cache=False,
    )
    async def records(
        self,
        request: Request[Any, Any, Any],
        since: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
        hall: Annotated[str | None, HALL_PARAM] = None,
        ocid: Annotated[str | None, OCID_PARAM] = None,
    ) -> Response[dict[str, Any]]:
        # A record holds every release of its process: ``since`` picks the processes that
        # changed since then, and their records stay whole.
        found, head = await _page(
            request,
            path="/api/v1/ocds/records",
            since=since,
            cursor=cursor,
            limit=limit,
            hall=hall,
            ocid=ocid,
            whole=True,
        )
        return _json(mapping.record_package([mapping.record(rs) for rs in found], **head))

    @get(
        "/ocds/extension.json",
        summary="The local OCDS extension for the selection object",
        include_in_schema=False,
    )
    async def extension(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        return _json(extension_metadata(base_url(request)))

    @get("/ocds/release-schema.json", summary="The extension's release schema patch", include_in_schema=False)
    async def extension_schema(self) -> Response[bytes]:
        return Response(
            content=(EXTENSION_DIR / "release-schema.json").read_bytes(), media_type="application/json"
        )
