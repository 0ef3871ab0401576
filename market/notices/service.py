"""Notices (docs/protocol/msp.md step 1): drafts, publication, amendments and
cancellation. Owner organisations and projects: ``market/notices/orgs.py``; bids:
``market/bids/service.py``.

Sealing: before the deadline nothing here tells anyone whether, who or how many have bid;
list and detail shapes carry no bid data at all.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market import protocol
from market.accounts.models import AppUser, Role
from market.agencies import queries as agency_queries
from market.agencies import rules as agency_rules
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.bids.queries import open_bids
from market.core.clock import utcnow
from market.core.config import Settings
from market.core.errors import Conflict, Forbidden, NotFound
from market.core.i18n import N_
from market.core.ids import PUBLIC_ID, next_public_id
from market.core.pagination import decode_cursor, encode_cursor
from market.core.sql import keyset_page, like_pattern
from market.halls import service as halls
from market.inbox import service as inbox
from market.log import store as log
from market.notices import queries, rules
from market.notices.models import (
    Bid,
    BidStatus,
    Method,
    Notice,
    NoticeAmend,
    NoticeAvoid,
    NoticeCreate,
    NoticeRevision,
    NoticeSecret,
    NoticeStatus,
    OwnerOrg,
    Project,
)
from market.notices.orgs import org_of, require_owner_account
from market.notices.secrets import SecretSealer
from market.notify import service as notify
from market.protocol import entry_types, tlock
from market.reference import catalogue, regions

NOTICE_SEQUENCE = "notice_public_seq"


async def db_now(session: AsyncSession) -> datetime:
    """The database's clock: one clock for every deadline, whichever server asks."""
    return (await session.execute(sa.select(sa.func.clock_timestamp()))).scalar_one()


# -- notices ----------------------------------------------------------------------------------


@dataclass
class NoticeView:
    notice: Notice
    org: OwnerOrg | None
    project: Project | None
    avoid: list[NoticeAvoid]


async def get_notice(session: AsyncSession, public_id: str, *, lock: str | None = None) -> Notice:
    stmt = sa.select(Notice).where(col(Notice.public_id) == public_id)
    if lock == "update":
        stmt = stmt.with_for_update()
    elif lock == "share":
        stmt = stmt.with_for_update(read=True)
    notice = (await session.execute(stmt)).scalar_one_or_none()
    if notice is None:
        raise NotFound(N_("No such notice."))
    return notice


async def view(session: AsyncSession, notice: Notice) -> NoticeView:
    return (await views(session, [notice]))[0]


async def views(session: AsyncSession, notices: list[Notice]) -> list[NoticeView]:
    """Notices with their organisation, project and avoidance list; one query for the
    lists of all of them (organisations and projects repeat and come from the identity map)."""
    ids = [n.id for n in notices]
    avoid: dict[int, list[NoticeAvoid]] = {i: [] for i in ids if i is not None}
    if ids:
        stmt = (
            sa.select(NoticeAvoid).where(col(NoticeAvoid.notice_id).in_(ids)).order_by(NoticeAvoid.agency_id)
        )
        for row in (await session.execute(stmt)).scalars().all():
            avoid[row.notice_id].append(row)
    out = []
    for n in notices:
        org = await session.get(OwnerOrg, n.org_id) if n.org_id else None
        project = await session.get(Project, n.project_id) if n.project_id else None
        out.append(NoticeView(notice=n, org=org, project=project, avoid=avoid.get(n.id or 0, [])))
    return out


async def visible_notice(session: AsyncSession, public_id: str, viewer: AppUser | None) -> Notice:
    """Drafts are private to their owner (and staff); everything else is public."""
    notice = await get_notice(session, public_id)
    if not may_see(notice.status, notice.owner_id, viewer):
        raise NotFound(N_("No such notice."))
    return notice


