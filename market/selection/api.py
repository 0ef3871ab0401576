"""Closing, the selection record, declines and objections over JSON (api-v1.md)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import Role
from market.accounts.session import load_viewer, optional_viewer
from market.core.config import Settings
from market.notices import service as notices
from market.objections import queries as objection_queries
from market.objections import service as objection_service
from market.security.auth import requires_login, requires_role
from market.selection import queries, service
from market.selection.models import AnswerInput, DecisionInput, DeclineInput, Objection, ObjectionInput
from market.selection.service import Context
from market.web.openapi import problems


def context(state: State) -> Context:
    return Context(settings=state.settings, sealer=state.sealer, beacon=state.beacon)


def base_url(request: Request[Any, Any, Any]) -> str:
    settings: Settings = request.app.state.settings
    return settings.base_url  # MARKET_PUBLIC_URL, never the Host header


def objection_public(o: Objection) -> dict[str, Any]:
    """An objection as everyone sees it; who filed it is not published."""
    return {
        "id": o.public_id,
        "agency_id": o.agency_public_id,
        "reasons": o.reasons,
        "status": o.status,
        "filed_at": o.filed_at.isoformat(),
        "answer": o.answer,
        "answered_at": o.answered_at.isoformat() if o.answered_at else None,
        "decision_reason": o.decision_reason,
        "decided_at": o.decided_at.isoformat() if o.decided_at else None,
        "seqs": {"filed": o.filed_seq, "answered": o.answered_seq, "decided": o.decided_seq},
    }


def objection_for_staff(o: Objection) -> dict[str, Any]:
    """An objection as supervisors see it (and its filer, in the answer to filing): with the
    party that filed it and the salt that opens the log's ``objector_sha256``, and the hall
    whose supervisors decide it now (one level up at each ``objection.escalated``)."""
    return {
        **objection_public(o),
        "objector": {"party": o.party, "salt": o.party_salt},
        "hall": o.hall,
        "escalated_at": o.escalated_at.isoformat() if o.escalated_at else None,
    }


class SelectionApi(Controller):
    path = "/api/v1/notices"
    tags = ["selection"]

    @post(
        "/{notice_id:str}/close",
        status_code=200,
        guards=[requires_login],
        summary="Close after the deadline and draw (owner or admin); idempotent, returns the selection record",
    )
    async def close(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        notice = await service.close(
            session,
            user=await load_viewer(request, session),
            notice_id=notice_id,
            ctx=context(request.app.state),
        )
        return await queries.record(session, notice, base_url=base_url(request))

    @get(
        "/{notice_id:str}/selection",
        summary="The selection record: every log seq the verifier uses and the values they produce",
    )
    async def selection(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        notice = await notices.visible_notice(session, notice_id, await optional_viewer(request, session))
        return await queries.record(session, notice, base_url=base_url(request))

    @post(
        "/{notice_id:str}/decline",
        status_code=200,
        guards=[requires_role(Role.agency)],
        summary="A winner declines before signing; the first remaining alternate takes its place",
    )
    async def decline(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        data: JSONBody[DeclineInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        notice = await service.decline(
            session,
            user=await load_viewer(request, session),
            notice_id=notice_id,
            reason=data.reason,
            settings=request.app.state.settings,
        )
        return await queries.record(session, notice, base_url=base_url(request))

    @get("/{notice_id:str}/objections", summary="Objections (异议) to the result, with answers and decisions")
    async def objections(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> list[dict[str, Any]]:
        viewer = await optional_viewer(request, session)
        notice = await notices.visible_notice(session, notice_id, viewer)
        shape = objection_for_staff if objection_service.may_see_objector(viewer) else objection_public
        return [shape(o) for o in await objection_queries.objections(session, notice)]

    @post(
        "/{notice_id:str}/objections",
        status_code=201,
        guards=[requires_login],
        responses=problems(403),  # no standing
        summary="File an objection during publicity: the notice's owner, or an agency whose bid stood at the close; one pending per party",
    )
    async def object(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        data: JSONBody[ObjectionInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        objection = await objection_service.file_objection(
            session,
            user=await load_viewer(request, session),
            notice_id=notice_id,
            reasons=data.reasons,
            agency_id=data.agency_id,
        )
        return objection_for_staff(objection)  # the filer's receipt: its own party and salt

    @post(
        "/{notice_id:str}/objections/{objection_id:str}/answer",
        status_code=200,
        guards=[requires_role(Role.owner)],
        summary="The owner answers an objection",
    )
    async def answer(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        objection_id: FromPath[str],
        data: JSONBody[AnswerInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        objection = await objection_service.answer_objection(
            session,
            user=await load_viewer(request, session),
            notice_id=notice_id,
            objection_id=objection_id,
            answer=data.answer,
        )
        return objection_public(objection)

    @post(
        "/{notice_id:str}/objections/{objection_id:str}/decision",
        status_code=200,
        guards=[requires_role(Role.supervisor)],
        summary="A supervisor decides an objection: upheld disqualifies the winner objected to",
    )
    async def decide(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        objection_id: FromPath[str],
        data: JSONBody[DecisionInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        objection = await objection_service.decide_objection(
            session,
            user=await load_viewer(request, session),
            notice_id=notice_id,
            objection_id=objection_id,
            decision=data.decision.value,
            reason=data.reason,
            settings=request.app.state.settings,
        )
        return objection_public(objection)
