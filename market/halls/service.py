"""The halls' services: who in the tree is told (the supervisors a hall's business goes
to), the admins' changes to the tree (a development park, a hall's contact line), and the
tree as the pages and the API read it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from market.core.i18n import N_
from market.core.text import clean_name
from market.halls import queries, rules
from market.halls.models import Jurisdiction
from market.log import store as log
from market.notices.models import Notice, NoticeStatus
from market.protocol import entry_types
from market.stats import queries as stats_queries
from market.stats.rules import Figures


async def supervisors_for(session: AsyncSession, hall: str | None) -> list[AppUser]:
    """The active supervisors of ``hall``; where it has none, those of the nearest hall above
    that has some (a county without its own supervisors is watched by its prefecture's).
    A hall-less target (a draft) is the province's."""
    levels = rules.chain(hall or rules.PROVINCE)
    stmt = (
        sa.select(AppUser)
        .where(
            col(AppUser.role) == Role.supervisor.value,
            col(AppUser.is_active).is_(True),
            col(AppUser.jurisdiction).in_(levels),
        )
        .order_by(col(AppUser.id))
    )
    found = list((await session.execute(stmt)).scalars().all())
    for level in levels:
        here = [u for u in found if u.jurisdiction == level]
        if here:
            return here
    return []


OUTSIDE = N_("This is outside your jurisdiction.")


def require_reach(user: AppUser, code: str | None) -> None:
    """403 unless ``user``'s jurisdiction reaches ``code`` (a notice's or organisation's
    hall; None is the province's): the power map's one refusal for staff acting beside or
    above their level."""
    if not rules.reaches(user.jurisdiction, code):
        raise Forbidden(OUTSIDE)


# -- managing the tree (admins) ------------------------------------------------------------------

PARK_PARENT_KINDS = ("prefecture", "county")
HALL_CODE = re.compile(r"[0-9]{6}[0-9A-Z]{0,6}")  # the shape of any hall's code, checked before SQL


def may_manage(actor: AppUser | None, code: str | None) -> bool:
    """An active admin whose jurisdiction reaches ``code`` manages that hall (adds parks under
    it, sets its contact line)."""
    return (
        actor is not None
        and actor.is_active
        and actor.role == Role.admin.value
        and rules.reaches(actor.jurisdiction, code)
    )


def require_manage(actor: AppUser, code: str) -> None:
    if actor.role != Role.admin.value:
        raise Forbidden(N_("Only administrators manage halls."))
    if not may_manage(actor, code):
        raise Forbidden(OUTSIDE)


async def _known_hall(session: AsyncSession, code: str, at: str) -> Jurisdiction:
    code = (code or "").strip()
    hall = await queries.get_hall(session, code) if HALL_CODE.fullmatch(code) else None
    if hall is None:
        raise InvalidInput(N_("Unknown hall."), [FieldError(at, N_("Unknown hall: {code}."), {"code": code})])
    return hall


def _park_code_error(code: str, parent: str) -> FieldError | None:
    """Why ``code`` cannot name a new park under ``parent``, in words for the form (None: it can)."""
    if not code:
        return FieldError("code", N_("This field is required."))
    match = rules.PARK_CODE.fullmatch(code)
    if not match or len(code) > rules.MAX_CODE_LENGTH:
        return FieldError(
            "code",
            N_(
                "A park code is its parent's six digits and a suffix of 2 to 6 capital letters or digits starting with a letter, such as {example}."
            ),
            {"example": f"{parent}KF"},
        )
    if match.group(1) != parent:
        return FieldError(
            "code", N_("A park code starts with its parent's code {parent}."), {"parent": parent}
        )
    return None


def _name(values: dict[str, str], name: str, limit: int) -> str:
    try:
        text = " ".join(clean_name(values.get(name) or "").split())
    except ValueError as exc:
        raise InvalidInput(N_("Check the park's details."), [FieldError(name, str(exc))]) from exc
    if not text:
        raise InvalidInput(N_("Check the park's details."), [FieldError(name, N_("This field is required."))])
    if len(text) > limit:
        raise InvalidInput(
            N_("Check the park's details."),
            [FieldError(name, N_("Too long: at most {max_length} characters."), {"max_length": limit})],
        )
    return text


async def add_park(
    session: AsyncSession,
    *,
    actor: AppUser,
    parent: str,
    code: str,
    name_zh: str,
    name_en: str,
    reason: str | None = None,
) -> Jurisdiction:
    """A development park (开发园区) under a prefecture or county the admin reaches; logged
    as hall.added. Its region is its parent's; it starts without a contact line."""
    if actor.role != Role.admin.value:
        raise Forbidden(N_("Only administrators manage halls."))
    up = await _known_hall(session, parent, "parent")
    require_manage(actor, up.code)
    if up.kind not in PARK_PARENT_KINDS:
        raise InvalidInput(
            N_("Check the park's details."),
            [FieldError("parent", N_("A development park sits under a prefecture or a county."))],
        )
    code = (code or "").strip().upper()
    problem = _park_code_error(code, up.code)
    if problem is not None:
        raise InvalidInput(N_("Check the park's details."), [problem])
    code = rules.check_park_code(code, up.code)  # the pure rule, the one the tree is read by
    names = {"name_zh": name_zh, "name_en": name_en}
    zh, en = _name(names, "name_zh", 100), _name(names, "name_en", 160)
    reason_text = _name({"reason": reason or "-"}, "reason", 500) if reason and reason.strip() else ""
    if len(reason_text) > 500:
        raise InvalidInput(
            N_("Check the park's details."),
            [FieldError("reason", N_("Too long: at most {max_length} characters."), {"max_length": 500})],
        )
    if await queries.get_hall(session, code) is not None:
        raise Conflict(
            N_("A hall with this code already exists."),
            [FieldError("code", N_("A hall with code {code} already exists."), {"code": code})],
        )
    hall = Jurisdiction(code=code, parent=up.code, kind="park", name_zh=zh, name_en=en, region=up.region)
    session.add(hall)
    await session.flush()
    fields: dict[str, Any] = {
        "code": code,
        "parent": up.code,
        "name_zh": zh,
        "name_en": en,
        "by": actor.public_id,
    }
    if reason_text:
        fields["reason"] = reason_text
    await log.append(session, type=entry_types.HALL_ADDED, fields=fields)
    return hall


PHONE = re.compile(r"[0-9][0-9 ()+\-]{4,38}[0-9]")


async def set_contact(session: AsyncSession, *, actor: AppUser, code: str, phone: str) -> Jurisdiction:
    """The staff contact line (咨询电话) shown on the hall's public page; empty clears it.

    Not logged: it is how to reach the hall's staff, a display detail like a page's text,
    which gives and takes no power and touches no notice (the log holds decisions and the
    facts they rest on). Who may set it is the tree's rule, as for adding a park."""
    hall = await _known_hall(session, code, "hall")
    require_manage(actor, hall.code)
    phone = " ".join((phone or "").split())
    if phone and not PHONE.fullmatch(phone):
        raise InvalidInput(
            N_("Check the contact line."),
            [FieldError("phone", N_("Enter a telephone number such as 0871-12345678."))],
        )
    hall.contact_phone = phone
    await session.flush()
    return hall


# -- reading the tree ----------------------------------------------------------------------------


@dataclass
class Node:
    hall: Jurisdiction
    children: list[Node] = field(default_factory=list)


def tree(halls: list[Jurisdiction], root: str = rules.PROVINCE) -> Node | None:
    """The halls as a tree from ``root`` (children in code order; a park after the counties)."""
    nodes = {h.code: Node(h) for h in halls}
    for h in sorted(halls, key=lambda h: (h.kind == "park", h.code)):
        if h.parent is not None and h.parent in nodes:
            nodes[h.parent].children.append(nodes[h.code])
    return nodes.get(root)


@dataclass(frozen=True)
class Scope:
    """A list's ``hall`` filter, checked: the hall and the codes it reaches (None: all)."""

    code: str
    name_zh: str
    name_en: str
    codes: list[str] | None


async def hall_scope(reader: Any, hall: str | None) -> Scope | None:
    """A public list's ``hall`` filter, on a reader connection (asyncpg): None when none is
    given; else the hall and the codes it reaches, for ``hall = ANY(...)`` (None for the
    province: no filter). An unknown code is refused beside the field (422)."""
    code = (hall or "").strip()
    if not code:
        return None
    rows = {str(r[0]): r for r in await reader.fetch("SELECT code, name_zh, name_en FROM jurisdiction")}
    if code not in rows:
        raise InvalidInput(
            N_("Unknown hall."), [FieldError("hall", N_("Unknown hall: {code}."), {"code": code})]
        )
    codes = None if code == rules.PROVINCE else rules.under(code, list(rows))
    return Scope(code, str(rows[code][1]), str(rows[code][2]), codes)


async def hall_filter(reader: Any, hall: str | None) -> list[str] | None:
    """The codes a list's ``hall`` filter reaches, or None for no filter (see hall_scope)."""
    scope = await hall_scope(reader, hall)
    return scope.codes if scope is not None else None


OPEN_STATUSES = (NoticeStatus.open.value,)
RESULT_STATUSES = (NoticeStatus.selected.value, NoticeStatus.awarded.value, NoticeStatus.failed.value)
PAGE_ROWS = 10


@dataclass
class Overview:
    """What a hall's public page (and its API) shows."""

    hall: Jurisdiction
    node: Node
    chain: list[Jurisdiction]  # from the province down to the hall's parent
    open_notices: list[Notice]
    results: list[Notice]
    figures: Figures
    figures_as_of: datetime | None = None  # the statistics' summary's time (None: not computed yet)


async def overview(session: AsyncSession, code: str) -> Overview:
    """A hall's page: its open notices and latest results, and its figures, each rolled up
    over every hall below it; its sub-halls; its contact line. 404 for an unknown code."""
    halls = await queries.all_halls(session)
    node = tree(halls, code)
    if node is None:
        raise NotFound(N_("No such hall."))
    by_code = {h.code: h for h in halls}
    codes = None if code == rules.PROVINCE else rules.under(code, list(by_code))
    above = [by_code[c] for c in reversed(rules.chain(code)[1:]) if c in by_code]
    figures, as_of = await stats_queries.hall_totals(session, codes)
    return Overview(
        hall=node.hall,
        node=node,
        chain=above,
        open_notices=await queries.hall_notices(session, codes, statuses=OPEN_STATUSES, limit=PAGE_ROWS),
        results=await queries.hall_notices(session, codes, statuses=RESULT_STATUSES, limit=PAGE_ROWS),
        figures=figures,
        figures_as_of=as_of,
    )
