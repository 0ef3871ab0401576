"""Contracts and milestones over JSON (docs/contracts.md). Contracts on a public
marketplace are public; deliverables, the agency's notes and the owner's return reasons
are for the two parties and staff only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer, optional_viewer
from market.agencies.service import MAX_DOCUMENT_BYTES
from market.contracts import queries, service
from market.contracts.models import (
    ContractCreate,
    ContractDeclineInput,
    DisputeDecisionInput,
    ReturnInput,
    StopInput,
)
from market.contracts.queries import ContractView
from market.core.pagination import check_limit
from market.files.responses import download
from market.security.auth import requires_login, requires_role
from market.web.openapi import problems


class ContractRecord(ContractCreate):
    agency_id: str


@dataclass
class DeliverableUpload:
    file: UploadFile
    note: str = ""


def contract_public(v: ContractView, viewer: AppUser | None = None) -> dict[str, Any]:
    c = v.contract
    private = v.may_see_deliverables(viewer)
    milestones = []
    for m in v.milestones:
        d = v.deliverables.get(m.id)  # type: ignore[arg-type]
        item: dict[str, Any] = {
            "position": m.position,
            "title": m.title,
            "due_on": m.due_on.isoformat(),
            "status": m.status,
            "overdue_on": m.overdue_on.isoformat() if m.overdue_on else None,
            "submitted_at": m.submitted_at.isoformat() if m.submitted_at else None,
            "accepted_at": m.accepted_at.isoformat() if m.accepted_at else None,
            # The hash is in the public log anyway; the file is not public.
            "deliverable": {"sha256": d.sha256, "size": d.size, "content_type": d.content_type}
            if d
            else None,
        }
        if private:
            item["note"] = m.note
            item["return_reason"] = m.return_reason
            if d is not None:
                item["deliverable"]["filename"] = d.filename
        milestones.append(item)
    return {
        "id": c.public_id,
        "notice_id": v.notice.public_id,
        "notice_title": v.notice.title,
        "agency_id": v.agency.public_id,
        "agency_name": v.agency.name,
        "amount_fen": c.amount_fen,
        "signed_on": c.signed_on.isoformat(),
        "start_on": c.start_on.isoformat(),
        "due_on": c.due_on.isoformat(),
        "status": c.status,
        "stop_reason": c.stop_reason,
        "recorded_at": c.created_at.isoformat(),
        "confirmed_at": c.confirmed_at.isoformat() if c.confirmed_at else None,
        "completed_at": c.completed_at.isoformat() if c.completed_at else None,
        "stopped_at": c.stopped_at.isoformat() if c.stopped_at else None,
        "declined_at": c.declined_at.isoformat() if c.declined_at else None,
        # A decline because the terms do not follow the award, and a supervisor's decision:
        # public like an objection and its decision.
        "dispute": None
        if c.disputed_at is None
        else {
            "reason": c.dispute_reason,
            "disputed_at": c.disputed_at.isoformat(),
            "decision": c.dispute_decision,
            "decision_reason": c.dispute_decision_reason,
            "decided_at": c.dispute_decided_at.isoformat() if c.dispute_decided_at else None,
        },
        "seqs": {
            "recorded": c.recorded_seq,
            "signed": c.signed_seq,
            "disputed": c.disputed_seq,
            "dispute_decided": c.dispute_decided_seq,
        },
        "milestones": milestones,
    }


async def _shape(session: AsyncSession, contract: Any, viewer: AppUser | None) -> dict[str, Any]:
    return contract_public(await queries.view(session, contract), viewer)


class ContractApi(Controller):
    path = "/api/v1"
    tags = ["contracts"]

    @post(
        "/notices/{notice_id:str}/contracts",
        status_code=201,
        guards=[requires_role(Role.owner)],
        summary="Record the contract with an agency holding the final award (owner)",
    )
    async def record(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        data: JSONBody[ContractRecord],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        user = await load_viewer(request, session)
        contract = await service.record_contract(
            session,
            owner=user,
            notice_id=notice_id,
            agency_id=data.agency_id,
            data=data,
            settings=request.app.state.settings,
        )
        return await _shape(session, contract, user)

    # 404: agency_id names no agency.
    @get(
        "/contracts",
        responses=problems(404),
        summary="Contracts, newest first; filter by agency and status; cursor pagination",
    )
    async def list(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        agency_id: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
    ) -> dict[str, Any]:
        viewer = await optional_viewer(request, session)
        contracts, next_cursor = await queries.list_contracts(
            session, agency_id=agency_id, status=status, cursor=cursor, limit=check_limit(limit)
        )
        return {
            "items": [contract_public(v, viewer) for v in await queries.views(session, contracts)],
            "next_cursor": next_cursor,
        }

    @get(
        "/contracts/{contract_id:str}",
        summary="One contract with its milestones (public; notes and files for the parties only)",
    )
    async def detail(
        self,
        request: Request[Any, Any, Any],
        contract_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        return await _shape(
            session, await queries.get_contract(session, contract_id), await optional_viewer(request, session)
        )

    @post(
        "/contracts/{contract_id:str}/confirm",
        status_code=200,
        guards=[requires_role(Role.agency)],
        summary="The agency confirms: in service (服务中)",
    )
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        contract_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        user = await load_viewer(request, session)
        return await _shape(session, await service.confirm(session, user=user, contract_id=contract_id), user)

    @post(
        "/contracts/{contract_id:str}/decline",
        status_code=200,
        guards=[requires_role(Role.agency)],
        summary="The agency declines to sign; the next alternate takes the award. With terms_mismatch: the terms do not follow the award, a supervisor decides",
    )
    async def decline(
        self,
        request: Request[Any, Any, Any],
        contract_id: FromPath[str],
        data: JSONBody[ContractDeclineInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        user = await load_viewer(request, session)
        contract = await service.decline_contract(
            session,
            user=user,
            contract_id=contract_id,
            reason=data.reason,
            settings=request.app.state.settings,
            terms_mismatch=data.terms_mismatch,
        )
        return await _shape(session, contract, user)

    @post(
        "/contracts/{contract_id:str}/dispute/decision",
        status_code=200,
        guards=[requires_role(Role.supervisor)],
        summary="A supervisor decides a contract declined because its terms do not follow the award",
    )
    async def decide_dispute(
        self,
        request: Request[Any, Any, Any],
        contract_id: FromPath[str],
        data: JSONBody[DisputeDecisionInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        user = await load_viewer(request, session)
        contract = await service.decide_dispute(
            session,
            user=user,
            contract_id=contract_id,
            decision=data.decision.value,
            reason=data.reason,
            settings=request.app.state.settings,
        )
        return await _shape(session, contract, user)

    @post(
        "/contracts/{contract_id:str}/milestones/{position:int}/submit",
        status_code=200,
        guards=[requires_role(Role.agency)],
        summary="Hand in a deliverable (PDF, PNG or JPEG, 10 MB) with a note",
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        contract_id: FromPath[str],
        position: FromPath[int],
        data: MultipartBody[DeliverableUpload],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        user = await load_viewer(request, session)
        content = await data.file.read(MAX_DOCUMENT_BYTES + 1)
        await service.submit_milestone(
            session,
            user=user,
            contract_id=contract_id,
            position=position,
            filename=data.file.filename or "",
            content=content,
            note=data.note,
        )
        return await _shape(session, await queries.get_contract(session, contract_id), user)

    @post(
        "/contracts/{contract_id:str}/milestones/{position:int}/accept",
        status_code=200,
        guards=[requires_role(Role.owner)],
        summary="The owner accepts a deliverable; the last one completes the contract",
    )
    async def accept(
        self,
        request: Request[Any, Any, Any],
        contract_id: FromPath[str],
        position: FromPath[int],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        user = await load_viewer(request, session)
        await service.accept_milestone(session, user=user, contract_id=contract_id, position=position)
        return await _shape(session, await queries.get_contract(session, contract_id), user)

    @post(
        "/contracts/{contract_id:str}/milestones/{position:int}/return",
        status_code=200,
        guards=[requires_role(Role.owner)],
        summary="The owner returns a deliverable with reasons",
    )
    async def give_back(
        self,
        request: Request[Any, Any, Any],
        contract_id: FromPath[str],
        position: FromPath[int],
        data: JSONBody[ReturnInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        user = await load_viewer(request, session)
        await service.return_milestone(
            session, user=user, contract_id=contract_id, position=position, reason=data.reason
        )
        return await _shape(session, await queries.get_contract(session, contract_id), user)

    @post(
        "/contracts/{contract_id:str}/stop",
        status_code=200,
        guards=[requires_role(Role.owner)],
        summary="The owner stops a contract in service (服务中止) with a published reason",
    )
    async def stop(
        self,
        request: Request[Any, Any, Any],
        contract_id: FromPath[str],
        data: JSONBody[StopInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        user = await load_viewer(request, session)
        return await _shape(
            session,
            await service.stop_contract(session, user=user, contract_id=contract_id, reason=data.reason),
            user,
        )

    @get(
        "/contracts/{contract_id:str}/milestones/{position:int}/deliverable",
        guards=[requires_login],
        summary="The latest deliverable (owner, agency, admins, supervisors)",
    )
    async def deliverable(
        self,
        request: Request[Any, Any, Any],
        contract_id: FromPath[str],
        position: FromPath[int],
        session: NamedDependency[AsyncSession],
    ) -> Stream:
        viewer = await load_viewer(request, session)
        d, stored = await service.read_deliverable(
            session, viewer=viewer, contract_id=contract_id, position=position
        )
        return deliverable_file(request, d, stored)


def deliverable_file(request: Request[Any, Any, Any], d: Any, stored: Any) -> Stream:
    return download(request.app.state.db, stored, filename=d.filename, content_type=d.content_type)