def _check_notice_fields(data: NoticeCreate) -> int:
    try:
        levels = catalogue.level_codes(data.category)
    except catalogue.UnknownCategory:
        raise rules.invalid("category", N_("Unknown service category: {code}."), code=data.category) from None
    if data.required_level is not None and data.required_level not in levels:
        raise rules.invalid(
            "required_level",
            N_("Choose one of this category's levels: {levels}."),
            levels=", ".join(levels) or "—",
        )
    agency_rules.check_region(data.region)
    rules.check_budget(data.budget_fen)
    min_candidates = rules.min_candidates_for(data)
    rules.check_counts(data.method, data.winners, min_candidates)
    rules.check_direct(data.method, data.direct_agency_id, data.direct_justification)
    if data.direct_justification:
        agencies.check_publishable(data.direct_justification, "direct_justification")
    agencies.check_publishable(data.title, "title")
    agencies.check_publishable(data.description, "description")
    for i, a in enumerate(data.avoid):
        if not PUBLIC_ID.match(a.agency_id):
            raise rules.invalid(f"avoid[{i}].agency_id", N_("Not an agency id."))
        agencies.check_publishable(a.reason, f"avoid[{i}].reason")
    return min_candidates


SELF_DEALING = N_(
    "This agency and the notice's owner organisation are one party (the same credit code, or linked by an administrator): "
    "it can never bid on, or be named directly by, that organisation's notices."
)


async def _check_direct_agency(
    session: AsyncSession, direct_agency_id: str | None, org_id: int | None
) -> None:
    if direct_agency_id is None:
        return
    stmt = sa.select(col(Agency.id)).where(
        col(Agency.public_id) == direct_agency_id, col(Agency.status) == "approved"
    )
    if (await session.execute(stmt)).first() is None:
        raise rules.invalid("direct_agency_id", N_("No approved agency has this id."))
    if await agency_queries.related_to_org(session, org_id, [direct_agency_id]):
        raise rules.invalid("direct_agency_id", SELF_DEALING)


async def _project_for(
    session: AsyncSession, user: AppUser, project_id: str | None
) -> tuple[OwnerOrg | None, Project | None]:
    org = await org_of(session, user)
    if project_id is None:
        return org, None
    project = (
        await session.execute(sa.select(Project).where(col(Project.public_id) == project_id))
    ).scalar_one_or_none()
    if project is None or org is None or project.org_id != org.id:
        raise rules.invalid("project_id", N_("Choose one of your organisation's projects."))
    return org, project


async def create_notice(session: AsyncSession, *, user: AppUser, data: NoticeCreate) -> Notice:
    """A draft: private and editable until published."""
    require_owner_account(user)
    min_candidates = _check_notice_fields(data)
    now = await db_now(session)
    deadline = rules.check_deadline(data.bid_deadline, now=now, min_window=0)
    org, project = await _project_for(session, user, data.project_id)
    await _check_direct_agency(session, data.direct_agency_id, org.id if org else None)
    assert user.id is not None
    notice = Notice(
        public_id=await next_public_id(session, prefix="N", sequence=NOTICE_SEQUENCE),
        owner_id=user.id,
        org_id=org.id if org else None,
        project_id=project.id if project else None,
        title=data.title,
        description=data.description,
        category=data.category,
        required_level=data.required_level,
        region=data.region,
        budget_fen=data.budget_fen,
        method=data.method.value,
        winners=data.winners,
        min_candidates=min_candidates,
        bid_deadline=deadline,
        service_days=data.service_days,
        direct_agency_id=data.direct_agency_id,
        direct_justification=data.direct_justification,
    )
    session.add(notice)
    await session.flush()
    assert notice.id is not None
    session.add_all(
        NoticeAvoid(notice_id=notice.id, agency_id=a.agency_id, reason=a.reason.strip()) for a in data.avoid
    )
    await session.flush()
    return notice


