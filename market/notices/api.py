"""Notices over JSON (api-v1.md), and owner organisations and projects. (Bids: market/bids/api.py.)"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import Role
from market.accounts.session import load_viewer, optional_viewer
from market.core.errors import NotFound
from market.core.i18n import N_
from market.core.pagination import check_limit
from market.core.params import OptionalBigInt
from market.halls import service as halls_service
from market.notices import orgs, service
from market.notices.models import (
    CancelDecision,
    CancelInput,
    NoticeAmend,
    NoticeCreate,
    NoticeStatus,
    OrgCreate,
    OrgHallChange,
    ProjectCreate,
)
from market.notices.present import notice_public, notice_public_row
from market.security.auth import requires_role


class OwnerApi(Controller):
    path = "/api/v1/owners"
    tags = ["owners"]
    guards = [requires_role(Role.owner)]

    @post("/org", status_code=201, summary="Register the organisation (业主单位) this owner account acts for")
    async def create_org(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[OrgCreate],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        org = await orgs.create_org(session, user=await load_viewer(request, session), data=data)
        return {
            "id": org.public_id,
            "name": org.name,
            "credit_code": org.credit_code,
            "region": org.region,
            "hall": org.hall,
            "contact_phone": org.contact_phone,
        }

    @get("/org", summary="The caller's organisation")
    async def org(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> dict[str, Any]:
        org = await orgs.org_of(session, await load_viewer(request, session))
        if org is None:
            raise NotFound(N_("Register your organisation first."))
        return {
            "id": org.public_id,
            "name": org.name,
            "credit_code": org.credit_code,
            "region": org.region,
            "hall": org.hall,
            "contact_phone": org.contact_phone,
        }

    @post("/projects", status_code=201, summary="Register a project (投资项目统一代码 required)")
    async def create_project(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ProjectCreate],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        project = await orgs.create_project(session, user=await load_viewer(request, session), data=data)
        return {"id": project.public_id, "name": project.name, "code": project.code}

    @get("/projects", summary="The caller's organisation's projects")
    async def projects(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> list[dict[str, Any]]:
        return [
            {"id": p.public_id, "name": p.name, "code": p.code}
            for p in await orgs.projects_of(session, await load_viewer(request, session))
        ]


class OwnerHallApi(Controller):
    path = "/api/v1/owners"
    tags = ["owners"]
    guards = [requires_role(Role.admin)]

    @post(
        "/{org_id:str}/hall",
        status_code=200,
        summary="Move an owner organisation to another hall of its region (admins reaching both halls)",
    )
    async def change_hall(
        self,
        request: Request[Any, Any, Any],
        org_id: FromPath[str],
        data: JSONBody[OrgHallChange],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        org = await orgs.change_org_hall(
            session,
            actor=await load_viewer(request, session),
            org_id=org_id,
            hall=data.hall,
            reason=data.reason,
        )
        return {"id": org.public_id, "name": org.name, "region": org.region, "hall": org.hall}


class NoticeApi(Controller):
    path = "/api/v1/notices"
    tags = ["notices"]

    async def _shape(self, session: AsyncSession, notice: Any) -> dict[str, Any]:
        return (await self._shapes(session, [notice]))[0]

    async def _shapes(self, session: AsyncSession, notices: list[Any]) -> list[dict[str, Any]]:
        now = await service.db_now(session)
        return [notice_public(v, now=now) for v in await service.views(session, notices)]

    @post("/", status_code=201, guards=[requires_role(Role.owner)], summary="Create a draft notice")
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[NoticeCreate],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        notice = await service.create_notice(session, user=await load_viewer(request, session), data=data)
        return await self._shape(session, notice)

    @get("/", summary="Published notices, newest first; filters and cursor pagination")
    async def list(
        self,
        reader: NamedDependency[Any],
        q: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        method: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        budget_min: FromQuery[OptionalBigInt] = None,
        budget_max: FromQuery[OptionalBigInt] = None,
        hall: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
    ) -> dict[str, Any]:
        filters = service.check_filters(
            q=q,
            category=category,
            region=region,
            method=method,
            status=status,
            budget_min=budget_min,
            budget_max=budget_max,
            hall_codes=await halls_service.hall_filter(reader, hall),
        )
        rows, next_cursor = await service.public_notices(
            reader, filters, cursor=cursor, limit=check_limit(limit)
        )
        return {"items": [notice_public_row(r) for r in rows], "next_cursor": next_cursor}

    @get("/mine", guards=[requires_role(Role.owner)], summary="The caller's notices, drafts included")
    async def mine(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
    ) -> dict[str, Any]:
        owner = await load_viewer(request, session)
        notices, next_cursor = await service.list_notices(
            session, owner=owner, status=status, cursor=cursor, limit=check_limit(limit)
        )
        return {"items": await self._shapes(session, notices), "next_cursor": next_cursor}

    @get("/{notice_id:str}", summary="One notice (a draft only for its owner); never any bid")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        notice = await service.visible_notice(session, notice_id, await optional_viewer(request, session))
        return await self._shape(session, notice)

    @get("/{notice_id:str}/terms", summary="The canonical JSON whose SHA-256 is terms_sha256")
    async def terms(
        self, notice_id: FromPath[str], session: NamedDependency[AsyncSession]
    ) -> Response[bytes]:
        notice = await service.get_notice(session, notice_id)
        if notice.status == NoticeStatus.draft or notice.terms is None:
            raise NotFound(N_("No such notice."))  # a draft is indistinguishable from no notice
        return Response(
            notice.terms, media_type="application/json", headers={"Cache-Control": "public, max-age=60"}
        )

    @put("/{notice_id:str}", guards=[requires_role(Role.owner)], summary="Edit a draft")
    async def update(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        data: JSONBody[NoticeCreate],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        notice = await service.update_draft(
            session, user=await load_viewer(request, session), notice_id=notice_id, data=data
        )
        return await self._shape(session, notice)

    @delete("/{notice_id:str}", status_code=204, guards=[requires_role(Role.owner)], summary="Delete a draft")
    async def remove(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> None:
        await service.delete_draft(session, user=await load_viewer(request, session), notice_id=notice_id)

    @post(
        "/{notice_id:str}/publish",
        status_code=200,
        guards=[requires_role(Role.owner)],
        summary="Publish: commit to the secret, freeze the terms (MSP/1 step 1)",
    )
    async def publish(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        state = request.app.state
        notice = await service.publish(
            session,
            user=await load_viewer(request, session),
            notice_id=notice_id,
            settings=state.settings,
            sealer=state.sealer,
        )
        return await self._shape(session, notice)

    @post(
        "/{notice_id:str}/amend",
        status_code=200,
        guards=[requires_role(Role.owner)],
        summary="Amend an open notice before its deadline (the deadline only moves later)",
    )
    async def amend(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        data: JSONBody[NoticeAmend],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        notice, changes = await service.amend(
            session,
            user=await load_viewer(request, session),
            notice_id=notice_id,
            data=data,
            settings=request.app.state.settings,
        )
        return {**await self._shape(session, notice), "changes": changes}

    @post(
        "/{notice_id:str}/cancel",
        status_code=202,
        guards=[requires_role(Role.owner)],
        summary="Ask to cancel an open notice, with a published reason; a supervisor consents or refuses (docs/fair-play.md)",
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        data: JSONBody[CancelInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        notice = await service.request_cancellation(
            session, user=await load_viewer(request, session), notice_id=notice_id, reason=data.reason
        )
        return await self._shape(session, notice)

    @post(
        "/{notice_id:str}/cancellation",
        status_code=200,
        guards=[requires_role(Role.supervisor)],
        summary="A supervisor's decision on an owner's pending cancellation: `{consent, reason}`",
    )
    async def decide_cancellation(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        data: JSONBody[CancelDecision],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        notice = await service.decide_cancellation(
            session,
            user=await load_viewer(request, session),
            notice_id=notice_id,
            consent=data.consent,
            reason=data.reason,
            sealer=request.app.state.sealer,
        )
        return await self._shape(session, notice)
