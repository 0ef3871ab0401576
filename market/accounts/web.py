"""Account pages: register, log in, log out, my account and its password, the reset link's
page, the administrators' user list and account page (deactivate, reactivate, reset link),
and their staff page (grant, move, revoke). Staff see and act on the accounts their
jurisdiction reaches (market/accounts/rules.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import rules, service
from market.accounts.models import (
    SELF_REGISTERED_ROLES,
    STAFF_ROLES,
    AccountDecision,
    AppUser,
    PasswordChange,
    PasswordResetInput,
    Role,
    StaffGrant,
    StaffMove,
    UserCreate,
)
from market.accounts.session import cleared_session_cookie, load_viewer, session_cookie
from market.core.errors import DomainError, Forbidden, NotFound
from market.core.i18n import N_
from market.core.pagination import check_limit
from market.halls.models import Jurisdiction
from market.security.auth import current_principal, requires_login, requires_role
from market.security.ratelimit import rate_limited
from market.web.forms import Choices, FormErrors, clean, errors_beside_fields, parse
from market.web.templating import is_htmx, names_for, redirect, render, request_locale, safe_next

# ?done=<code> on the administrator's account page: only these codes show a message.
# Where a log-in lands when no page asked for it (``/login?next=...`` still wins): each
# role's dashboard, its work with the most urgent first (market/dashboards).
LANDING = "/dashboard"
USER_DONE = {
    "deactivated": N_("The account is deactivated; its sessions have ended."),
    "reactivated": N_("The account is active again; its owner can log in."),
}
PASSWORD_FIELDS = ("current_password", "new_password")
STAFF_DONE = {
    "moved": N_("The staff account is moved; its sessions have ended."),
    "revoked": N_("The staff account's powers are revoked; it is deactivated and its sessions have ended."),
}
GRANT_FIELDS = ("email", "name", "role", "jurisdiction")


async def _place_labels(
    request: Request[Any, Any, Any], session: AsyncSession, users: list[AppUser]
) -> dict[int, str]:
    """Each account's place in the tree by name: a staff account's jurisdiction, an owner's
    organisation's hall, an agency's registered region (none: the province's)."""
    halls = await service.hall_names(session)
    places = await service.places(session, users)
    return {user_id: _label(request, halls, place.code) for user_id, place in places.items()}


def _label(request: Request[Any, Any, Any], halls: dict[str, Jurisdiction], code: str) -> str:
    names = names_for(request_locale(request))
    hall = halls.get(code)
    if hall is None:
        return f"{names.region(code)} · {code}"
    name = f"{hall.name_zh} ({hall.name_en})" if names.en else hall.name_zh
    return f"{name} · {code}"


def _known(fields: tuple[str, ...]) -> Callable[[str], str | None]:
    return lambda name: name if name in fields else None


class AccountPages(Controller):
    include_in_schema = False

    @get("/register")
    async def register_form(
        self, request: Request[Any, Any, Any], role: FromQuery[str] = "owner"
    ) -> Response[str]:
        values = {"role": role if role in SELF_REGISTERED_ROLES else "owner"}
        return render(
            request, "accounts/register.html", values=values, errors=FormErrors(), roles=SELF_REGISTERED_ROLES
        )

    @post("/register", guards=[rate_limited("register")])
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, Any]],
        session: NamedDependency[AsyncSession],
    ) -> Response[Any]:
        values = clean(data)
        checked, errors = parse(UserCreate, values)
        if checked is not None:
            try:
                user = await service.register(session, data=checked)
            except DomainError as exc:
                errors = FormErrors.from_domain(exc)
            else:
                return redirect("/dashboard", flash="registered", cookies=[session_cookie(request, user)])
        values.pop("password", None)
        return render(
            request,
            "accounts/register.html",
            status_code=422,
            values=values,
            errors=errors,
            roles=SELF_REGISTERED_ROLES,
        )

    @get("/login")
    async def login_form(
        self, request: Request[Any, Any, Any], next: FromQuery[str] = LANDING
    ) -> Response[str]:
        return render(
            request, "accounts/login.html", values={"next": safe_next(next, LANDING)}, errors=FormErrors()
        )

    @post("/login", guards=[rate_limited("login")])
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, Any]],
        session: NamedDependency[AsyncSession],
    ) -> Response[Any]:
        values = clean(data)
        try:
            user = await service.authenticate(
                session,
                email=values.get("email", ""),
                password=values.get("password", ""),
                backoff=request.app.state.login_backoff,
            )
        except service.AccountDeactivated as exc:
            values.pop("password", None)
            return render(
                request,
                "accounts/login.html",
                status_code=exc.status,
                values=values,
                errors=FormErrors(form=exc.detail),
            )
        if user is None:
            values.pop("password", None)
            errors = FormErrors(form=N_("Wrong e-mail address or password."))
            return render(request, "accounts/login.html", status_code=401, values=values, errors=errors)
        return redirect(
            safe_next(values.get("next"), LANDING), flash="logged_in", cookies=[session_cookie(request, user)]
        )

    @post("/logout")
    async def logout(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Redirect:
        # Ends every session of the account, not only this cookie: a copy of the cookie
        # taken elsewhere stops working too.
        if (principal := current_principal(request)) is not None:
            await service.log_out(session, public_id=principal.public_id)
        return redirect("/", flash="logged_out", cookies=[cleared_session_cookie(request)])

    @get("/account", guards=[requires_login])
    async def account(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        user = await load_viewer(request, session)
        return render(request, "accounts/account.html", user=user)

    # -- the password ---------------------------------------------------------------------------

    @get("/account/password", guards=[requires_login])
    async def password_form(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        await load_viewer(request, session)
        return render(request, "accounts/password.html", errors=FormErrors())

    @post("/account/password", guards=[requires_login])
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, Any]],
        session: NamedDependency[AsyncSession],
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        checked, errors = parse(PasswordChange, clean(data))
        if checked is not None:
            try:
                async with session.begin_nested():
                    await service.change_password(
                        session,
                        user=user,
                        current_password=checked.current_password,
                        new_password=checked.new_password,
                        backoff=request.app.state.login_backoff,
                    )
            except DomainError as exc:
                errors = errors_beside_fields(exc, _known(PASSWORD_FIELDS))
                return render(request, "accounts/password.html", status_code=exc.status, errors=errors)
            # Every other session has ended; this browser carries on with a new one.
            return redirect("/account", flash="password_changed", cookies=[session_cookie(request, user)])
        return render(request, "accounts/password.html", status_code=422, errors=errors)

    @get("/password-reset")
    async def reset_form(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        token: FromQuery[str] = "",
    ) -> Response[str]:
        usable = await service.reset_link_is_usable(session, token=token)
        return render(
            request,
            "accounts/reset.html",
            status_code=200 if usable else 404,
            token=token,
            usable=usable,
            done=False,
            errors=FormErrors(),
        )

    @post("/password-reset", guards=[rate_limited("reset")])
    async def reset(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, Any]],
        session: NamedDependency[AsyncSession],
    ) -> Response[str]:
        values = clean(data)
        token = values.get("token", "")
        checked, errors = parse(PasswordResetInput, values)
        if checked is not None:
            try:
                async with session.begin_nested():
                    await service.reset_password(
                        session, token=checked.token, new_password=checked.new_password
                    )
            except DomainError as exc:
                errors = errors_beside_fields(exc, _known(("new_password", "token")))
                usable = "token" not in errors
                return render(
                    request,
                    "accounts/reset.html",
                    status_code=exc.status,
                    token=token,
                    usable=usable,
                    done=False,
                    errors=errors,
                )
            return render(
                request, "accounts/reset.html", token="", usable=False, done=True, errors=FormErrors()
            )
        usable = await service.reset_link_is_usable(session, token=token)
        return render(
            request,
            "accounts/reset.html",
            status_code=422,
            token=token,
            usable=usable,
            done=False,
            errors=errors,
        )

    # -- administrators ------------------------------------------------------------------------

    @get("/admin/users", guards=[requires_role(Role.admin, Role.supervisor)])
    async def users(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        role: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
    ) -> Response[str]:
        viewer = await load_viewer(request, session)
        role_filter = Role(role) if role in {r.value for r in Role} else None
        users, next_cursor = await service.list_users(
            session, role=role_filter, cursor=cursor, limit=check_limit(limit), scope=viewer.jurisdiction
        )
        counts = await service.count_by_role(session, scope=viewer.jurisdiction)
        template = (
            "accounts/partials/user_rows.html" if is_htmx(request) and cursor else "accounts/users.html"
        )
        return render(
            request,
            template,
            users=users,
            places=await _place_labels(request, session, list(users)),
            scope=_label(request, await service.hall_names(session), viewer.jurisdiction or ""),
            next_cursor=next_cursor,
            counts=counts,
            role=role_filter,
            roles=list(Role),
        )

    async def _user_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        viewer: AppUser,
        user_id: str,
        *,
        status_code: int = 200,
        done: str | None = None,
        form: str | None = None,
        errors: FormErrors | None = None,
        values: dict[str, str] | None = None,
        link: service.IssuedLink | None = None,
    ) -> Response[str]:
        user = await service.get_by_public_id(session, user_id)
        if user is None:
            raise NotFound(N_("No such account."))
        if not await service.reaches(session, viewer, user):
            raise Forbidden(rules.OUTSIDE)
        return render(
            request,
            "accounts/user.html",
            status_code=status_code,
            user=user,
            place=(await _place_labels(request, session, [user])).get(user.id or 0, ""),
            manages=user.role in STAFF_ROLES and user.id != viewer.id,
            is_self=user.id == viewer.id,
            message=USER_DONE.get(done or ""),
            form=form,
            errors=errors or FormErrors(),
            values=values or {},
            link=link,
            link_url=request.app.state.settings.base_url + link.path
            if link
            else "",  # MARKET_PUBLIC_URL, never the Host header
        )

    @get("/admin/users/{user_id:str}", guards=[requires_role(Role.admin)])
    async def user(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        user_id: FromPath[str],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await self._user_page(
            request, session, await load_viewer(request, session), user_id, done=done
        )

    async def _set_active(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        user_id: str,
        data: dict[str, Any],
        *,
        active: bool,
    ) -> Response[Any]:
        actor = await load_viewer(request, session)
        values = clean(data)
        form = "reactivate" if active else "deactivate"
        checked, errors = parse(AccountDecision, values)
        if checked is not None:
            try:
                async with session.begin_nested():
                    await service.set_active(
                        session,
                        user_id=user_id,
                        actor=actor,
                        active=active,
                        reason=checked.reason,
                    )
            except DomainError as exc:
                if exc.status in (403, 404):
                    raise
                errors = errors_beside_fields(exc, _known(("reason",)))
                return await self._user_page(
                    request,
                    session,
                    actor,
                    user_id,
                    status_code=exc.status,
                    form=form,
                    errors=errors,
                    values=values,
                )
            return redirect(f"/admin/users/{user_id}?done={'reactivated' if active else 'deactivated'}")
        return await self._user_page(
            request, session, actor, user_id, status_code=422, form=form, errors=errors, values=values
        )

    @post("/admin/users/{user_id:str}/deactivate", guards=[requires_role(Role.admin)])
    async def deactivate(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, Any]],
        session: NamedDependency[AsyncSession],
        user_id: FromPath[str],
    ) -> Response[Any]:
        return await self._set_active(request, session, user_id, data, active=False)

    @post("/admin/users/{user_id:str}/reactivate", guards=[requires_role(Role.admin)])
    async def reactivate(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, Any]],
        session: NamedDependency[AsyncSession],
        user_id: FromPath[str],
    ) -> Response[Any]:
        return await self._set_active(request, session, user_id, data, active=True)

    @post("/admin/users/{user_id:str}/reset-link", guards=[requires_role(Role.admin)])
    async def reset_link(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, Any]],
        session: NamedDependency[AsyncSession],
        user_id: FromPath[str],
    ) -> Response[Any]:
        """The link is shown on this answer only (no redirect: it must not travel in a URL
        or a cookie), for the administrator to hand to the person."""
        actor = await load_viewer(request, session)
        values = clean(data)
        checked, errors = parse(AccountDecision, values)
        if checked is not None:
            try:
                async with session.begin_nested():
                    link = await service.issue_reset_link(
                        session,
                        user_id=user_id,
                        actor=actor,
                        reason=checked.reason,
                    )
            except DomainError as exc:
                if exc.status in (403, 404):
                    raise
                errors = errors_beside_fields(exc, _known(("reason",)))
                return await self._user_page(
                    request,
                    session,
                    actor,
                    user_id,
                    status_code=exc.status,
                    form="reset",
                    errors=errors,
                    values=values,
                )
            return await self._user_page(request, session, actor, user_id, link=link)
        return await self._user_page(
            request, session, actor, user_id, status_code=422, form="reset", errors=errors, values=values
        )

    # -- staff: grants, moves, revocations ------------------------------------------------------

    async def _staff_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        viewer: AppUser,
        *,
        status_code: int = 200,
        done: str | None = None,
        form: str | None = None,
        errors: FormErrors | None = None,
        values: dict[str, str] | None = None,
        granted: AppUser | None = None,
        link: service.IssuedLink | None = None,
    ) -> Response[str]:
        staff = await service.list_staff(session, viewer=viewer)
        halls = await service.hall_names(session)
        choices = await service.grant_choices(session, actor=viewer)

        def options(items: list[Jurisdiction]) -> Choices:
            return Choices((h.code, _label(request, halls, h.code)) for h in items)

        # Where the viewer may grant anything: every hall where a supervisor may be granted
        # (an administrator only strictly below; the service says so beside the field).
        by_role = {role: options(items) for role, items in choices.items()}
        return render(
            request,
            "accounts/staff.html",
            status_code=status_code,
            staff=staff,
            places={u.id: _label(request, halls, u.jurisdiction or "") for u in staff},
            scope=_label(request, halls, viewer.jurisdiction or ""),
            can_act=viewer.role == Role.admin,
            grant_options=by_role[Role.supervisor.value],
            move_options=by_role,
            roles=STAFF_ROLES,
            message=STAFF_DONE.get(done or ""),
            form=form,
            errors=errors or FormErrors(),
            values=values or {},
            granted=granted,
            link=link,
            link_url=request.app.state.settings.base_url + link.path if link else "",
        )

    @get("/admin/staff", guards=[requires_role(Role.admin, Role.supervisor)])
    async def staff(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await self._staff_page(request, session, await load_viewer(request, session), done=done)

    @post("/admin/staff", guards=[requires_role(Role.admin)])
    async def grant(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, Any]],
        session: NamedDependency[AsyncSession],
    ) -> Response[Any]:
        """The set-password link is shown on this answer only (no redirect: it must not
        travel in a URL or a cookie), for the administrator to hand to the person."""
        actor = await load_viewer(request, session)
        values = clean(data)
        checked, errors = parse(StaffGrant, values)
        if checked is not None:
            try:
                async with session.begin_nested():
                    user, link = await service.grant_staff(
                        session,
                        actor=actor,
                        email=checked.email,
                        name=checked.name,
                        role=checked.role,
                        jurisdiction=checked.jurisdiction,
                    )
            except DomainError as exc:
                errors = errors_beside_fields(exc, _known(GRANT_FIELDS))
                return await self._staff_page(
                    request,
                    session,
                    actor,
                    status_code=exc.status,
                    form="grant",
                    errors=errors,
                    values=values,
                )
            return await self._staff_page(request, session, actor, granted=user, link=link)
        return await self._staff_page(
            request, session, actor, status_code=422, form="grant", errors=errors, values=values
        )

    async def _staff_change(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        user_id: str,
        data: dict[str, Any],
        *,
        action: str,
    ) -> Response[Any]:
        actor = await load_viewer(request, session)
        values = clean(data)
        key = f"{action}-{user_id}"
        checked, errors = parse(StaffMove if action == "move" else AccountDecision, values)
        if checked is not None:
            try:
                async with session.begin_nested():
                    if isinstance(checked, StaffMove):
                        await service.move_staff(
                            session,
                            actor=actor,
                            user_id=user_id,
                            jurisdiction=checked.jurisdiction,
                            reason=checked.reason,
                        )
                    elif isinstance(checked, AccountDecision):
                        await service.revoke_staff(
                            session, actor=actor, user_id=user_id, reason=checked.reason
                        )
            except DomainError as exc:
                if exc.status == 404 or (exc.status == 403 and not exc.errors):
                    raise  # not theirs to change: the standard page
                errors = errors_beside_fields(exc, _known(("jurisdiction", "reason")))
                return await self._staff_page(
                    request, session, actor, status_code=exc.status, form=key, errors=errors, values=values
                )
            return redirect(f"/admin/staff?done={'moved' if action == 'move' else 'revoked'}")
        return await self._staff_page(
            request, session, actor, status_code=422, form=key, errors=errors, values=values
        )

    @post("/admin/staff/{user_id:str}/move", guards=[requires_role(Role.admin)])
    async def move(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, Any]],
        session: NamedDependency[AsyncSession],
        user_id: FromPath[str],
    ) -> Response[Any]:
        return await self._staff_change(request, session, user_id, data, action="move")

    @post("/admin/staff/{user_id:str}/revoke", guards=[requires_role(Role.admin)])
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[dict[str, Any]],
        session: NamedDependency[AsyncSession],
        user_id: FromPath[str],
    ) -> Response[Any]:
        return await self._staff_change(request, session, user_id, data, action="revoke")