def require_owner(notice: Notice, user: AppUser) -> None:
    """Only the notice's owner changes it (pages and API alike)."""
    if notice.owner_id != user.id:
        if notice.status == NoticeStatus.draft:
            # A draft is private: another owner cannot tell it from no notice at all.
            raise NotFound(N_("No such notice."))
        raise Forbidden(N_("This is another owner's notice."))


async def update_draft(session: AsyncSession, *, user: AppUser, notice_id: str, data: NoticeCreate) -> Notice:
    notice = await get_notice(session, notice_id, lock="update")
    require_owner(notice, user)
    if notice.status != NoticeStatus.draft:
        raise Conflict(N_("A published notice cannot be edited; amend it instead."))
    min_candidates = _check_notice_fields(data)
    deadline = rules.check_deadline(data.bid_deadline, now=await db_now(session), min_window=0)
    org, project = await _project_for(session, user, data.project_id)
    await _check_direct_agency(session, data.direct_agency_id, org.id if org else None)
    for key, value in {
        "title": data.title,
        "description": data.description,
        "category": data.category,
        "required_level": data.required_level,
        "region": data.region,
        "budget_fen": data.budget_fen,
        "method": data.method.value,
        "winners": data.winners,
        "min_candidates": min_candidates,
        "bid_deadline": deadline,
        "service_days": data.service_days,
        "direct_agency_id": data.direct_agency_id,
        "direct_justification": data.direct_justification,
        "org_id": org.id if org else None,
        "project_id": project.id if project else None,
        "updated_at": utcnow(),
    }.items():
        setattr(notice, key, value)
    await session.execute(sa.delete(NoticeAvoid).where(col(NoticeAvoid.notice_id) == notice.id))
    assert notice.id is not None
    session.add_all(
        NoticeAvoid(notice_id=notice.id, agency_id=a.agency_id, reason=a.reason.strip()) for a in data.avoid
    )
    await session.flush()
    return notice


async def delete_draft(session: AsyncSession, *, user: AppUser, notice_id: str) -> None:
    notice = await get_notice(session, notice_id, lock="update")
    require_owner(notice, user)
    if notice.status != NoticeStatus.draft:
        raise Conflict(N_("Only a draft can be deleted; cancel a published notice instead."))
    await session.execute(sa.delete(NoticeAvoid).where(col(NoticeAvoid.notice_id) == notice.id))
    await session.delete(notice)


@dataclass(frozen=True)
class Reissued:
    notice: Notice  # the draft made from the failed notice (perhaps published since)
    new: bool  # False: the failed notice had been re-issued already, as ``notice``


async def reissued_as(session: AsyncSession, failed: Notice) -> Notice | None:
    """The notice a failed one was re-issued as, if any (a draft of its owner's, or since
    published): the failed notice's page points there instead of offering it again."""
    return (
        await session.execute(sa.select(Notice).where(col(Notice.reissued_from) == failed.id))
    ).scalar_one_or_none()


async def reissue(session: AsyncSession, *, user: AppUser, notice_id: str) -> Reissued:
    """A failed notice's way on (issue 22): a new draft with the same terms, avoidance list,
    organisation and project, and a deadline as far from now as the failed notice's window
    was long. Like every draft it is private and unlogged until published; the failed
    notice keeps its record. Once only: asked again (a double click, a resent form), it
    gives the notice made the first time, unless the owner deleted that draft."""
    # Locked, so that two requests at once make one draft (the unique index backs it).
    failed = await get_notice(session, notice_id, lock="update")
    require_owner(failed, user)
    if failed.status != NoticeStatus.failed:
        raise Conflict(N_("Only a notice whose selection failed can be re-issued."))
    earlier = await reissued_as(session, failed)
    if earlier is not None:
        return Reissued(earlier, new=False)
    avoid = (
        (await session.execute(sa.select(NoticeAvoid).where(col(NoticeAvoid.notice_id) == failed.id)))
        .scalars()
        .all()
    )
    assert user.id is not None
    draft = Notice(
        public_id=await next_public_id(session, prefix="N", sequence=NOTICE_SEQUENCE),
        owner_id=user.id,
        org_id=failed.org_id,
        project_id=failed.project_id,
        title=failed.title,
        description=failed.description,
        category=failed.category,
        required_level=failed.required_level,
        region=failed.region,
        budget_fen=failed.budget_fen,
        method=failed.method,
        winners=failed.winners,
        min_candidates=failed.min_candidates,
        bid_deadline=rules.reissue_deadline(
            published_at=failed.published_at, deadline=failed.bid_deadline, now=await db_now(session)
        ),
        service_days=failed.service_days,
        direct_agency_id=failed.direct_agency_id,
        direct_justification=failed.direct_justification,
        reissued_from=failed.id,
    )
    session.add(draft)
    await session.flush()
    assert draft.id is not None
    session.add_all(NoticeAvoid(notice_id=draft.id, agency_id=a.agency_id, reason=a.reason) for a in avoid)
    await session.flush()
    return Reissued(draft, new=True)


