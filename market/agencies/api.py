"""Agencies over JSON (api-v1.md): the directory, onboarding, the review workflow,
qualifications and documents. (Categories and regions: market/reference/api.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import Role
from market.accounts.session import load_viewer, optional_viewer
from market.agencies import queries, service
from market.agencies.models import AgencyCreate, LinkInput, QualificationInput, ReviewInput, StatusChangeInput
from market.agencies.present import agency_public
from market.core.clock import today_in_china
from market.core.errors import FieldError, InvalidInput
from market.core.i18n import N_
from market.core.pagination import check_limit
from market.core.params import RowId
from market.files.responses import download
from market.ratings import service as ratings
from market.security.auth import requires_login, requires_role


@dataclass
class DocumentUpload:
    file: UploadFile
    kind: str = "licence"


class AgencyApi(Controller):
    path = "/api/v1/agencies"
    tags = ["agencies"]

    @post(
        "/",
        status_code=201,
        guards=[requires_role(Role.agency)],
        summary="Register the caller's agency (it waits for review)",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[AgencyCreate],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        owner = await load_viewer(request, session)
        agency = await service.submit(session, owner=owner, data=data, today=today_in_china())
        return agency_public(await queries.load_profile(session, agency, private=True), private=True)

    @get("/", summary="The public directory: approved agencies (or ?status=suspended|blacklisted)")
    async def list(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        q: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        level: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
    ) -> dict[str, Any]:
        profiles, next_cursor = await queries.directory(
            session,
            q=q,
            category=category,
            level=level,
            region=region,
            status=status,
            cursor=cursor,
            limit=check_limit(limit),
        )
        today = today_in_china()
        standings = await ratings.standings(
            session,
            [p.agency for p in profiles],
            today=today,
            contract_days=request.app.state.settings.contract_days,
        )
        return {
            "items": [
                agency_public(p, standing=standings.get(p.agency.id or 0), today=today) for p in profiles
            ],
            "next_cursor": next_cursor,
        }

    @get(
        "/mine", guards=[requires_role(Role.agency)], summary="The caller's own agency, with private details"
    )
    async def mine(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> dict[str, Any]:
        from market.core.errors import NotFound

        agency = await service.agency_of(session, await load_viewer(request, session))
        if agency is None:
            raise NotFound(N_("This account has not registered an agency yet."))
        return agency_public(await queries.load_profile(session, agency, private=True), private=True)

    @get("/{agency_id:str}", summary="One agency; contact details only for itself, admins and supervisors")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        agency = await service.get_agency(session, agency_id)
        viewer = await optional_viewer(request, session)
        private = service.may_see_private(viewer, agency)
        if agency.status not in [s.value for s in queries.PUBLIC_STATUSES] and not private:
            from market.core.errors import NotFound

            raise NotFound(N_("No such agency."))
        today = today_in_china()
        standing = await ratings.standing_of(
            session, agency, today=today, contract_days=request.app.state.settings.contract_days
        )
        return agency_public(
            await queries.load_profile(session, agency, private=private),
            private=private,
            standing=standing,
            today=today,
        )

    @post(
        "/{agency_id:str}/review",
        status_code=200,
        guards=[requires_role(Role.admin)],
        summary="Approve or reject a pending agency",
    )
    async def review(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        data: JSONBody[ReviewInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        if data.decision not in ("approve", "reject"):
            raise InvalidInput(
                N_("Unknown decision."), [FieldError("decision", N_("Choose approve or reject."))]
            )
        actor = await load_viewer(request, session)
        agency = await service.transition(
            session,
            agency_id=agency_id,
            actor=actor,
            action=data.decision,
            reason=data.reason,
            today=today_in_china(),
        )
        return {"id": agency.public_id, "status": agency.status}

    async def _change(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        agency_id: str,
        action: str,
        data: StatusChangeInput,
    ) -> dict[str, Any]:
        actor = await load_viewer(request, session)
        agency = await service.transition(
            session,
            agency_id=agency_id,
            actor=actor,
            action=action,
            reason=data.reason,
            until=data.until,
            today=today_in_china(),
        )
        return {
            "id": agency.public_id,
            "status": agency.status,
            "until": agency.status_until.isoformat() if agency.status_until else None,
        }

    @post(
        "/{agency_id:str}/links",
        status_code=201,
        guards=[requires_role(Role.admin)],
        summary="Link an agency to an owner organisation it is one party with: it can never bid on, or be named by, that organisation's notices",
    )
    async def link(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        data: JSONBody[LinkInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        link = await service.link_to_org(
            session,
            actor=await load_viewer(request, session),
            agency_id=agency_id,
            org_id=data.org_id,
            reason=data.reason,
        )
        return {"agency_id": agency_id, "org_id": data.org_id, "reason": link.reason, "log_seq": link.log_seq}

    @post(
        "/{agency_id:str}/suspend",
        status_code=200,
        guards=[requires_role(Role.admin, Role.supervisor)],
        summary="Suspend an approved agency (until a date, or open-ended); administrators and supervisors",
    )
    async def suspend(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        data: JSONBody[StatusChangeInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        return await self._change(request, session, agency_id, "suspend", data)

    @post(
        "/{agency_id:str}/reinstate",
        status_code=200,
        guards=[requires_role(Role.admin)],
        summary="Reinstate a suspended agency",
    )
    async def reinstate(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        data: JSONBody[StatusChangeInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        return await self._change(request, session, agency_id, "reinstate", data)

    @post(
        "/{agency_id:str}/blacklist",
        status_code=200,
        guards=[requires_role(Role.admin)],
        summary="Blacklist an agency (until a date, or open-ended)",
    )
    async def blacklist(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        data: JSONBody[StatusChangeInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        return await self._change(request, session, agency_id, "blacklist", data)

    @post(
        "/{agency_id:str}/lift-blacklist",
        status_code=200,
        guards=[requires_role(Role.admin)],
        summary="Take an agency off the blacklist",
    )
    async def lift_blacklist(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        data: JSONBody[StatusChangeInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        return await self._change(request, session, agency_id, "lift_blacklist", data)

    @post(
        "/mine/qualifications",
        status_code=201,
        guards=[requires_role(Role.agency)],
        summary="Add a qualification, or change one (`replaces`); it counts once approved",
    )
    async def add_qualification(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[QualificationInput],
        session: NamedDependency[AsyncSession],
        replaces: FromQuery[int | None] = None,
    ) -> dict[str, Any]:
        owner = await load_viewer(request, session)
        q = await service.add_qualification(
            session, owner=owner, data=data, replaces=replaces, today=today_in_china()
        )
        return {
            "id": q.id,
            "category": q.category,
            "level": q.level,
            "certificate_no": q.certificate_no,
            "valid_until": q.valid_until.isoformat(),
            "status": q.status,
        }

    @post(
        "/{agency_id:str}/qualifications/{qualification_id:int}/review",
        status_code=200,
        guards=[requires_role(Role.admin)],
        summary="Approve or reject a new or changed qualification",
    )
    async def review_qualification(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        qualification_id: FromPath[RowId],
        data: JSONBody[ReviewInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        actor = await load_viewer(request, session)
        q = await service.review_qualification(
            session,
            agency_id=agency_id,
            qualification_id=qualification_id,
            actor=actor,
            decision=data.decision,
            reason=data.reason,
        )
        return {"id": q.id, "status": q.status}

    @post(
        "/mine/documents",
        status_code=201,
        guards=[requires_role(Role.agency)],
        summary="Upload a PDF, PNG or JPEG document (10 MB at most)",
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        data: MultipartBody[DocumentUpload],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        owner = await load_viewer(request, session)
        content = await data.file.read(service.MAX_DOCUMENT_BYTES + 1)
        document = await service.add_document(
            session,
            owner=owner,
            kind=data.kind,
            filename=data.file.filename or "",
            content=content,
        )
        return {
            "id": document.id,
            "kind": document.kind,
            "filename": document.filename,
            "content_type": document.content_type,
            "size": document.size,
            "sha256": document.sha256,
        }

    @get(
        "/{agency_id:str}/documents/{document_id:int}",
        guards=[requires_login],
        summary="A document (the agency, admins and supervisors only)",
    )
    async def document(
        self,
        request: Request[Any, Any, Any],
        agency_id: FromPath[str],
        document_id: FromPath[RowId],
        session: NamedDependency[AsyncSession],
    ) -> Stream:
        viewer = await load_viewer(request, session)
        document, stored = await service.read_document(
            session, agency_id=agency_id, document_id=document_id, viewer=viewer
        )
        return download(
            request.app.state.db, stored, filename=document.filename, content_type=document.content_type
        )
