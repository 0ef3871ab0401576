"""Each role's dashboard: the work waiting for the viewer (and what waits on others), by
group, the most urgent piece first. Reads only; the rules of "what next, by when" are in
``dashboards.rules``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.agencies import queries as agency_queries
from market.agencies import rules as agency_rules
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.contracts import queries as contracts
from market.core.clock import today_in_china
from market.core.config import Settings
from market.dashboards import queries, rules
from market.dashboards.rules import GROUP_LIMIT, Group, Item
from market.halls import queries as halls_queries
from market.halls import rules as halls_rules
from market.notices import orgs
from market.notices.models import Notice
from market.notices.service import db_now, requirements, views
from market.notify import queries as notify_queries


@dataclass
class Section:
    group: Group
    items: list[Item]
    more: bool = False  # the group has more than it shows


@dataclass
class Dashboard:
    role: str
    sections: list[Section]
    top: Item | None
    now: datetime
    # What a person with nothing to do yet can start (an empty state's next step).
    setup: str | None = None  # "org", "agency", "agency_pending", "agency_not_approved"
    agency: Agency | None = None
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(s.items for s in self.sections)


def _section(group: Group, items: list[Item]) -> Section:
    return Section(group, rules.ordered(items)[:GROUP_LIMIT], more=len(items) > GROUP_LIMIT)


def _assemble(role: str, groups: dict[Group, list[Item]], now: datetime, **kw: object) -> Dashboard:
    sections = [_section(g, groups.get(g, [])) for g in rules.ROLE_GROUPS[role]]
    everything = [i for s in sections for i in s.items]
    return Dashboard(role=role, sections=sections, top=rules.first(everything), now=now, **kw)  # type: ignore[arg-type]


async def _owner(session: AsyncSession, user: AppUser, settings: Settings, now: datetime) -> Dashboard:
    assert user.id is not None
    today = today_in_china()
    groups: dict[Group, list[Item]] = {}
    # Enough rows for every notice group to fill up in the usual case; each group still
    # shows at most GROUP_LIMIT.
    for row in await queries.owner_notices(session, user.id, limit=5 * queries.LIMIT):
        item = rules.owner_notice(row, now)
        groups.setdefault(item.group, []).append(item)
    unsigned = await contracts.unsigned_awards(session, settings, today, owner=user)
    groups[Group.contract] = [
        rules.owner_unsigned(
            {
                "notice_public_id": u.notice.public_id,
                "title": u.notice.title,
                "agency_name": u.agency_name,
                "sign_by": u.sign_by,
                "proposed_id": u.proposed.public_id if u.proposed else None,
            },
            today,
        )
        for u in unsigned[: queries.LIMIT]
    ]
    groups[Group.accept] = [
        rules.owner_to_accept(r, today) for r in await queries.owner_to_accept(session, user.id)
    ]
    groups[Group.rate] = [rules.owner_to_rate(r) for r in await queries.owner_to_rate(session, user.id)]
    setup = None
    if await orgs.org_of(session, user) is None:
        setup = "org"
    return _assemble("owner", groups, now, setup=setup)


async def _open_to(session: AsyncSession, agency: Agency) -> list[Item]:
    """Open notices the agency may bid on and has not: the eligibility rule over a bounded
    list of open notices, soonest deadline first."""
    assert agency.id is not None
    rows = await queries.open_not_bid(session, agency.id, agency.public_id, limit=5 * queries.LIMIT)
    if not rows:
        return []
    found = {n.id: n for n in await _notices(session, [int(r["id"]) for r in rows])}
    profile = await agency_queries.load_profile(session, agency)
    facts, today = profile.facts(), today_in_china()
    eligible = {
        v.notice.id
        for v in await views(session, list(found.values()))
        if agency_rules.eligibility(facts, requirements(v), today)
    }
    return [rules.agency_open(r) for r in rows if r["id"] in eligible][: queries.LIMIT]


async def _notices(session: AsyncSession, ids: list[int]) -> list[Notice]:
    return list((await session.execute(sa.select(Notice).where(col(Notice.id).in_(ids)))).scalars().all())


async def _agency(session: AsyncSession, user: AppUser, settings: Settings, now: datetime) -> Dashboard:
    agency = await agencies.agency_of(session, user)
    if agency is None:
        return _assemble("agency", {}, now, setup="agency")
    assert agency.id is not None
    today = today_in_china()
    groups: dict[Group, list[Item]] = {}
    awards = [
        rules.agency_award(r, today) for r in await queries.agency_awards_in_publicity(session, agency.id)
    ]
    for u in (await contracts.unsigned_awards(session, settings, today, agency=agency))[: queries.LIMIT]:
        awards.append(
            rules.agency_award(
                {
                    "notice_public_id": u.notice.public_id,
                    "title": u.notice.title,
                    "notice_status": u.notice.status,
                    "sign_by": u.sign_by,
                    "proposed_id": u.proposed.public_id if u.proposed else None,
                },
                today,
            )
        )
    groups[Group.awards] = awards
    groups[Group.milestones] = [
        rules.agency_milestone(r, today) for r in await queries.agency_milestones(session, agency.id)
    ]
    if agency.status == "approved":
        groups[Group.open_to_me] = await _open_to(session, agency)
    groups[Group.bids] = [rules.agency_bid(r) for r in await queries.agency_bids(session, agency.id)]
    setup = None if agency.status == "approved" else "agency_not_approved"
    return _assemble("agency", groups, now, setup=setup, agency=agency)


async def _supervisor(session: AsyncSession, user: AppUser, settings: Settings, now: datetime) -> Dashboard:
    assert user.id is not None
    codes = await halls_queries.codes_under(session, user.jurisdiction) if user.jurisdiction else []
    today = today_in_china()
    groups: dict[Group, list[Item]] = {
        Group.objections: [
            rules.supervisor_objection(
                r, days=settings.objection_escalation_days, province=halls_rules.PROVINCE
            )
            for r in await queries.pending_objections(session, codes)
        ],
        Group.disputes: [rules.supervisor_dispute(r) for r in await queries.disputes(session, codes)],
        Group.overdue: [
            rules.supervisor_overdue(r, today) for r in await queries.overdue_milestones(session, codes)
        ],
    }
    groups[Group.draws] = [rules.coming_draw(r) for r in await queries.coming_draws(session, codes)]
    unread = await queries.unread_alerts(session, user.id)
    if unread:
        groups[Group.alerts] = [rules.alerts_item(unread)]
    return _assemble("supervisor", groups, now, extra={"alerts": unread})


async def _admin(session: AsyncSession, user: AppUser, now: datetime) -> Dashboard:
    assert user.id is not None
    # Filtered by reach in SQL: a county's agencies are found however many wait elsewhere.
    pending = await queries.pending_agencies(session, prefix=rules.agency_reach(user.jurisdiction))
    codes = await halls_queries.codes_under(session, user.jurisdiction) if user.jurisdiction else []
    today = today_in_china()
    groups: dict[Group, list[Item]] = {
        Group.review: [rules.review_agency(r) for r in pending[: queries.LIMIT]],
        # The hall's late work, to watch (supervisors follow it up; the admin keeps an eye).
        Group.overdue: [
            rules.supervisor_overdue(r, today) for r in await queries.overdue_milestones(session, codes)
        ],
    }
    groups[Group.draws] = [rules.coming_draw(r) for r in await queries.coming_draws(session, codes)]
    # The e-mail queue is the province's to watch (market/notify/service.may_manage_mail).
    failed = (
        await notify_queries.failed_rows(session, queries.LIMIT)
        if user.jurisdiction == halls_rules.PROVINCE
        else []
    )
    if failed:
        groups[Group.mail] = [rules.failed_mail(min(len(failed), GROUP_LIMIT), len(failed) > GROUP_LIMIT)]
    unread = await queries.unread_alerts(session, user.id)
    if unread:
        groups[Group.alerts] = [rules.alerts_item(unread)]
    return _assemble("admin", groups, now, extra={"alerts": unread})


async def dashboard(session: AsyncSession, *, user: AppUser, settings: Settings) -> Dashboard:
    """The viewer's dashboard, by role."""
    now = await db_now(session)
    if user.role == Role.owner:
        return await _owner(session, user, settings, now)
    if user.role == Role.agency:
        return await _agency(session, user, settings, now)
    if user.role == Role.supervisor:
        return await _supervisor(session, user, settings, now)
    return await _admin(session, user, now)


async def standing_bids(session: AsyncSession, agency: Agency, notices: list[Notice]) -> dict[int, str]:
    """Notice id -> the agency's standing bid on it, for the notices given."""
    assert agency.id is not None
    return await queries.standing_bids(session, agency.id, [n.id for n in notices if n.id is not None])


async def bid_outcomes(
    session: AsyncSession, agency: Agency, bids: list[tuple[str, str, Notice]]
) -> dict[str, rules.Outcome]:
    """Bid id -> what became of it (won, not chosen, cancelled...), for the agency's own
    bids given as (bid id, bid status, notice)."""
    assert agency.id is not None
    fates = await queries.fates(session, agency.id, [n.id for _, _, n in bids if n.id is not None])
    out: dict[str, rules.Outcome] = {}
    for bid_id, status, notice in bids:
        fate = fates.get(notice.id or 0, {})
        out[bid_id] = rules.bid_outcome(
            bid_status=status,
            notice_status=notice.status,
            selection_outcome=fate.get("selection_outcome"),
            award_status=fate.get("award_status"),
            failed_reason=fate.get("failed_reason"),
            replaced_by=fate.get("replaced_by"),
        )
    return out