def _terms(v: NoticeView) -> bytes:
    n = v.notice
    return rules.terms_document(
        notice_id=n.public_id,
        title=n.title,
        description=n.description,
        category=n.category,
        required_level=n.required_level,
        region=n.region,
        budget_fen=n.budget_fen,
        method=n.method,
        winners=n.winners,
        min_candidates=n.min_candidates,
        bid_deadline=n.bid_deadline,
        service_days=n.service_days,
        owner={"id": v.org.public_id, "name": v.org.name} if v.org else None,
        project={"id": v.project.public_id, "name": v.project.name, "code": v.project.code}
        if v.project
        else None,
        avoid=[{"agency_id": a.agency_id, "reason": a.reason} for a in v.avoid],
        direct={"agency_id": n.direct_agency_id, "justification": n.direct_justification or ""}
        if n.direct_agency_id
        else None,
    )


def _scheme(settings: Settings, deadline: datetime) -> str:
    beacon = "drand/quicknet" if settings.beacon == "drand" else "none"
    return protocol.scheme_for(beacon, protocol.deadline_unix(deadline))


async def publish(
    session: AsyncSession, *, user: AppUser, notice_id: str, settings: Settings, sealer: SecretSealer
) -> Notice:
    """MSP/1 step 1: draw the secret, commit to it, freeze the terms, log ``notice.published``."""
    notice = await get_notice(session, notice_id, lock="update")
    require_owner(notice, user)
    if notice.status != NoticeStatus.draft:
        raise Conflict(N_("This notice has already been published."))
    # Every notice belongs to its owner's hall for life: no organisation, no hall. A draft
    # saved before the organisation was registered takes it now.
    org = await session.get(OwnerOrg, notice.org_id) if notice.org_id else await org_of(session, user)
    if org is None:
        raise Conflict(
            N_("Register your organisation first: a notice is published in its organisation's hall.")
        )
    notice.org_id = org.id
    notice.hall = org.hall
    # Checked again: the agency may have been approved, or linked, since the draft.
    await _check_direct_agency(session, notice.direct_agency_id, notice.org_id)
    now = await db_now(session)
    notice.bid_deadline = rules.check_deadline(
        notice.bid_deadline,
        now=now,
        min_window=settings.min_bid_window,
        latest=now + timedelta(seconds=protocol.MAX_BID_WINDOW_SECONDS),
    )
    notice.protocol = protocol.VERSION
    notice.sealing = sealing_mode(settings) if notice.protocol >= 2 else None
    secret = secrets.token_bytes(32)
    notice.commit = protocol.commitment(notice.public_id, secret).hex()
    notice.scheme = _scheme(settings, notice.bid_deadline)
    notice.terms = _terms(await view(session, notice))
    notice.terms_sha256 = protocol.sha256_hex(notice.terms)
    notice.status = NoticeStatus.open.value
    notice.published_at = notice.updated_at = utcnow()
    assert notice.id is not None
    session.add(NoticeSecret(notice_id=notice.id, sealed=sealer.seal(notice.public_id, secret)))
    await session.flush()
    fields: dict[str, Any] = {
        "notice_id": notice.public_id,
        "method": notice.method,
        "winners": notice.winners,
        "min_candidates": notice.min_candidates,
        "bid_deadline": protocol.format_ts(notice.bid_deadline),
        "terms_sha256": notice.terms_sha256,
        "commit": notice.commit,
        "scheme": notice.scheme,
    }
    if notice.protocol >= 2:
        fields["sealing"] = notice.sealing
    published = await log.append(
        session, version=notice.protocol, type=entry_types.NOTICE_PUBLISHED, fields=fields
    )
    # The entry's own time: amendments are held to the longest window from it, as the verifier holds them.
    notice.published_at = protocol.parse_ts(published.ts)
    # Agencies subscribed to its category and region hear of it (inbox, and e-mail if chosen).
    await notify.on_published(session, notice=notice)
    return notice


