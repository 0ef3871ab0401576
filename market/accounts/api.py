"""Accounts over JSON: registration, tokens, log-out, /me and its password, reset links,
and the administrators' deactivate and reactivate."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service
from market.accounts.models import (
    AccountDecision,
    LoginInput,
    PasswordChange,
    PasswordResetInput,
    ResetLinkPublic,
    Role,
    StaffGrant,
    StaffGranted,
    StaffMove,
    StaffPublic,
    TokenPublic,
    UserAdminView,
    UserCreate,
    UserPublic,
)
from market.accounts.session import issue_for, load_viewer, session_cookie
from market.core.errors import Unauthorized
from market.core.i18n import N_
from market.security.auth import current_principal, requires_login, requires_role
from market.security.ratelimit import rate_limited
from market.web.openapi import problems


class AccountsApi(Controller):
    path = "/api/v1"
    tags = ["accounts"]

    @post(
        "/auth/register",
        status_code=201,
        guards=[rate_limited("register")],
        summary="Register an owner or agency account",
    )
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[UserCreate],
        session: NamedDependency[AsyncSession],
    ) -> UserPublic:
        user = await service.register(session, data=data)
        return UserPublic.of(user)

    # 401: wrong e-mail address or password; 403: the account is deactivated (said only
    # to someone who gave its right password).
    @post(
        "/auth/token",
        status_code=200,
        guards=[rate_limited("login")],
        responses=problems(401, 403),
        summary="Exchange e-mail and password for a bearer token",
    )
    async def token(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginInput],
        session: NamedDependency[AsyncSession],
    ) -> TokenPublic:
        user = await service.authenticate(
            session, email=data.email, password=data.password, backoff=request.app.state.login_backoff
        )
        if user is None:
            raise Unauthorized(N_("Wrong e-mail address or password."))
        token, ttl = issue_for(request, user)
        return TokenPublic(access_token=token, expires_in=ttl)

    @post(
        "/auth/logout",
        status_code=204,
        guards=[requires_login],
        summary="End every session of this account (all its tokens)",
    )
    async def logout(self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]) -> None:
        user = await load_viewer(request, session)
        await service.log_out(session, public_id=user.public_id)

    @post(
        "/auth/password-reset",
        status_code=204,
        guards=[rate_limited("reset")],
        summary="Set a new password with a one-time reset link's token",
    )
    async def reset_password(
        self, data: JSONBody[PasswordResetInput], session: NamedDependency[AsyncSession]
    ) -> None:
        await service.reset_password(session, token=data.token, new_password=data.new_password)

    @get("/me", guards=[requires_login], summary="The logged-in user")
    async def me(self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]) -> UserPublic:
        return UserPublic.of(await load_viewer(request, session))

    # 429: too many wrong current passwords (they count as failed log-ins of the account).
    @post(
        "/me/password",
        status_code=200,
        guards=[requires_login],
        responses=problems(429),
        summary="Change the password; every other session ends, this caller gets a new token",
    )
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PasswordChange],
        session: NamedDependency[AsyncSession],
    ) -> Response[TokenPublic]:
        user = await service.change_password(
            session,
            user=await load_viewer(request, session),
            current_password=data.current_password,
            new_password=data.new_password,
            backoff=request.app.state.login_backoff,
        )
        token, ttl = issue_for(request, user)
        principal = current_principal(request)
        # A browser session (Swagger UI) keeps working with a fresh cookie; an API client
        # takes the token from the answer.
        cookies = (
            [session_cookie(request, user)] if principal is not None and principal.via == "cookie" else []
        )
        return Response(TokenPublic(access_token=token, expires_in=ttl), cookies=cookies)

    @post(
        "/users/{user_id:str}/deactivate",
        status_code=200,
        guards=[requires_role(Role.admin)],
        summary="Deactivate an account in the caller's jurisdiction (logged with who and why)",
    )
    async def deactivate(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[str],
        data: JSONBody[AccountDecision],
        session: NamedDependency[AsyncSession],
    ) -> UserAdminView:
        user = await service.set_active(
            session,
            user_id=user_id,
            actor=await load_viewer(request, session),
            active=False,
            reason=data.reason,
        )
        return UserAdminView.of(user)

    @post(
        "/users/{user_id:str}/reactivate",
        status_code=200,
        guards=[requires_role(Role.admin)],
        summary="Reactivate an account in the caller's jurisdiction (logged with who and why)",
    )
    async def reactivate(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[str],
        data: JSONBody[AccountDecision],
        session: NamedDependency[AsyncSession],
    ) -> UserAdminView:
        user = await service.set_active(
            session,
            user_id=user_id,
            actor=await load_viewer(request, session),
            active=True,
            reason=data.reason,
        )
        return UserAdminView.of(user)

    @post(
        "/users/{user_id:str}/reset-link",
        status_code=201,
        guards=[requires_role(Role.admin)],
        summary="Issue a one-time password reset link for an account in the caller's jurisdiction",
    )
    async def reset_link(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[str],
        data: JSONBody[AccountDecision],
        session: NamedDependency[AsyncSession],
    ) -> ResetLinkPublic:
        issued = await service.issue_reset_link(
            session, user_id=user_id, actor=await load_viewer(request, session), reason=data.reason
        )
        return _link_public(request, issued)

    # -- staff: grants, moves, revocations (market/accounts/rules.py) -------------------------

    @get(
        "/staff",
        guards=[requires_role(Role.admin, Role.supervisor)],
        summary="The staff accounts the caller's jurisdiction reaches (strictly below it; all for the province)",
    )
    async def staff(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> list[StaffPublic]:
        viewer = await load_viewer(request, session)
        return [StaffPublic.of(u) for u in await service.list_staff(session, viewer=viewer)]

    # 403: the caller may not grant this role at this hall (a supervisor anywhere the caller
    # reaches, an administrator only strictly below); 422: no such hall; 409: e-mail taken.
    @post(
        "/staff",
        status_code=201,
        guards=[requires_role(Role.admin)],
        summary="Grant a staff role at a hall: a new account, with a one-time link to set its password (logged)",
    )
    async def grant(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[StaffGrant],
        session: NamedDependency[AsyncSession],
    ) -> StaffGranted:
        user, link = await service.grant_staff(
            session,
            actor=await load_viewer(request, session),
            email=data.email,
            name=data.name,
            role=data.role,
            jurisdiction=data.jurisdiction,
        )
        return StaffGranted(**StaffPublic.of(user).model_dump(), password_link=_link_public(request, link))

    @post(
        "/staff/{user_id:str}/move",
        status_code=200,
        guards=[requires_role(Role.admin)],
        summary="Move a staff account's powers to another hall; its sessions end (logged with who and why)",
    )
    async def move(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[str],
        data: JSONBody[StaffMove],
        session: NamedDependency[AsyncSession],
    ) -> StaffPublic:
        user = await service.move_staff(
            session,
            actor=await load_viewer(request, session),
            user_id=user_id,
            jurisdiction=data.jurisdiction,
            reason=data.reason,
        )
        return StaffPublic.of(user)

    @post(
        "/staff/{user_id:str}/revoke",
        status_code=200,
        guards=[requires_role(Role.admin)],
        summary="Revoke a staff account's powers: deactivated, its sessions end, its jurisdiction stays recorded (logged)",
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[str],
        data: JSONBody[AccountDecision],
        session: NamedDependency[AsyncSession],
    ) -> StaffPublic:
        user = await service.revoke_staff(
            session, actor=await load_viewer(request, session), user_id=user_id, reason=data.reason
        )
        return StaffPublic.of(user)


def _link_public(request: Request[Any, Any, Any], issued: service.IssuedLink) -> ResetLinkPublic:
    return ResetLinkPublic(
        user_id=issued.user.public_id,
        token=issued.token,
        path=issued.path,
        url=request.app.state.settings.base_url + issued.path,  # MARKET_PUBLIC_URL, never the Host header
        expires_at=issued.expires_at,
    )
