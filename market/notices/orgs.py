"""Owner organisations (业主单位) and their projects: registration in a hall of the
organisation's region, the staff's change of an organisation's hall (logged; its published
notices keep theirs), and the projects notices are posted under."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.agencies import rules as agency_rules
from market.agencies import service as agencies
from market.core.clock import today_in_china
from market.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from market.core.i18n import N_
from market.core.ids import next_public_id
from market.halls import queries as hall_queries
from market.halls import rules as halls_rules
from market.halls import service as halls
from market.log import store as log
from market.notices import rules
from market.notices.models import OrgCreate, OwnerOrg, Project, ProjectCreate
from market.protocol import entry_types

ORG_SEQUENCE = "owner_org_public_seq"
PROJECT_SEQUENCE = "project_public_seq"

NOT_A_CHOICE = N_("Choose your region's own hall or a development park inside it.")


def require_owner_account(user: AppUser) -> None:
    if user.role != Role.owner:
        raise Forbidden(N_("Only project owner accounts can do this."))


async def org_of(session: AsyncSession, user: AppUser) -> OwnerOrg | None:
    return (
        await session.execute(sa.select(OwnerOrg).where(col(OwnerOrg.created_by) == user.id))
    ).scalar_one_or_none()


async def hall_choices(session: AsyncSession, region: str) -> list[str]:
    """The halls an organisation registered in ``region`` may belong to: the region's own
    hall and the development parks inside it (the first is the default)."""
    return halls_rules.hall_choices(region, await hall_queries.hall_codes(session))


async def _check_hall(session: AsyncSession, region: str, hall: str | None, *, at: str = "hall") -> str:
    choices = await hall_choices(session, region)
    code = (hall or "").strip()
    if not code:
        return choices[0]
    if code not in choices:
        raise InvalidInput(N_("Check the organisation's hall."), [FieldError(at, NOT_A_CHOICE)])
    return code


async def create_org(session: AsyncSession, *, user: AppUser, data: OrgCreate) -> OwnerOrg:
    require_owner_account(user)
    if await org_of(session, user) is not None:
        raise Conflict(N_("This account already acts for an organisation."))
    credit_code = agency_rules.check_credit_code(data.credit_code)
    region = agency_rules.check_region(data.region)
    agencies.check_publishable(data.name, "name")
    hall = await _check_hall(session, region, data.hall)
    if (
        await session.execute(sa.select(col(OwnerOrg.id)).where(col(OwnerOrg.credit_code) == credit_code))
    ).first():
        raise Conflict(
            N_("An organisation with this credit code is already registered."),
            [FieldError("credit_code", N_("An organisation with this credit code is already registered."))],
        )
    assert user.id is not None
    org = OwnerOrg(
        public_id=await next_public_id(session, prefix="OW", sequence=ORG_SEQUENCE),
        name=data.name.strip(),
        credit_code=credit_code,
        region=region,
        hall=hall,
        created_by=user.id,
        contact_phone=data.contact_phone.strip(),
    )
    session.add(org)
    await session.flush()
    await log.append(
        session,
        type=entry_types.OWNER_REGISTERED,
        fields={"owner_id": org.public_id, "name": org.name, "credit_code": credit_code, "region": region},
    )
    return org


def may_change_hall(actor: AppUser | None, org: OwnerOrg) -> bool:
    """An active admin reaching the organisation's hall may move it (to a hall it also reaches)."""
    return (
        actor is not None
        and actor.is_active
        and actor.role == Role.admin.value
        and halls_rules.reaches(actor.jurisdiction, org.hall)
    )


async def change_org_hall(
    session: AsyncSession, *, actor: AppUser, org_id: str, hall: str, reason: str
) -> OwnerOrg:
    """Staff move an organisation to another hall of its region (its own or a park inside
    it): an admin reaching both the old and the new hall; logged as owner.hall_changed.
    Its published notices keep the hall they were published in."""
    if actor.role != Role.admin.value or not actor.is_active:
        raise Forbidden(N_("Only administrators change an organisation's hall."))
    org = (
        await session.execute(
            sa.select(OwnerOrg).where(col(OwnerOrg.public_id) == (org_id or "").strip()).with_for_update()
        )
    ).scalar_one_or_none()
    if org is None:
        raise NotFound(N_("No such organisation."))
    halls.require_reach(actor, org.hall)
    code = (hall or "").strip()
    if not code:
        raise InvalidInput(
            N_("Check the organisation's hall."), [FieldError("hall", N_("This field is required."))]
        )
    if code not in await hall_choices(session, org.region):
        raise InvalidInput(N_("Check the organisation's hall."), [FieldError("hall", NOT_A_CHOICE)])
    halls.require_reach(actor, code)
    reason_text = " ".join((reason or "").split())
    if not reason_text:
        raise InvalidInput(
            N_("Check the organisation's hall."), [FieldError("reason", N_("This field is required."))]
        )
    if len(reason_text) > 500:
        raise InvalidInput(
            N_("Check the organisation's hall."),
            [FieldError("reason", N_("Too long: at most {max_length} characters."), {"max_length": 500})],
        )
    reason_text = agencies.check_publishable(reason_text, "reason")
    if code == org.hall:
        raise Conflict(
            N_("The organisation already belongs to this hall."),
            [FieldError("hall", N_("The organisation already belongs to this hall."))],
        )
    fields: dict[str, Any] = {
        "org_id": org.public_id,
        "from": org.hall,
        "to": code,
        "by": actor.public_id,
        "reason": reason_text,
    }
    org.hall = code
    await session.flush()
    await log.append(session, type=entry_types.OWNER_HALL_CHANGED, fields=fields)
    return org


async def create_project(session: AsyncSession, *, user: AppUser, data: ProjectCreate) -> Project:
    org = await org_of(session, user)
    if org is None:
        raise Conflict(N_("Register your organisation first."))
    code = rules.check_project_code(data.code, today=today_in_china())
    if (await session.execute(sa.select(col(Project.id)).where(col(Project.code) == code))).first():
        raise Conflict(
            N_("A project with this code is already registered."),
            [FieldError("code", N_("A project with this code is already registered."))],
        )
    assert org.id is not None
    project = Project(
        public_id=await next_public_id(session, prefix="PJ", sequence=PROJECT_SEQUENCE),
        org_id=org.id,
        name=data.name.strip(),
        code=code,
    )
    session.add(project)
    await session.flush()
    return project


async def projects_of(session: AsyncSession, user: AppUser) -> list[Project]:
    org = await org_of(session, user)
    if org is None:
        return []
    return list(
        (
            await session.execute(
                sa.select(Project).where(col(Project.org_id) == org.id).order_by(col(Project.id))
            )
        )
        .scalars()
        .all()
    )