def sealing_mode(settings: Settings) -> str:
    """How MSP/2 bids are sealed until the deadline (docs/protocol/msp.md): with the
    server's seal key, unless the drand beacon is configured and timelock encryption is
    available, in which case the public entry's ciphertext is the only copy."""
    if settings.beacon == "drand" and tlock.available():
        return "tlock"
    return "server"


async def amend(
    session: AsyncSession, *, user: AppUser, notice_id: str, data: NoticeAmend, settings: Settings
) -> tuple[Notice, dict[str, list[Any]]]:
    """New terms for an open notice before its deadline; the deadline only ever moves later.
    Returns the notice and what changed ({field: [old, new]})."""
    notice = await get_notice(session, notice_id, lock="update")
    require_owner(notice, user)
    if notice.status != NoticeStatus.open:
        raise Conflict(N_("Only an open notice can be amended."))
    now = await db_now(session)
    if now >= notice.bid_deadline:
        raise Conflict(N_("The bid deadline has passed; the notice can no longer be amended."))
    changes: dict[str, list[Any]] = {}
    if data.title is not None and data.title.strip() != notice.title:
        agencies.check_publishable(data.title, "title")
        changes["title"] = [notice.title, data.title.strip()]
    if data.description is not None and data.description.strip() != notice.description:
        agencies.check_publishable(data.description, "description")
        changes["description"] = [notice.description, data.description.strip()]
    if data.budget_fen is not None and data.budget_fen != notice.budget_fen:
        rules.check_budget(data.budget_fen)
        changes["budget_fen"] = [notice.budget_fen, data.budget_fen]
    # The two optional terms can also be cleared: an explicit null removes them, an
    # omitted field keeps them.
    given = data.model_fields_set
    if "required_level" in given and data.required_level != notice.required_level:
        if data.required_level is not None and data.required_level not in catalogue.level_codes(
            notice.category
        ):
            raise rules.invalid(
                "required_level",
                N_("Choose one of this category's levels: {levels}."),
                levels=", ".join(catalogue.level_codes(notice.category)) or "—",
            )
        changes["required_level"] = [notice.required_level, data.required_level]
    if "service_days" in given and data.service_days != notice.service_days:
        changes["service_days"] = [notice.service_days, data.service_days]
    if data.bid_deadline is not None:
        latest = None
        if notice.protocol >= 2 and notice.published_at is not None:
            latest = notice.published_at + timedelta(seconds=protocol.MAX_BID_WINDOW_SECONDS)
        deadline = rules.check_deadline(data.bid_deadline, now=now, min_window=0, latest=latest)
        if deadline < notice.bid_deadline:
            raise rules.invalid("bid_deadline", N_("The deadline may only move later."))
        if deadline != notice.bid_deadline:
            if notice.sealing == "tlock" and await _has_bids(session, notice):
                # Its sealed entries are locked to the round of the deadline in force: they
                # would open at that round, while bidding went on.
                raise Conflict(
                    N_(
                        "Bids are timelocked to the current deadline; it can no longer move. Cancel and publish again to change it."
                    )
                )
            changes["bid_deadline"] = [protocol.format_ts(notice.bid_deadline), protocol.format_ts(deadline)]
    if not changes:
        raise rules.invalid("body", N_("Nothing would change."))
    rules.refuse_tightening(catalogue.level_codes(notice.category), changes)
    reason = agencies.check_publishable((data.reason or "").strip(), "reason")
    for key, (_, new) in changes.items():
        setattr(notice, key, protocol.parse_ts(new) if key == "bid_deadline" else new)
    if "bid_deadline" in changes:
        notice.scheme = _scheme(settings, notice.bid_deadline)
    notice.terms = _terms(await view(session, notice))
    notice.terms_sha256 = protocol.sha256_hex(notice.terms)
    notice.updated_at = utcnow()
    await session.flush()
    # Exactly the fields MSP/1 lists: what changed and why is kept beside it, in the
    # revision, and proven by the terms hash the entry carries.
    appended = await log.append(
        session,
        version=notice.protocol,
        type=entry_types.NOTICE_AMENDED,
        fields={
            "notice_id": notice.public_id,
            "terms_sha256": notice.terms_sha256,
            "bid_deadline": protocol.format_ts(notice.bid_deadline),
            "scheme": notice.scheme,
        },
    )
    assert notice.id is not None and notice.terms_sha256 is not None
    session.add(
        NoticeRevision(
            notice_id=notice.id,
            changes=changes,
            reason=reason,
            terms_sha256=notice.terms_sha256,
            log_seq=appended.seq,
        )
    )
    return notice, changes


