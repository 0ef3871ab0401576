"""Home page (the portal: search, latest notices and results, figures, halls), favicon,
language switch and health check."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from market.core import replica
from market.core.db import RETRY_AFTER, request_database
from market.core.errors import DomainError
from market.core.i18n import LANG_COOKIE, LOCALES
from market.site import service
from market.site.cache import TtlCache
from market.stats import rules as stats_rules
from market.web.templating import render, safe_next

# How long each server process keeps the home page's data (market/site/cache.py): the
# latest notices, results and figures may be this many seconds old on any host.
HOME_TTL = 15.0


def home_cache(request: Request[Any, Any, Any]) -> TtlCache[service.Home]:
    """The app's cache of the home page's data, made on first use (one per app, so each
    test's app starts empty)."""
    state = request.app.state
    cache: TtlCache[service.Home] | None = state.get("home_cache")
    if cache is None:
        cache = state["home_cache"] = TtlCache(HOME_TTL)
    return cache


class SitePages(Controller):
    include_in_schema = False

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Response[str]:
        database = request_database(request)

        async def load() -> service.Home:
            # A transaction of its own only when the cache is stale: a cached answer opens no
            # connection at all.
            async with database.transaction() as session:
                return await service.home(session)

        home = await home_cache(request).get(load)
        return render(request, "site/home.html", home=home, percent=stats_rules.percent)

    @get("/favicon.ico", cache=False)
    async def favicon(self) -> Redirect:
        """Browsers ask for /favicon.ico whatever the page links: send them to the SVG icon
        (base.html links it too), for a day, rather than a 404 on every first visit."""
        return Redirect(
            path="/static/favicon.svg", status_code=301, headers={"Cache-Control": "public, max-age=86400"}
        )

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

    @get(
        "/healthz",
        summary="Liveness: ok once the database answers",
        description="With `?verbose`: also the role of the database this host writes to and, when "
        "DATABASE_READ_URL is set, the read standby's lag and whether public reads go to it "
        '(docs/reliability.md, "Read standby").',
        cache=False,
    )
    async def healthz(
        self, request: Request[Any, Any, Any], verbose: FromQuery[str | None] = None
    ) -> Response[dict[str, Any]]:
        try:
            ok = await request.app.state.db.ping()
        except Exception:  # any database failure means "not ready", which is an answer, not a bug
            ok = False
        body: dict[str, Any] = {"status": "ok" if ok else "unavailable"}
        if verbose is not None and verbose.lower() not in ("0", "false", "no"):
            body.update(await replica.health_report(request.app.state))
        if ok:
            return Response(body)
        return Response(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})
