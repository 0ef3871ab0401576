"""Rating pages: the public explanation of the credit score (``/credit``), the owner's
rating form (``/contracts/{id}/rating``), the agency's reply (``/ratings/{id}/reply``) and
a supervisor's voiding (``/ratings/{id}/void``). The contract pages link here.

Plain forms; writes run in a savepoint, so a refused form leaves nothing behind while the
page says why beside the field. Refusals of the person (401, 403, 404) are error pages.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer
from market.agencies.models import Agency
from market.contracts import queries as contracts
from market.contracts.models import CONTRACT_STATUS_LABELS
from market.core.errors import DomainError, FieldError, InvalidInput
from market.core.i18n import N_
from market.notices.models import Notice
from market.ratings import rules, service
from market.ratings.models import DIMENSIONS, RatingInput
from market.ratings.present import KIND_LABELS
from market.security.auth import requires_role
from market.web.forms import FormErrors, errors_beside_fields
from market.web.templating import redirect, render


class RatingPages(Controller):
    include_in_schema = False

    @get("/credit")
    async def formula(self, request: Request[Any, Any, Any]) -> Response[str]:
        examples = [
            (
                N_("A rating of all fives given last month"),
                rules.score(
                    [rules.CreditEvent("rating", date(2026, 1, 1), "x", scores=(5, 5, 5, 5, 5))],
                    date(2026, 2, 1),
                ).score,
            ),
            (
                N_("One declined award and one upheld objection"),
                rules.score(
                    [
                        rules.CreditEvent("decline", date(2026, 1, 1), "a"),
                        rules.CreditEvent("disqualified", date(2026, 1, 2), "b"),
                    ],
                    date(2026, 2, 1),
                ).score,
            ),
        ]
        return render(
            request,
            "ratings/credit.html",
            c=rules,
            penalties=rules.PENALTIES,
            KIND_LABELS=KIND_LABELS,
            examples=examples,
            settings=request.app.state.settings,
        )

    # -- the owner's rating ----------------------------------------------------------------

    async def _rating_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        user: AppUser,
        contract_id: str,
        *,
        values: dict[str, str] | None = None,
        errors: FormErrors | None = None,
        status_code: int = 200,
    ) -> Response[str]:
        contract = await contracts.get_contract(session, contract_id)
        service.require_may_rate(contract, user)
        agency = await session.get(Agency, contract.agency_id)
        notice = await session.get(Notice, contract.notice_id)
        existing = await service.rating_of_contract(session, contract)
        return render(
            request,
            "ratings/rate.html",
            status_code=status_code,
            contract=contract,
            agency=agency,
            notice=notice,
            existing=existing,
            existing_scores=service.scores_of(existing) if existing else None,
            rateable=contract.status in service.RATEABLE,
            status_label=CONTRACT_STATUS_LABELS.get(contract.status, contract.status),
            values=values or {},
            errors=errors or FormErrors(),
        )

    @get("/contracts/{contract_id:str}/rating", guards=[requires_role(Role.owner)])
    async def rating_form(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
    ) -> Response[str]:
        return await self._rating_page(request, session, await load_viewer(request, session), contract_id)

    @post("/contracts/{contract_id:str}/rating", guards=[requires_role(Role.owner)])
    async def rate(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        raw = await request.form()
        values = {name: str(raw.get(name) or "").strip() for name in (*DIMENSIONS, "comment")}
        try:
            async with session.begin_nested():
                missing = [d for d in DIMENSIONS if not values[d].isdigit()]
                if missing:
                    raise InvalidInput(
                        N_("Each score is a whole number from 1 to 5."),
                        [FieldError(d, N_("Give a whole number from 1 to 5.")) for d in missing],
                    )
                data = RatingInput(
                    **{d: int(values[d]) for d in DIMENSIONS}, comment=values["comment"][:5000]
                )
                await service.rate(session, user=user, contract_id=contract_id, data=data)
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            errors = errors_beside_fields(exc, lambda f: f if f in values else None)
            return await self._rating_page(
                request, session, user, contract_id, values=values, errors=errors, status_code=exc.status
            )
        contract = await contracts.get_contract(session, contract_id)
        agency = await session.get(Agency, contract.agency_id)
        assert agency is not None
        return redirect(f"/agencies/{agency.public_id}#ratings-h")

    # -- the agency's reply and a supervisor's voiding -----------------------------------------

    async def _one_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        user: AppUser,
        rating_id: str,
        *,
        action: str,
        values: dict[str, str] | None = None,
        errors: FormErrors | None = None,
        status_code: int = 200,
    ) -> Response[str]:
        rating = await service.get_rating(session, rating_id)
        agency = await session.get(Agency, rating.agency_id)
        assert agency is not None
        if action == "reply":
            service.require_may_reply(agency, user)
        else:
            await service.require_may_void_rating(session, user, rating)
        return render(
            request,
            "ratings/act.html",
            status_code=status_code,
            action=action,
            rating=rating,
            scores=service.scores_of(rating),
            agency=agency,
            values=values or {},
            errors=errors or FormErrors(),
        )

    async def _act(
        self, request: Request[Any, Any, Any], session: AsyncSession, rating_id: str, action: str
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        field = "reply" if action == "reply" else "reason"
        values = {field: str((await request.form()).get(field) or "").strip()}
        try:
            async with session.begin_nested():
                if action == "reply":
                    rating = await service.reply(session, user=user, rating_id=rating_id, text=values[field])
                else:
                    rating = await service.void(session, user=user, rating_id=rating_id, reason=values[field])
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            errors = errors_beside_fields(exc, lambda f: f if f == field else None)
            return await self._one_page(
                request,
                session,
                user,
                rating_id,
                action=action,
                values=values,
                errors=errors,
                status_code=exc.status,
            )
        agency = await session.get(Agency, rating.agency_id)
        assert agency is not None
        return redirect(f"/agencies/{agency.public_id}#rating-{rating.public_id}")

    @get("/ratings/{rating_id:str}/reply", guards=[requires_role(Role.agency)])
    async def reply_form(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        rating_id: FromPath[str],
    ) -> Response[str]:
        return await self._one_page(
            request, session, await load_viewer(request, session), rating_id, action="reply"
        )

    @post("/ratings/{rating_id:str}/reply", guards=[requires_role(Role.agency)])
    async def reply(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        rating_id: FromPath[str],
    ) -> Response[Any]:
        return await self._act(request, session, rating_id, "reply")

    @get("/ratings/{rating_id:str}/void", guards=[requires_role(Role.supervisor)])
    async def void_form(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        rating_id: FromPath[str],
    ) -> Response[str]:
        return await self._one_page(
            request, session, await load_viewer(request, session), rating_id, action="void"
        )

    @post("/ratings/{rating_id:str}/void", guards=[requires_role(Role.supervisor)])
    async def void(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        rating_id: FromPath[str],
    ) -> Response[Any]:
        return await self._act(request, session, rating_id, "void")