async def revisions(session: AsyncSession, notice: Notice) -> list[NoticeRevision]:
    """The notice's amendments, oldest first: what changed, old and new, and why."""
    stmt = (
        sa.select(NoticeRevision)
        .where(col(NoticeRevision.notice_id) == notice.id)
        .order_by(col(NoticeRevision.id))
    )
    return list((await session.execute(stmt)).scalars().all())


async def request_cancellation(
    session: AsyncSession, *, user: AppUser, notice_id: str, reason: str
) -> Notice:
    """The owner asks to cancel an open notice; a supervisor consents or refuses.

    Always a request, with or without bids: whether anyone has bid is sealed until the
    deadline, and a cancellation that went through at once when nobody had bid would tell
    the owner, by going through, that nobody had (docs/protocol/msp.md, section 2 step 9).
    The notice stays open meanwhile; at the deadline the close goes ahead and the request
    lapses."""
    notice = await get_notice(session, notice_id, lock="update")
    require_owner(notice, user)
    if notice.status != NoticeStatus.open:
        raise Conflict(N_("Only an open notice can be cancelled; delete a draft instead."))
    # After the deadline the bids are in and the draw is owed: cancelling then would let an
    # owner undo a selection it expects to dislike.
    now = await db_now(session)
    if now >= notice.bid_deadline:
        raise Conflict(N_("The bid deadline has passed; the notice can no longer be cancelled."))
    if notice.cancel_requested_seq is not None:
        raise Conflict(N_("A cancellation of this notice is already waiting for a supervisor's decision."))
    reason = agencies.check_publishable(reason.strip(), "reason")
    if not reason:
        raise rules.invalid("reason", N_("Give a reason; it is published."))
    entry = await log.append(
        session,
        version=protocol.VERSION,
        type=entry_types.NOTICE_CANCEL_REQUESTED,
        fields={"notice_id": notice.public_id, "reason": reason},
    )
    notice.cancel_request_reason = reason
    notice.cancel_requested_seq = entry.seq
    notice.cancel_requested_at = now
    notice.updated_at = utcnow()
    for user_id in [u.id for u in await halls.supervisors_for(session, notice.hall) if u.id]:
        await inbox.leave(session, user_id=user_id, notice=notice, kind="cancel_requested", reason=reason)
    await session.flush()
    return notice


