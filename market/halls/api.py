"""Halls over JSON: the tree, one hall's page, and the admins' changes (a development
park, a hall's contact line)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import Role
from market.accounts.session import load_viewer
from market.core.errors import NotFound
from market.core.i18n import N_
from market.halls import queries, service
from market.halls.models import ContactUpdate, ParkCreate
from market.halls.present import hall_public, overview_public, tree_public
from market.security.auth import requires_role


class HallApi(Controller):
    path = "/api/v1/halls"
    tags = ["halls"]

    @get("/", summary="The tree of halls (交易大厅): the province, prefectures, counties and parks")
    async def tree(self, session: NamedDependency[AsyncSession]) -> dict[str, Any]:
        root = service.tree(await queries.all_halls(session))
        if root is None:  # pragma: no cover - the migration seeds the province
            raise NotFound(N_("No such hall."))
        return tree_public(root)

    @get("/{code:str}", summary="One hall: open notices, latest results and statistics, rolled up")
    async def detail(self, code: FromPath[str], session: NamedDependency[AsyncSession]) -> dict[str, Any]:
        return overview_public(await service.overview(session, code))

    @post(
        "/",
        status_code=201,
        guards=[requires_role(Role.admin)],
        summary="Add a development park (开发园区) under a prefecture or county the admin reaches",
    )
    async def add_park(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ParkCreate],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        hall = await service.add_park(
            session,
            actor=await load_viewer(request, session),
            parent=data.parent,
            code=data.code,
            name_zh=data.name_zh,
            name_en=data.name_en,
            reason=data.reason,
        )
        return hall_public(hall)

    @put(
        "/{code:str}/contact",
        guards=[requires_role(Role.admin)],
        summary="Set a hall's staff contact line (咨询电话); empty clears it",
    )
    async def set_contact(
        self,
        request: Request[Any, Any, Any],
        code: FromPath[str],
        data: JSONBody[ContactUpdate],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        hall = await service.set_contact(
            session, actor=await load_viewer(request, session), code=code, phone=data.phone
        )
        return hall_public(hall)
