"""Ratings and credit over JSON: rate a contract, reply, void; an agency's ratings and its
credit score with the events behind it (docs/contracts.md, market/ratings/rules.py)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import Role
from market.accounts.session import load_viewer, optional_viewer
from market.agencies import queries as agency_queries
from market.agencies import service as agencies
from market.contracts import queries as contracts
from market.core.clock import today_in_china
from market.core.errors import NotFound
from market.core.i18n import N_
from market.notices.models import Notice
from market.ratings import rules, service
from market.ratings.models import Rating, RatingInput, ReplyInput, VoidInput
from market.security.auth import requires_role


def rating_public(
    rating: Rating, *, contract_id: str | None = None, notice_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": rating.public_id,
        "contract_id": contract_id,
        "notice_id": notice_id,
        "scores": service.scores_of(rating),
        "average": float(rules.average(list(service.scores_of(rating).values()))),
        "comment": rating.comment,
        "rated_at": rating.rated_at.isoformat(),
        "seq": rating.seq,
        "reply": rating.reply,
        "replied_at": rating.replied_at.isoformat() if rating.replied_at else None,
        "voided": rating.voided_at is not None,
        "void_reason": rating.void_reason,
        "voided_at": rating.voided_at.isoformat() if rating.voided_at else None,
    }


def credit_public(events: list[rules.CreditEvent], today: Any) -> dict[str, Any]:
    scored = rules.score(events, today)
    return {
        "score": float(scored.score),
        "version": scored.version,
        "as_of": today.isoformat(),
        "formula": "/credit",
        "contributions": [
            {
                "kind": c.kind,
                "date": c.on.isoformat(),
                "points": float(c.points),
                "weight": float(c.weight),
                "ref": c.ref,
            }
            for c in scored.contributions
        ],
        "history": [
            {"date": p.on.isoformat(), "score": float(p.score), "kind": p.kind, "ref": p.ref}
            for p in rules.history(events, today)
        ],
    }


async def public_agency(request: Request[Any, Any, Any], session: AsyncSession, agency_id: str) -> Any:
    agency = await agencies.get_agency(session, agency_id)
    if agency.status not in [s.value for s in agency_queries.PUBLIC_STATUSES]:
        viewer = await optional_viewer(request, session)
        if not agencies.may_see_private(viewer, agency):
            raise NotFound(N_("No such agency."))
    return agency


class RatingApi(Controller):
    path = "/api/v1"
    tags = ["ratings"]

    @post(
        "/contracts/{contract_id:str}/rating",
        status_code=201,
        guards=[requires_role(Role.owner)],
        summary="The contract's owner rates the agency once, after completion or stop",
    )
    async def rate(
        self,
        request: Request[Any, Any, Any],
        contract_id: FromPath[str],
        data: JSONBody[RatingInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        rating = await service.rate(
            session, user=await load_viewer(request, session), contract_id=contract_id, data=data
        )
        notice = await session.get(Notice, (await contracts.get_contract(session, contract_id)).notice_id)
        return rating_public(rating, contract_id=contract_id, notice_id=notice.public_id if notice else None)

    @post(
        "/ratings/{rating_id:str}/reply",
        status_code=200,
        guards=[requires_role(Role.agency)],
        summary="The rated agency replies once",
    )
    async def reply(
        self,
        request: Request[Any, Any, Any],
        rating_id: FromPath[str],
        data: JSONBody[ReplyInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        rating = await service.reply(
            session, user=await load_viewer(request, session), rating_id=rating_id, text=data.reply
        )
        return rating_public(rating)

    @post(
        "/ratings/{rating_id:str}/void",
        status_code=200,
        guards=[requires_role(Role.supervisor)],
        summary="A supervisor voids a rating with a published reason",
    )
    async def void(
        self,
        request: Request[Any, Any, Any],
        rating_id: FromPath[str],
        data: JSONBody[VoidInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        rating = await service.void(
            session, user=await load_viewer(request, session), rating_id=rating_id, reason=data.reason
        )
        return rating_public(rating)

    @get(
        "/agencies/{agency_id:str}/ratings",
        summary="An agency's ratings, newest first; voided ones stay, marked",
    )
    async def ratings(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> list[dict[str, Any]]:
        agency = await public_agency(request, session, agency_id)
        return [
            rating_public(v.rating, contract_id=v.contract_id, notice_id=v.notice_id)
            for v in await service.ratings_of(session, agency)
        ]

    @get(
        "/agencies/{agency_id:str}/credit",
        summary="An agency's credit score: the events behind it, its history and the formula's version",
    )
    async def credit(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        agency = await public_agency(request, session, agency_id)
        today = today_in_china()
        standing = await service.standing_of(
            session, agency, today=today, contract_days=request.app.state.settings.contract_days
        )
        return {
            "agency_id": agency.public_id,
            **credit_public(standing.events, today),
            "rating": standing.summary(),
        }