def require_may_decide_cancellation(notice: Notice, user: AppUser) -> None:
    if user.role != Role.supervisor:
        raise Forbidden(N_("Only a supervisor decides a cancellation."))
    halls.require_reach(user, notice.hall)


async def decide_cancellation(
    session: AsyncSession, *, user: AppUser, notice_id: str, consent: bool, reason: str, sealer: SecretSealer
) -> Notice:
    """A supervisor's consent to, or refusal of, the owner's pending cancellation. Both are
    logged with the supervisor and the request they answer; a consent cancels the notice
    with the owner's published reason (notice.cancelled, as MSP/2 section 2 step 9 says)."""
    notice = await get_notice(session, notice_id, lock="update")
    require_may_decide_cancellation(notice, user)
    if notice.status != NoticeStatus.open or notice.cancel_requested_seq is None:
        raise Conflict(N_("No cancellation of this notice is waiting for a decision."))
    if await db_now(session) >= notice.bid_deadline:
        raise Conflict(N_("The bid deadline has passed: the request lapsed and the draw goes ahead."))
    reason = agencies.check_publishable(reason.strip(), "reason")
    if not consent and not reason:
        raise rules.invalid("reason", N_("Say why the cancellation is refused; it is published."))
    request_seq = notice.cancel_requested_seq
    owner_reason = notice.cancel_request_reason or ""
    fields: dict[str, Any] = {
        "notice_id": notice.public_id,
        "request_seq": request_seq,
        "supervisor_id": user.public_id,
        "reason": reason,
    }
    notice.cancel_request_reason = None
    notice.cancel_requested_seq = None
    notice.cancel_requested_at = None
    if not consent:
        notice.updated_at = utcnow()
        await session.flush()
        await log.append(
            session, version=protocol.VERSION, type=entry_types.NOTICE_CANCEL_REFUSED, fields=fields
        )
        await inbox.leave(
            session, user_id=notice.owner_id, notice=notice, kind="cancel_refused", reason=reason
        )
        return notice
    await log.append(
        session, version=protocol.VERSION, type=entry_types.NOTICE_CANCEL_CONSENTED, fields=fields
    )
    await _cancel(session, notice, owner_reason, sealer)
    await inbox.leave(session, user_id=notice.owner_id, notice=notice, kind="cancel_consented")
    return notice


async def _cancel(session: AsyncSession, notice: Notice, reason: str, sealer: SecretSealer) -> None:
    fields: dict[str, Any] = {"notice_id": notice.public_id, "reason": reason}
    if notice.protocol >= 2:
        # Ending the bidding opens every bid placed, as the close does: a sealed entry that
        # no notice opens is a problem the verifier names (docs/protocol/msp.md). Timelocked
        # bids cannot be opened before their round: bids.opened does it then.
        fields["openings"] = (
            None if notice.sealing == "tlock" else (await open_bids(session, notice, sealer)).openings
        )
    notice.status = NoticeStatus.cancelled.value
    notice.cancel_reason = reason
    notice.updated_at = utcnow()
    # Standing bids are released with the notice; the cancellation entry speaks for them.
    await session.execute(
        sa.update(Bid)
        .where(col(Bid.notice_id) == notice.id, col(Bid.status) == BidStatus.standing.value)
        .values(status=BidStatus.withdrawn.value, withdrawn_at=utcnow())
    )
    await session.flush()
    cancelled = await log.append(
        session, version=notice.protocol, type=entry_types.NOTICE_CANCELLED, fields=fields
    )
    if fields.get("openings") is not None:
        notice.opened_seq = cancelled.seq


async def pending_cancellations(session: AsyncSession) -> list[Notice]:
    """Open notices whose cancellation waits for a supervisor, oldest request first."""
    stmt = (
        sa.select(Notice)
        .where(col(Notice.status) == NoticeStatus.open.value, col(Notice.cancel_requested_seq).is_not(None))
        .order_by(col(Notice.cancel_requested_seq))
    )
    return list((await session.execute(stmt)).scalars().all())


