"""The dashboard: one page for every role, the landing page after log-in. It shows the
viewer's work by group, the most urgent piece at the top; each piece says what happens
next, by when (China time), and links to the page where it is done."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.session import load_viewer
from market.dashboards import rules, service
from market.security.auth import requires_login
from market.web.templating import render


class DashboardPages(Controller):
    include_in_schema = False

    @get("/dashboard", guards=[requires_login])
    async def dashboard(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        user = await load_viewer(request, session)
        board = await service.dashboard(session, user=user, settings=request.app.state.settings)
        return render(
            request,
            "dashboards/dashboard.html",
            board=board,
            viewer_user=user,
            GROUP_TITLES=rules.GROUP_TITLES,
        )
