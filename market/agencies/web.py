"""Agency pages for everyone: the public directory (updated in place by htmx) and each
agency's profile. The agency's own pages (onboarding, dashboard) are in ``web_agency.py``,
the admins' review queue in ``web_staff.py``."""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.session import optional_viewer
from market.agencies import present, queries, rules, service
from market.agencies.models import AgencyStatus, ReviewStatus
from market.core.clock import today_in_china
from market.core.errors import NotFound
from market.core.i18n import N_
from market.core.pagination import check_limit
from market.ratings import present as ratings
from market.reference import catalogue
from market.web.names import Labels, find_category, labels
from market.web.templating import render, request_locale, wants_partial

DIRECTORY_LIMIT = 20
EXPIRY_WARNING_DAYS = 30


class DirectoryRow(NamedTuple):
    """A row of the directory as the page shows it, every cell's text ready."""

    public_id: str
    name: str
    status: str
    status_label: Markup | None  # only for an agency that is not approved
    credit_code: str
    region: Markup
    categories: list[Markup]
    qualifications: list[Markup]


def directory_row(row: Any, labels: Labels) -> DirectoryRow:
    """A row of queries.DIRECTORY_COLUMNS."""
    return DirectoryRow(
        public_id=row["public_id"],
        name=row["name"],
        status=row["status"],
        status_label=None
        if row["status"] == AgencyStatus.approved
        else labels.statuses.get(row["status"], row["status"]),
        credit_code=row["credit_code"],
        region=labels.region(row["region"]),
        categories=[labels.category(c) for c in row["categories"]],
        qualifications=[labels.qualification(c, lv) for c, lv in queries.graded(row)],
    )


def views_of(profile: queries.Profile, today: date) -> dict[str, Any]:
    """What the dashboard and the profile show about qualifications."""
    soon = rules.expiring_soon(profile.facts().qualifications, today, EXPIRY_WARNING_DAYS)
    keys = {(q.category, q.level, q.certificate_no, q.valid_until) for q in soon}
    expiring = {
        q.id
        for q in profile.approved_qualifications
        if (q.category, q.level, q.certificate_no, q.valid_until) in keys
    }
    expired = {q.id for q in profile.approved_qualifications if q.valid_until < today}
    return {
        "expiring": expiring,
        "expired": expired,
        "soon": [q for q in profile.approved_qualifications if q.id in expiring],
    }


class AgencyPages(Controller):
    include_in_schema = False

    # -- the public directory and profiles -------------------------------------------------------

    @get("/agencies")
    async def directory(
        self,
        request: Request[Any, Any, Any],
        reader: NamedDependency[Any],
        q: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        level: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = DIRECTORY_LIMIT,
    ) -> Response[str]:
        limit = check_limit(limit)
        q, category, region, status = ((v or "").strip() or None for v in (q, category, region, status))
        level = (level or "").strip() or None
        chosen = find_category(category)
        if level and (chosen is None or level not in catalogue.level_codes(chosen.code)):
            level = None  # the level select offers the chosen category's levels only; a stale one is dropped
        checked = queries.check_directory(q=q, category=category, level=level, region=region, status=status)
        rows, next_cursor = await queries.directory_rows(reader, checked, cursor=cursor, limit=limit)
        shown = labels(request_locale(request))
        filters = {
            "q": q,
            "category": category,
            "level": level,
            "region": region,
            "status": status,
            "limit": limit if limit != DIRECTORY_LIMIT else None,
        }
        kept = {k: v for k, v in filters.items() if v not in (None, "")}
        context: dict[str, Any] = {
            "rows": [directory_row(r, shown) for r in rows],
            "filters": filters,
            "filtered": any(filters[k] for k in ("q", "category", "level", "region")),
            "more_url": "/agencies?" + urlencode({**kept, "cursor": next_cursor}) if next_cursor else None,
            "continued": cursor is not None,
            "first_url": "/agencies" + ("?" + urlencode(kept) if kept else ""),
            "public_statuses": [s.value for s in queries.PUBLIC_STATUSES],
            "labels": shown,
        }
        headers = {"Vary": "Cookie, Accept-Language, HX-Request"}
        if wants_partial(request):
            template = (
                "agencies/partials/directory_rows.html"
                if cursor
                else "agencies/partials/directory_update.html"
            )
            return render(request, template, headers=headers, **context)
        return render(request, "agencies/directory.html", headers=headers, **context)

    @get("/agencies/{agency_id:str}")
    async def profile(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        agency_id: FromPath[str],
    ) -> Response[str]:
        agency = await service.get_agency(session, agency_id)
        viewer = await optional_viewer(request, session)
        private = service.may_see_private(viewer, agency)
        if agency.status not in [s.value for s in queries.PUBLIC_STATUSES] and not private:
            raise NotFound(N_("No such agency."))
        profile = await queries.load_profile(session, agency, private=private)
        shown = (
            [q for q in profile.qualifications if q.status != ReviewStatus.superseded]
            if private
            else profile.approved_qualifications
        )
        return render(
            request,
            "agencies/profile.html",
            agency=agency,
            profile=profile,
            shown=shown,
            private=private,
            awards=await present.awards_of(session, agency.id),  # type: ignore[arg-type]
            **views_of(profile, today_in_china()),
            **await ratings.profile_context(
                session,
                agency,
                today=today_in_china(),
                contract_days=request.app.state.settings.contract_days,
            ),
        )
