"""The Atom feed of published notices, for everyone (RFC 4287): /feeds/notices.atom, with
the public list's category, region and hall filters. Links and ids are built from the
configured public URL (settings.base_url), never from the request's Host. A reader polling
an unchanged feed gets 304 for the price of reading its entries' ids and times from an
index (queries.feed_version)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from market.agencies import rules as agency_rules
from market.core.errors import FieldError, InvalidInput
from market.core.i18n import N_, gettext_for
from market.core.money import format_fen
from market.halls import queries as hall_queries
from market.halls import rules as hall_rules
from market.notify import queries
from market.reference import catalogue, regions
from market.web.labels import METHOD_LABELS, NOTICE_STATUS_LABELS
from market.web.problems import problem_response
from market.web.templating import request_locale
from market.web.times import china_time

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
ENTRIES = 50
# The feed of an empty selection still needs an <updated>: a fixed instant, so its ETag holds.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FEED_TITLE = N_("Notices")
SITE = N_("Intermediary services supermarket")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check(category: str, region: str, hall: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if category:
        try:
            catalogue.category(category)
        except catalogue.UnknownCategory:
            errors.append(FieldError("category", N_("Unknown service category: {code}."), {"code": category}))
    if region:
        try:
            agency_rules.check_region(region)
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if hall:
        try:
            hall_rules.kind_of(hall)
        except (hall_rules.NotAHall, regions.UnknownRegion):
            errors.append(FieldError("hall", N_("Unknown hall: {code}."), {"code": hall}))
    return errors


class FeedPages(Controller):
    include_in_schema = False

    @get("/feeds/notices.atom", cache=False)
    async def notices(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        category: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        hall: FromQuery[str | None] = None,
    ) -> Response[Any]:
        category, region, hall = ((v or "").strip() for v in (category, region, hall))
        errors = check(category, region, hall)
        halls: list[str] | None = None
        hall_row = None
        if hall and not errors:
            hall_row = await hall_queries.get_hall(session, hall)
            if hall_row is None:
                errors.append(FieldError("hall", N_("Unknown hall: {code}."), {"code": hall}))
            else:
                halls = await hall_queries.codes_under(session, hall)
        if errors:
            # A feed reader is a program, not a person: problem details (RFC 9457), never
            # the HTML error page its Accept (often */*) would otherwise get.
            problem = InvalidInput(errors[0].message, errors, params=errors[0].params)
            return problem_response(request, problem)
        prefix = regions.scope_prefix(region) if region else None
        locale = request_locale(request)
        latest, digest = await queries.feed_version(
            session, category=category or None, region_prefix=prefix, halls=halls, limit=ENTRIES
        )
        updated = latest or EPOCH
        filters = {k: v for k, v in (("category", category), ("region", region), ("hall", hall)) if v}
        etag = (
            '"'
            + hashlib.sha256(
                f"{locale}|{sorted(filters.items())}|{rfc3339(updated)}|{digest}".encode()
            ).hexdigest()[:32]
            + '"'
        )
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(updated.astimezone(UTC), usegmt=True),
            "Cache-Control": "public, max-age=60",
            "Vary": "Accept-Language, Cookie",
        }
        if _not_modified(request, etag, updated):
            return Response(b"", status_code=304, headers=headers)
        rows = await queries.feed_entries(
            session, category=category or None, region_prefix=prefix, halls=halls, limit=ENTRIES
        )
        base = request.app.state.settings.base_url
        body = build_feed(rows, base=base, filters=filters, updated=updated, locale=locale)
        return Response(body, media_type=MEDIA_TYPE, headers=headers)


def _not_modified(request: Request[Any, Any, Any], etag: str, updated: datetime) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        return etag in [t.strip() for t in match.split(",")] or match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return updated.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def build_feed(
    rows: list[Any], *, base: str, filters: dict[str, str], updated: datetime, locale: str
) -> bytes:
    """The Atom document: feed id and self link are this selection's URL at the public
    address; each entry's id is its notice's page, which never changes."""
    gettext = gettext_for(locale)[0]
    zh = locale == "zh_Hans"
    ET.register_namespace("", ATOM)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    query = ("?" + urlencode(sorted(filters.items()))) if filters else ""
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": "zh-Hans" if zh else "en"})
    el(feed, "id", f"{base}/feeds/notices.atom{query}")
    el(feed, "title", f"{gettext(SITE)} · {gettext(FEED_TITLE)}")
    el(feed, "updated", rfc3339(updated))
    el(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/feeds/notices.atom{query}")
    el(feed, "link", rel="alternate", type="text/html", href=f"{base}/notices{query}")
    author = el(feed, "author")
    el(author, "name", gettext(SITE))
    el(author, "uri", base + "/")
    for row in rows:
        entry = el(feed, "entry")
        url = f"{base}/notices/{row.public_id}"
        el(entry, "id", url)
        el(entry, "title", row.title)
        el(entry, "link", rel="alternate", type="text/html", href=url)
        el(entry, "published", rfc3339(row.published_at))
        el(entry, "updated", rfc3339(max(row.updated_at, row.published_at)))
        if row.org_name:
            el(el(entry, "author"), "name", row.org_name)
        el(entry, "category", term=row.category, label=row.category_zh if zh else row.category_en)
        lines = [
            f"{gettext(N_('Status'))}: {gettext(NOTICE_STATUS_LABELS.get(row.status, row.status))}",
            f"{gettext(N_('Category'))}: {row.category_zh if zh else row.category_en}",
            f"{gettext(N_('Region'))}: {row.region_zh if zh else row.region_en}",
            f"{gettext(N_('Method'))}: {gettext(METHOD_LABELS.get(row.method, row.method))}",
            f"{gettext(N_('Budget'))}: {format_fen(row.budget_fen)}",
            f"{gettext(N_('Bid deadline'))}: {china_time(row.bid_deadline)} ({gettext(N_('China time'))})",
        ]
        if row.hall_zh:
            lines.append(f"{gettext(N_('Hall'))}: {row.hall_zh if zh else row.hall_en}")
        el(entry, "summary", "\n".join(lines), type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(
        feed, encoding="utf-8", xml_declaration=False
    )