async def _has_bids(session: AsyncSession, notice: Notice) -> bool:
    return (await session.execute(sa.select(sa.exists().where(col(Bid.notice_id) == notice.id)))).scalar_one()


def check_filters(
    *,
    q: str | None = None,
    category: str | None = None,
    region: str | None = None,
    method: str | None = None,
    status: str | None = None,
    budget_min: int | None = None,
    budget_max: int | None = None,
    drafts: bool = False,
    hall_codes: list[str] | None = None,
) -> queries.NoticeFilters:
    """A list's filters checked (422 on one that cannot apply) and made plain (pure)."""
    if status and (
        status not in [s.value for s in NoticeStatus] or (status == NoticeStatus.draft and not drafts)
    ):
        raise rules.invalid("status", N_("Unknown status filter."))
    if method and method not in [m.value for m in Method]:
        raise rules.invalid("method", N_("Choose lottery, lowest_price or direct."))
    if category:
        agency_rules.check_categories([category])
    if region:
        agency_rules.check_region(region)
    title_like = public_id = None
    if q and q.strip():
        public_id = q.strip()
        title_like = like_pattern(public_id)
    return queries.NoticeFilters(
        status=status or None,
        method=method or None,
        category=category or None,
        region_prefix=regions.scope_prefix(region) if region else None,
        budget_min=budget_min,
        budget_max=budget_max,
        title_like=title_like,
        public_id=public_id,
        halls=tuple(hall_codes) if hall_codes is not None else None,
    )


async def public_notices(
    reader: asyncpg.Connection, filters: queries.NoticeFilters, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[asyncpg.Record], str | None]:
    """One page of published notices, newest first, as rows of queries.NOTICE_LIST_COLUMNS
    (present.notice_public_row shapes them), and the next page's cursor."""
    sql, args = queries.notice_list(filters, after=decode_cursor(cursor), limit=limit)
    return await keyset_page(reader, sql, args, limit)


async def notice_page(conn: asyncpg.Connection, public_id: str) -> queries.NoticePage:
    """What every viewer of a notice's page sees, in one statement; drafts included (the
    caller decides who may see one, as visible_notice does)."""
    row = await conn.fetchrow(queries.NOTICE_PAGE, public_id)
    if row is None:
        raise NotFound(N_("No such notice."))
    return queries.notice_page(row)


def may_see(status: str, owner_id: int, viewer: AppUser | None) -> bool:
    """Drafts are private to their owner (and staff); everything else is public."""
    return status != NoticeStatus.draft or (
        viewer is not None and (viewer.id == owner_id or viewer.role in (Role.admin, Role.supervisor))
    )


async def list_notices(
    session: AsyncSession,
    *,
    owner: AppUser,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Notice], str | None]:
    """An owner's own notices, drafts included, newest first."""
    filters = check_filters(status=status, drafts=True)
    after = decode_cursor(cursor)
    stmt = (
        sa.select(Notice)
        .where(col(Notice.owner_id) == owner.id)
        .order_by(col(Notice.id).desc())
        .limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(col(Notice.id) < after)
    if filters.status:
        stmt = stmt.where(col(Notice.status) == filters.status)
    rows = list((await session.execute(stmt)).scalars().all())
    last_id = rows[limit - 1].id if len(rows) > limit else None
    next_cursor = encode_cursor(last_id) if last_id is not None else None
    return rows[:limit], next_cursor


def requirements(v: NoticeView) -> agency_rules.Requirements:
    n = v.notice
    return agency_rules.notice_requirements(
        category=n.category,
        min_level=n.required_level,
        region=n.region,
        avoid={a.agency_id: a.reason for a in v.avoid},
        direct_agency=n.direct_agency_id,
    )
