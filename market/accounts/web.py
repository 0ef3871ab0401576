"""Account pages: register, log in, log out, my account, and the admin's user list."""

from __future__ import annotations

from typing import Any

from litestar.di import NamedDependency
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service
from market.accounts.models import SELF_REGISTERED_ROLES, Role, UserCreate
from market.accounts.session import cleared_session_cookie, load_viewer, session_cookie
from market.errors import DomainError
from market.i18n import N_
from market.forms import FormErrors, clean, parse
from market.pagination import check_limit
from market.security.auth import requires_login, requires_role
from market.security.ratelimit import rate_limited
from market.templating import is_htmx, redirect, render, safe_next

class AccountPages(Controller):
    include_in_schema = False

    @get("/register")
    async def register_form(self, request: Request[Any, Any, Any], role: FromQuery[str] = "owner") -> Response[str]:
        values = {"role": role if role in SELF_REGISTERED_ROLES else "owner"}
        return render(request, "accounts/register.html", values=values, errors=FormErrors(), roles=SELF_REGISTERED_ROLES)

    @post("/register", guards=[rate_limited("register")])
    async def register(self, request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, Any]], session: NamedDependency[AsyncSession]) -> Response[Any]:
        values = clean(data)
        checked, errors = parse(UserCreate, values)
        if checked is not None:
            try:
                user = await service.register(session, data=checked)
            except DomainError as exc:
                errors = FormErrors.from_domain(exc)
            else:
                return redirect("/account", flash="registered", cookies=[session_cookie(request, user)])
        values.pop("password", None)
        return render(
            request, "accounts/register.html", status_code=422, values=values, errors=errors, roles=SELF_REGISTERED_ROLES
        )

    @get("/login")
    async def login_form(self, request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Response[str]:
        return render(request, "accounts/login.html", values={"next": safe_next(next)}, errors=FormErrors())

    @post("/login", guards=[rate_limited("login")])
    async def login(self, request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, Any]], session: NamedDependency[AsyncSession]) -> Response[Any]:
        values = clean(data)
        user = await service.authenticate(session, email=values.get("email", ""), password=values.get("password", ""), backoff=request.app.state.login_backoff)
        if user is None:
            values.pop("password", None)
            errors = FormErrors(form=N_("Wrong e-mail address or password."))
            return render(request, "accounts/login.html", status_code=401, values=values, errors=errors)
        return redirect(safe_next(values.get("next")), flash="logged_in", cookies=[session_cookie(request, user)])

    @post("/logout")
    async def logout(self) -> Redirect:
        return redirect("/", flash="logged_out", cookies=[cleared_session_cookie()])

    @get("/account", guards=[requires_login])
    async def account(self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]) -> Response[str]:
        user = await load_viewer(request, session)
        return render(request, "accounts/account.html", user=user)

    @get("/admin/users", guards=[requires_role(Role.admin, Role.supervisor)])
    async def users(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        role: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
    ) -> Response[str]:
        role_filter = Role(role) if role in {r.value for r in Role} else None
        users, next_cursor = await service.list_users(session, role=role_filter, cursor=cursor, limit=check_limit(limit))
        counts = await service.count_by_role(session)
        template = "accounts/partials/user_rows.html" if is_htmx(request) and cursor else "accounts/users.html"
        return render(
            request, template, users=users, next_cursor=next_cursor, counts=counts, role=role_filter, roles=list(Role)
        )
