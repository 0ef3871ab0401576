"""Accounts over JSON: /api/v1/auth/register, /api/v1/auth/token, /api/v1/me."""

from __future__ import annotations

from typing import Any

from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar import Controller, Request, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service
from market.accounts.models import LoginInput, TokenPublic, UserCreate, UserPublic
from market.accounts.session import issue_for, load_viewer
from market.errors import Unauthorized
from market.i18n import N_
from market.openapi import problems
from market.security.auth import requires_login
from market.security.ratelimit import rate_limited


class AccountsApi(Controller):
    path = "/api/v1"
    tags = ["accounts"]

    @post("/auth/register", status_code=201, guards=[rate_limited("register")], summary="Register an owner or agency account")
    async def register(self, request: Request[Any, Any, Any], data: JSONBody[UserCreate], session: NamedDependency[AsyncSession]) -> UserPublic:
        user = await service.register(session, data=data)
        return UserPublic.of(user)

    # 401: wrong e-mail address or password.
    @post("/auth/token", status_code=200, guards=[rate_limited("login")], responses=problems(401), summary="Exchange e-mail and password for a bearer token")
    async def token(self, request: Request[Any, Any, Any], data: JSONBody[LoginInput], session: NamedDependency[AsyncSession]) -> TokenPublic:
        user = await service.authenticate(session, email=data.email, password=data.password, backoff=request.app.state.login_backoff)
        if user is None:
            raise Unauthorized(N_("Wrong e-mail address or password."))
        token, ttl = issue_for(request, user)
        return TokenPublic(access_token=token, expires_in=ttl)

    @get("/me", guards=[requires_login], summary="The logged-in user")
    async def me(self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]) -> UserPublic:
        return UserPublic.of(await load_viewer(request, session))
