"""The public statistics page ``/stats`` and its tables as CSV (``/stats/{table}.csv``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.clock import utcnow
from market.core.errors import DomainError
from market.core.i18n import N_, gettext_for
from market.stats import present, queries, rules
from market.web.forms import FormErrors, errors_beside_fields
from market.web.templating import render, request_locale


class StatsPages(Controller):
    path = "/stats"
    include_in_schema = False

    @get("/")
    async def page(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        jurisdiction: FromQuery[str | None] = None,
    ) -> Response[str]:
        errors, status = FormErrors(), 200
        try:
            scope = await queries.scope_of(session, jurisdiction)
        except DomainError as exc:  # an unknown code: said beside the selector, the province shown
            errors, status = errors_beside_fields(exc, lambda name: name), exc.status
            scope = await queries.scope_of(session, None)
        stats = await queries.load(session, now=utcnow(), scope=scope)
        locale = request_locale(request)
        return render(
            request,
            "stats/page.html",
            status_code=status,
            errors=errors,
            chosen=jurisdiction if errors else scope.code,
            choices=await queries.selector(session, scope),
            scope=scope,
            query=present.scope_query(scope),
            stats=stats,
            columns=present.COLUMNS,
            titles=present.TABLE_TITLES,
            key_headers=present.KEY_HEADERS,
            name_of=lambda row: present.name_of(row, locale),
            percent=rules.percent,
            interval_minutes=present.interval_minutes(request.app.state.settings),
            month_chart=present.month_chart(stats),
            savings_rows=present.savings_rows(stats),
            savings_chart=present.savings_chart(stats, locale),
        )

    @get("/{filename:str}")
    async def csv(
        self,
        request: Request[Any, Any, Any],
        filename: FromPath[str],
        session: NamedDependency[AsyncSession],
        jurisdiction: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        table, dot, ext = filename.partition(".")
        if ext != "csv" or not dot or table not in present.TABLES:
            raise DomainError(
                detail=N_("There is no statistics table {name}."),
                params={"name": filename},
                status=404,
                title="Not found",
            )
        scope = await queries.scope_of(session, jurisdiction)
        stats = await queries.load(session, now=utcnow(), scope=scope)
        locale = request_locale(request)
        gettext, _ = gettext_for(locale)
        body = present.csv_bytes(stats, table, locale=locale, gettext=gettext)
        stem = f"{scope.code}-" if scope.codes is not None else ""
        return Response(
            content=body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="market-stats-{stem}{table}.csv"',
                "Cache-Control": "no-store",
                "Vary": "Cookie, Accept-Language",
            },
        )
