"""Home page, language switch and health check."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service as accounts
from market.agencies import queries as agencies
from market.core.db import RETRY_AFTER
from market.core.errors import DomainError
from market.core.i18n import LANG_COOKIE, LOCALES
from market.halls import queries as halls_queries
from market.web.templating import render, safe_next


class SitePages(Controller):
    include_in_schema = False

    @get("/")
    async def home(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        counts = await accounts.count_by_role(session)
        agency_counts = await agencies.counts(session)
        # The province and its prefectures: the top of the tree, each hall a link.
        halls = await halls_queries.top_halls(session)
        return render(request, "site/home.html", counts=counts, agency_counts=agency_counts, halls=halls)

    @get("/lang/{code:str}")
    async def switch_language(self, code: FromPath[str], next: FromQuery[str] = "/") -> Redirect:
        if code not in LOCALES:
            raise DomainError(detail=f"Unknown language {code!r}", status=404, title="Not found")
        cookie = Cookie(
            key=LANG_COOKIE, value=code, max_age=365 * 86400, path="/", samesite="lax", httponly=True
        )
        return Redirect(path=safe_next(next), status_code=303, cookies=[cookie])


class HealthApi(Controller):
    tags = ["health"]

    @get("/healthz", summary="Liveness: ok once the database answers", cache=False)
    async def healthz(self, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        try:
            ok = await request.app.state.db.ping()
        except Exception:  # any database failure means "not ready", which is an answer, not a bug
            ok = False
        if ok:
            return Response({"status": "ok"})
        return Response({"status": "unavailable"}, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})
