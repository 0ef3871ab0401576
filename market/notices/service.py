"""Owner organisations, projects, notices and sealed bids (docs/protocol/msp.md steps 1 and 2).

Sealing: before the deadline nothing here tells anyone but the bidder itself whether,
who or how many have bid; list and detail shapes carry no bid data at all, and errors
about a bid speak only of the caller's own.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.agencies import rules as agency_rules
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.core.clock import today_in_china, utcnow
from market.core.config import Settings
from market.core.errors import Conflict, DomainError, FieldError, Forbidden, NotFound, Unauthorized
from market.core.i18n import N_
from market.core.ids import PUBLIC_ID, next_public_id
from market.core.pagination import decode_cursor, encode_cursor
from market.core.sql import keyset_page, like_pattern
from market.log import protocol, tlock
from market.log import store as log
from market.log.receipt_check import RECEIPT_FORMAT
from market.log.receipts import ReceiptSigner
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
    OrgCreate,
    OwnerOrg,
    Project,
    ProjectCreate,
)
from market.notices.secrets import SecretSealer
from market.reference import catalogue, regions
from market.selection.models import Message

ORG_SEQUENCE = "owner_org_public_seq"
PROJECT_SEQUENCE = "project_public_seq"
NOTICE_SEQUENCE = "notice_public_seq"


async def db_now(session: AsyncSession) -> datetime:
    """The database's clock: one clock for every deadline, whichever server asks."""
    return (await session.execute(sa.select(sa.func.clock_timestamp()))).scalar_one()  # type: ignore[no-any-return]


def _require_owner(user: AppUser) -> None:
    if user.role != Role.owner:
        raise Forbidden(N_("Only project owner accounts can do this."))


# -- organisations and projects ---------------------------------------------------------------


async def org_of(session: AsyncSession, user: AppUser) -> OwnerOrg | None:
    return (
        await session.execute(sa.select(OwnerOrg).where(col(OwnerOrg.created_by) == user.id))
    ).scalar_one_or_none()


async def create_org(session: AsyncSession, *, user: AppUser, data: OrgCreate) -> OwnerOrg:
    _require_owner(user)
    if await org_of(session, user) is not None:
        raise Conflict(N_("This account already acts for an organisation."))
    credit_code = agencies.check_credit_code(data.credit_code)
    region = agencies.check_region(data.region)
    agencies.check_publishable(data.name, "name")
    if (
        await session.execute(sa.select(col(OwnerOrg.id)).where(col(OwnerOrg.credit_code) == credit_code))
    ).first():
        raise Conflict(
            N_("An organisation with this credit code is already registered."),
            [FieldError("credit_code", N_("An organisation with this credit code is already registered."))],
        )
    org = OwnerOrg(
        public_id=await next_public_id(session, prefix="OW", sequence=ORG_SEQUENCE),
        name=data.name.strip(),
        credit_code=credit_code,
        region=region,
        created_by=user.id,  # type: ignore[arg-type]
        contact_phone=data.contact_phone.strip(),
    )
    session.add(org)
    await session.flush()
    await log.append(
        session,
        type="owner.registered",
        fields={"owner_id": org.public_id, "name": org.name, "credit_code": credit_code, "region": region},
    )
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
    project = Project(
        public_id=await next_public_id(session, prefix="PJ", sequence=PROJECT_SEQUENCE),
        org_id=org.id,
        name=data.name.strip(),
        code=code,
    )  # type: ignore[arg-type]
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
    agencies.check_region(data.region)
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
    if await agencies.related_to_org(session, org_id, [direct_agency_id]):
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
    _require_owner(user)
    min_candidates = _check_notice_fields(data)
    now = await db_now(session)
    deadline = rules.check_deadline(data.bid_deadline, now=now, min_window=0)
    org, project = await _project_for(session, user, data.project_id)
    await _check_direct_agency(session, data.direct_agency_id, org.id if org else None)
    notice = Notice(
        public_id=await next_public_id(session, prefix="N", sequence=NOTICE_SEQUENCE),
        owner_id=user.id,
        org_id=org.id if org else None,
        project_id=project.id if project else None,  # type: ignore[arg-type]
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
    session.add_all(
        NoticeAvoid(notice_id=notice.id, agency_id=a.agency_id, reason=a.reason.strip()) for a in data.avoid
    )  # type: ignore[arg-type]
    await session.flush()
    return notice


def _own(notice: Notice, user: AppUser) -> None:
    if notice.owner_id != user.id:
        if notice.status == NoticeStatus.draft:
            # A draft is private: another owner cannot tell it from no notice at all.
            raise NotFound(N_("No such notice."))
        raise Forbidden(N_("This is another owner's notice."))


async def update_draft(session: AsyncSession, *, user: AppUser, notice_id: str, data: NoticeCreate) -> Notice:
    notice = await get_notice(session, notice_id, lock="update")
    _own(notice, user)
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
    session.add_all(
        NoticeAvoid(notice_id=notice.id, agency_id=a.agency_id, reason=a.reason.strip()) for a in data.avoid
    )  # type: ignore[arg-type]
    await session.flush()
    return notice


async def delete_draft(session: AsyncSession, *, user: AppUser, notice_id: str) -> None:
    notice = await get_notice(session, notice_id, lock="update")
    _own(notice, user)
    if notice.status != NoticeStatus.draft:
        raise Conflict(N_("Only a draft can be deleted; cancel a published notice instead."))
    await session.execute(sa.delete(NoticeAvoid).where(col(NoticeAvoid.notice_id) == notice.id))
    await session.delete(notice)


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
    _own(notice, user)
    if notice.status != NoticeStatus.draft:
        raise Conflict(N_("This notice has already been published."))
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
    session.add(NoticeSecret(notice_id=notice.id, sealed=sealer.seal(notice.public_id, secret)))  # type: ignore[arg-type]
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
    published = await log.append(session, version=notice.protocol, type="notice.published", fields=fields)
    # The entry's own time: amendments are held to the longest window from it, as the verifier holds them.
    notice.published_at = protocol.parse_ts(published.ts)
    return notice


def sealing_mode(settings: Settings) -> str:
    """How MSP/2 bids are sealed until the deadline (docs/protocol/msp.md): with the
    server's seal key, unless the drand beacon is configured and timelock encryption is
    available, in which case the public entry's ciphertext is the only copy."""
    if settings.beacon == "drand" and tlock.available():
        return "tlock"
    return "server"


def tlock_round_of(deadline: datetime) -> int:
    """The drand round a tlock notice's sealed entries are locked to: the first one
    emitted at or after its deadline (docs/protocol/msp.md)."""
    return protocol.tlock_round(protocol.deadline_unix(deadline))


async def amend(
    session: AsyncSession, *, user: AppUser, notice_id: str, data: NoticeAmend, settings: Settings
) -> tuple[Notice, dict[str, list[Any]]]:
    """New terms for an open notice before its deadline; the deadline only ever moves later.
    Returns the notice and what changed ({field: [old, new]})."""
    notice = await get_notice(session, notice_id, lock="update")
    _own(notice, user)
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
        type="notice.amended",
        fields={
            "notice_id": notice.public_id,
            "terms_sha256": notice.terms_sha256,
            "bid_deadline": protocol.format_ts(notice.bid_deadline),
            "scheme": notice.scheme,
        },
    )
    session.add(
        NoticeRevision(
            notice_id=notice.id,
            changes=changes,
            reason=reason,
            terms_sha256=notice.terms_sha256,
            log_seq=appended.seq,
        )
    )  # type: ignore[arg-type]
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
    _own(notice, user)
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
        type="notice.cancel_requested",
        fields={"notice_id": notice.public_id, "reason": reason},
    )
    notice.cancel_request_reason = reason
    notice.cancel_requested_seq = entry.seq
    notice.cancel_requested_at = now
    notice.updated_at = utcnow()
    supervisors = await session.execute(
        sa.select(col(AppUser.id)).where(
            col(AppUser.role) == Role.supervisor.value, col(AppUser.is_active).is_(True)
        )
    )  # type: ignore[attr-defined]
    for (user_id,) in supervisors:
        session.add(
            Message(
                user_id=user_id,
                notice_id=notice.id,
                kind="cancel_requested",
                params={"notice_id": notice.public_id, "title": notice.title, "reason": reason},
            )
        )
    await session.flush()
    return notice


async def decide_cancellation(
    session: AsyncSession, *, user: AppUser, notice_id: str, consent: bool, reason: str, sealer: SecretSealer
) -> Notice:
    """A supervisor's consent to, or refusal of, the owner's pending cancellation. Both are
    logged with the supervisor and the request they answer; a consent cancels the notice
    with the owner's published reason (notice.cancelled, as MSP/2 section 2 step 9 says)."""
    if user.role != Role.supervisor:
        raise Forbidden(N_("Only a supervisor decides a cancellation."))
    notice = await get_notice(session, notice_id, lock="update")
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
        await log.append(session, version=protocol.VERSION, type="notice.cancel_refused", fields=fields)
        session.add(
            Message(
                user_id=notice.owner_id,
                notice_id=notice.id,
                kind="cancel_refused",
                params={"notice_id": notice.public_id, "title": notice.title, "reason": reason},
            )
        )
        return notice
    await log.append(session, version=protocol.VERSION, type="notice.cancel_consented", fields=fields)
    await _cancel(session, notice, owner_reason, sealer)
    session.add(
        Message(
            user_id=notice.owner_id,
            notice_id=notice.id,
            kind="cancel_consented",
            params={"notice_id": notice.public_id, "title": notice.title},
        )
    )
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
    cancelled = await log.append(session, version=notice.protocol, type="notice.cancelled", fields=fields)
    if fields.get("openings") is not None:
        notice.opened_seq = cancelled.seq


async def pending_cancellations(session: AsyncSession) -> list[Notice]:
    """Open notices whose cancellation waits for a supervisor, oldest request first."""
    stmt = (
        sa.select(Notice)
        .where(col(Notice.status) == NoticeStatus.open.value, col(Notice.cancel_requested_seq).is_not(None))
        .order_by(col(Notice.cancel_requested_seq))
    )  # type: ignore[union-attr]
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
) -> queries.NoticeFilters:
    """A list's filters checked (422 on one that cannot apply) and made plain (pure)."""
    if status and (
        status not in [s.value for s in NoticeStatus] or (status == NoticeStatus.draft and not drafts)
    ):
        raise rules.invalid("status", N_("Unknown status filter."))
    if method and method not in [m.value for m in Method]:
        raise rules.invalid("method", N_("Choose lottery, lowest_price or direct."))
    if category:
        agencies.check_categories([category])
    if region:
        agencies.check_region(region)
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
    next_cursor = (
        encode_cursor(rows[limit - 1].id) if len(rows) > limit and rows[limit - 1].id is not None else None
    )
    return rows[:limit], next_cursor


def requirements(v: NoticeView) -> agency_rules.Requirements:
    n = v.notice
    return agency_rules.notice_requirements(
        category=n.category,
        min_level=n.required_level,
        region=n.region,
        avoid={a.agency_id: a.reason for a in v.avoid},
    )


async def eligibility(
    session: AsyncSession, agency: Agency, v: NoticeView
) -> agency_rules.Eligible | agency_rules.NotEligible:
    profile = await agencies.load_profile(session, agency)
    return agency_rules.eligibility(profile.facts(), requirements(v), today_in_china())


async def open_notices_for(
    session: AsyncSession, agency: Agency, *, limit: int = 100
) -> list[tuple[Notice, Any]]:
    """Open notices before their deadline, each with whether this agency may bid and why not."""
    now = await db_now(session)
    stmt = (
        sa.select(Notice)
        .where(col(Notice.status) == NoticeStatus.open.value, col(Notice.bid_deadline) > now)
        .order_by(col(Notice.bid_deadline))
        .limit(limit)
    )
    notices = list((await session.execute(stmt)).scalars().all())
    profile = await agencies.load_profile(session, agency)
    facts, today = profile.facts(), today_in_china()
    return [
        (v.notice, agency_rules.eligibility(facts, requirements(v), today))
        for v in await views(session, notices)
    ]


# -- bids --------------------------------------------------------------------------------------


def not_eligible(result: agency_rules.NotEligible) -> DomainError:
    return DomainError(
        detail=N_("Your agency may not bid on this notice."),
        status=403,
        title=N_("Forbidden"),
        errors=[FieldError(r.code, r.message_en, zh=r.message_zh) for r in result.reasons],
    )


async def place_bid(
    session: AsyncSession,
    *,
    bidder: str,
    notice_id: str,
    price_fen: Any,
    receipts: ReceiptSigner,
    sealer: SecretSealer,
) -> PlacedBid:
    """Step 2: a sealed bid, its log entry and a signed receipt, or nothing. An MSP/2
    notice's bid logs ``bid.sealed`` with a commitment alone (docs/protocol/msp.md); an
    MSP/1 notice's (published before MSP/2) ``bid.accepted`` as MSP/1 defines it.

    ``bidder`` is the public id of the agency's account. This is the path 1,000 agencies
    take within seconds of a deadline, so it is written as three statements on the
    session's connection (what the bid needs to know, the log append, the insert) instead
    of a dozen through the ORM; the rules are the same pure functions the pages use."""
    connection = await session.connection()
    # Through SQLAlchemy's connection, which begins the transaction if it has not begun.
    row = (
        (await connection.exec_driver_sql(queries.BID_CONTEXT, (bidder, notice_id))).mappings().one_or_none()
    )
    if row is None or not row["is_active"]:
        raise Unauthorized(N_("This account no longer exists or has changed; log in again"))
    context = queries.bid_context(row)
    if context.role != Role.agency:
        raise Forbidden(N_("Only agency accounts can bid."))
    if context.facts is None:
        raise Forbidden(N_("Register your agency before bidding."))
    if context.requirements is None or context.notice_status == NoticeStatus.draft:
        raise NotFound(N_("No such notice."))  # drafts are private: not even "not open"
    assert context.bid_deadline is not None and context.method is not None and context.budget_fen is not None
    if context.notice_status != NoticeStatus.open:
        raise Conflict(N_("This notice is not open for bids."))
    if context.now >= context.bid_deadline:
        raise Conflict(N_("The bid deadline has passed."))
    if context.direct_agency_id is not None and context.direct_agency_id != context.facts.agency_id:
        raise Forbidden(N_("This notice is a direct selection of another agency."))
    if context.related:
        raise Forbidden(SELF_DEALING)
    result = agency_rules.eligibility(context.facts, context.requirements, today_in_china())
    if not result:
        raise not_eligible(result)  # type: ignore[arg-type]
    price = rules.check_price(context.method, price_fen, context.budget_fen)
    if context.standing:
        raise Conflict(N_("Your agency already has a standing bid on this notice; withdraw it to bid again."))
    bid_id, agency_id, notice_public_id = context.bid_id, context.facts.agency_id, context.notice_public_id
    assert bid_id is not None and notice_public_id is not None
    if context.protocol == 1:
        return await _place_msp1_bid(session, context, price, receipts)
    salt = secrets.token_bytes(protocol.SALT_BYTES)
    document = protocol.bid_document_v2(notice_public_id, bid_id, agency_id, price)
    commitment = protocol.bid_commitment(salt, document)
    # The entry goes in last (it takes the log's lock) and its time decides: a bid whose
    # entry is stamped at or after the deadline is refused and the whole transaction,
    # entry included, rolls back. So the log never shows a late bid, and a bid is either
    # fully accepted (entry, row, receipt) or not at all. The entry names nothing but the
    # commitment: not the notice, not the agency (MSP/2).
    fields = {"commitment": commitment.hex()}
    if context.sealing == "tlock":
        # The only copy: anyone can open it once the deadline's round exists, nobody before.
        fields["tlock"] = tlock.seal(
            protocol.tlock_plaintext(salt, document=document), tlock_round_of(context.bid_deadline)
        )
    appended = await log.append(session, type=protocol.SEALED_TYPE, fields=fields)
    stamped = protocol.parse_ts(appended.ts)
    if stamped >= context.bid_deadline:
        raise Conflict(N_("The bid deadline has passed."))
    receipt = receipts.sign(
        {
            "v": 2,
            "notice_id": notice_public_id,
            "bid_id": bid_id,
            "agency_id": agency_id,
            "commitment": commitment.hex(),
            "salt": salt.hex(),
            "seq": appended.seq,
            "leaf_hash": appended.leaf_hash.hex(),
        }
    )
    opened = SealedBid(document=document, salt=salt, receipt=receipt)
    bid = Bid(
        public_id=bid_id,
        notice_id=context.notice_id,
        agency_id=context.agency_id,
        protocol=2,  # type: ignore[arg-type]
        # With tlock nothing is kept: the salt would let the operator try every price.
        commitment=commitment.hex(),
        sealed=None if context.sealing == "tlock" else sealer.seal(bid_label(bid_id), opened.to_bytes()),
        seq=appended.seq,
        leaf_hash=appended.leaf_hash.hex(),
        created_at=stamped,
    )
    # One INSERT straight through asyncpg and no savepoint: every round trip from the
    # append to the commit is made while the log's lock is held, and all bids queue on it.
    # A lost race on the unique index rolls the whole transaction back, entry included.
    driver = (await connection.get_raw_connection()).driver_connection
    try:
        bid.id = await driver.fetchval(
            queries.INSERT_SEALED_BID,
            bid.public_id,
            bid.notice_id,
            bid.agency_id,
            bid.commitment,
            bid.sealed,
            bid.seq,
            bid.leaf_hash,
            bid.created_at,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            N_("Your agency already has a standing bid on this notice; withdraw it to bid again.")
        ) from None
    return PlacedBid(bid=bid, opened=opened)


async def _place_msp1_bid(
    session: AsyncSession, context: queries.BidContext, price: int | None, receipts: ReceiptSigner
) -> PlacedBid:
    """MSP/1 step 2, for a notice published before MSP/2: it finishes under the rules it
    was published with (its bidders were told them), so its bids are logged as MSP/1 says."""
    bid_id, notice_public_id = context.bid_id, context.notice_public_id
    assert bid_id is not None and notice_public_id is not None and context.facts is not None
    agency_id = context.facts.agency_id
    nonce = secrets.token_hex(16)
    document = protocol.bid_document(notice_public_id, bid_id, agency_id, price, nonce)
    digest = protocol.bid_sha256(document)
    appended = await log.append(
        session,
        version=1,
        type="bid.accepted",
        fields={
            "notice_id": notice_public_id,
            "bid_id": bid_id,
            "agency_id": agency_id,
            "bid_sha256": digest,
        },
    )
    stamped = protocol.parse_ts(appended.ts)
    assert context.bid_deadline is not None
    if stamped >= context.bid_deadline:
        raise Conflict(N_("The bid deadline has passed."))
    receipt = receipts.sign(
        {
            "notice_id": notice_public_id,
            "bid_id": bid_id,
            "agency_id": agency_id,
            "bid_sha256": digest,
            "seq": appended.seq,
            "leaf_hash": appended.leaf_hash.hex(),
        }
    )
    bid = Bid(
        public_id=bid_id,
        notice_id=context.notice_id,
        agency_id=context.agency_id,
        protocol=1,
        price_fen=price,
        nonce=nonce,
        document=document,  # type: ignore[arg-type]
        bid_sha256=digest,
        seq=appended.seq,
        leaf_hash=appended.leaf_hash.hex(),
        receipt=receipt,
        created_at=stamped,
    )
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    try:
        bid.id = await driver.fetchval(
            queries.INSERT_BID,
            bid.public_id,
            bid.notice_id,
            bid.agency_id,
            bid.price_fen,
            bid.nonce,
            bid.document,
            bid.bid_sha256,
            bid.seq,
            bid.leaf_hash,
            bid.receipt,
            bid.created_at,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            N_("Your agency already has a standing bid on this notice; withdraw it to bid again.")
        ) from None
    return PlacedBid(bid=bid, opened=None)


async def withdraw_bid(
    session: AsyncSession, *, user: AppUser, notice_id: str, bid_id: str, sealer: SecretSealer
) -> Bid:
    agency = await agencies.agency_of(session, user) if user.role == Role.agency else None
    notice = await get_notice(session, notice_id, lock="share")
    bid = (
        await session.execute(
            sa.select(Bid)
            .where(col(Bid.public_id) == bid_id, col(Bid.notice_id) == notice.id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    # Someone else's bid is "not found", not "forbidden": its existence is sealed too.
    if bid is None or agency is None or bid.agency_id != agency.id:
        raise NotFound(N_("You have no such bid."))
    if bid.status != BidStatus.standing:
        raise Conflict(N_("This bid has already been withdrawn."))
    if notice.status != NoticeStatus.open or await db_now(session) >= notice.bid_deadline:
        raise Conflict(N_("The bid deadline has passed."))
    bid.status = BidStatus.withdrawn.value
    bid.withdrawn_at = utcnow()
    if bid.protocol == 1:
        await session.flush()
        appended = await log.append(
            session,
            version=1,
            type="bid.withdrawn",
            fields={"notice_id": notice.public_id, "bid_id": bid.public_id, "agency_id": agency.public_id},
        )
    else:
        # A withdrawal is a sealed entry too, indistinguishable from a bid until the
        # opening: its commitment binds it to the one bid it withdraws.
        assert bid.commitment is not None
        salt = secrets.token_bytes(protocol.SALT_BYTES)
        commitment = protocol.withdrawal_commitment(salt, bytes.fromhex(bid.commitment))
        fields = {"commitment": commitment.hex()}
        if notice.sealing == "tlock":
            fields["tlock"] = tlock.seal(
                protocol.tlock_plaintext(salt, withdraws=bytes.fromhex(bid.commitment)),
                tlock_round_of(notice.bid_deadline),
            )
        else:
            bid.withdrawal_sealed = sealer.seal(withdrawal_label(bid.public_id), salt)
        await session.flush()
        appended = await log.append(session, type=protocol.SEALED_TYPE, fields=fields)
        bid.withdrawal_seq = appended.seq
        await session.flush()
    if protocol.parse_ts(appended.ts) >= notice.bid_deadline:
        raise Conflict(N_("The bid deadline has passed."))
    return bid


# -- MSP/2: the sealed material of a bid, and opening a notice's bids -------------------------


async def _open_timelocked(
    session: AsyncSession, notice: Notice, rows: Sequence[Bid], signature: bytes
) -> dict[int, dict[str, Any]]:
    """The timelock plaintexts of a notice's sealed entries (bids and withdrawals), by
    seq, opened from the public log with the deadline round's signature."""
    seqs = [b.seq for b in rows] + [b.withdrawal_seq for b in rows if b.withdrawal_seq is not None]
    if not seqs:
        return {}
    round_number = tlock_round_of(notice.bid_deadline)
    found = await session.execute(
        sa.text("SELECT seq, entry FROM log_entry WHERE seq = ANY(:seqs)"), {"seqs": seqs}
    )
    opened: dict[int, dict[str, Any]] = {}
    for seq, raw in found.all():
        entry = protocol.parse_canonical(bytes(raw))
        plaintext = tlock.open_sealed(str(entry["tlock"]), round_number, signature)
        opened[int(seq)] = protocol.parse_canonical(plaintext)
    return opened


def bid_label(bid_id: str) -> str:
    return f"bid/{bid_id}"


def withdrawal_label(bid_id: str) -> str:
    return f"bid/{bid_id}/withdrawal"


@dataclass(frozen=True)
class SealedBid:
    """What the server seals of an MSP/2 bid (server sealing): the document and the salt
    that open its commitment, and the receipt its bidder was given."""

    document: bytes
    salt: bytes
    receipt: str

    def to_bytes(self) -> bytes:
        return protocol.canonical_json(
            {"document": self.document.decode("utf-8"), "salt": self.salt.hex(), "receipt": self.receipt}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedBid:
        value = protocol.parse_canonical(data)
        return cls(
            document=str(value["document"]).encode("utf-8"),
            salt=bytes.fromhex(value["salt"]),
            receipt=str(value["receipt"]),
        )


@dataclass(frozen=True)
class PlacedBid:
    """A bid just placed, with what its bidder alone may be shown (None for MSP/1, whose
    row holds it all)."""

    bid: Bid
    opened: SealedBid | None


def unseal(bid: Bid, sealer: SecretSealer) -> SealedBid | None:
    """An MSP/2 bid's sealed material (for its own bidder, and for the opening), or None
    for an MSP/1 bid."""
    if bid.protocol == 1 or bid.sealed is None:
        return None
    return SealedBid.from_bytes(sealer.open(bid_label(bid.public_id), bid.sealed))


@dataclass(frozen=True)
class Opened:
    """A notice's bids opened (MSP/2): the ``openings`` its closing or cancellation logs,
    and the standing bid documents among them, which play MSP/1's ``bids``."""

    openings: list[dict[str, Any]]
    standing: list[dict[str, Any]]


async def open_bids(
    session: AsyncSession, notice: Notice, sealer: SecretSealer, *, signature: bytes | None = None
) -> Opened:
    """Every bid ever placed on an MSP/2 notice, standing and withdrawn, opened as the
    protocol publishes them (sorted by bid id). Call only once bidding has ended; a tlock
    notice's bids need ``signature``, its deadline round's, and are opened from the log."""
    rows = (await session.execute(sa.select(Bid).where(col(Bid.notice_id) == notice.id))).scalars().all()
    timelocked: dict[int, dict[str, Any]] = {}
    if notice.sealing == "tlock":
        if signature is None:
            raise RuntimeError(
                f"the bids of {notice.public_id} are timelocked: opening them needs the round's signature"
            )
        timelocked = await _open_timelocked(session, notice, rows, signature)
    openings: list[dict[str, Any]] = []
    standing: list[dict[str, Any]] = []
    for bid in rows:
        withdrawn = None
        if notice.sealing == "tlock":
            opened = timelocked[bid.seq]
            sealed = SealedBid(
                document=protocol.canonical_json(opened["bid"]),
                salt=bytes.fromhex(opened["salt"]),
                receipt="",
            )
            if bid.withdrawal_seq is not None:
                withdrawn = (bytes.fromhex(timelocked[bid.withdrawal_seq]["salt"]), bid.withdrawal_seq)
        else:
            found = unseal(bid, sealer)
            if found is None:
                raise RuntimeError(
                    f"bid {bid.public_id} of MSP/2 notice {notice.public_id} has no sealed material"
                )
            sealed = found
            if bid.withdrawal_seq is not None and bid.withdrawal_sealed is not None:
                withdrawn = (
                    sealer.open(withdrawal_label(bid.public_id), bid.withdrawal_sealed),
                    bid.withdrawal_seq,
                )
        if protocol.bid_commitment(sealed.salt, sealed.document).hex() != bid.commitment:
            raise RuntimeError(f"bid {bid.public_id} does not open its own commitment")
        item = protocol.opening(sealed.document, sealed.salt, bid.seq, withdrawn)
        openings.append(item)
        if withdrawn is None:
            standing.append(item["bid"])
    openings.sort(key=lambda o: o["bid"]["bid_id"].encode("utf-8"))
    # (A cancellation's openings list its released bids as standing: it speaks for them.)
    standing.sort(key=lambda d: d["bid_id"].encode("utf-8"))
    return Opened(openings=openings, standing=standing)


@dataclass(frozen=True)
class OwnBid:
    """One of an agency's own bids as its pages and API show it to that agency alone: for
    MSP/2, the sealed material opened for it (price, document, salt, receipt), and the
    entry that opened it once bidding has ended."""

    bid: Bid
    notice: Notice
    opened: SealedBid | None
    opened_in: int | None

    @property
    def public_id(self) -> str:
        return self.bid.public_id

    @property
    def status(self) -> str:
        return self.bid.status

    @property
    def protocol(self) -> int:
        return self.bid.protocol

    @property
    def document(self) -> bytes | None:
        return self.opened.document if self.opened is not None else self.bid.document

    @property
    def price_fen(self) -> int | None:
        if self.opened is None:
            return self.bid.price_fen
        price = protocol.parse_canonical(self.opened.document).get("price_fen")
        return price if isinstance(price, int) else None

    @property
    def receipt(self) -> str | None:
        return self.opened.receipt if self.opened is not None else self.bid.receipt

    @property
    def salt(self) -> str | None:
        return self.opened.salt.hex() if self.opened is not None else None

    # The row's own facts, by the names the pages use.
    seq = property(lambda self: self.bid.seq)
    leaf_hash = property(lambda self: self.bid.leaf_hash)
    commitment = property(lambda self: self.bid.commitment)
    bid_sha256 = property(lambda self: self.bid.bid_sha256)
    created_at = property(lambda self: self.bid.created_at)
    withdrawn_at = property(lambda self: self.bid.withdrawn_at)
    withdrawal_seq = property(lambda self: self.bid.withdrawal_seq)


async def bids_of(
    session: AsyncSession, agency: Agency, *, sealer: SecretSealer, notice: Notice | None = None
) -> list[OwnBid]:
    """The agency's own bids (newest first), opened for it alone."""
    stmt = (
        sa.select(Bid, Notice)
        .join(Notice, col(Notice.id) == Bid.notice_id)
        .where(col(Bid.agency_id) == agency.id)
        .order_by(col(Bid.id).desc())
    )
    if notice is not None:
        stmt = stmt.where(col(Bid.notice_id) == notice.id)
    rows = [(b, n) for b, n in (await session.execute(stmt)).all()]
    ended = sorted(
        {
            n.public_id
            for b, n in rows
            if b.protocol >= 2 and n.status not in (NoticeStatus.open, NoticeStatus.draft)
        }
    )
    opened_in: dict[str, int] = {}
    if ended:
        found = await session.execute(
            sa.text(
                "SELECT notice_id, seq FROM log_entry WHERE notice_id = ANY(:ids) AND type IN ('bidding.closed', 'notice.cancelled')"
            ),
            {"ids": ended},
        )
        opened_in = {notice_id: int(seq) for notice_id, seq in found.all()}
    return [
        OwnBid(bid=b, notice=n, opened=unseal(b, sealer), opened_in=opened_in.get(n.public_id))
        for b, n in rows
    ]


async def own_bid(
    session: AsyncSession, *, user: AppUser, notice_id: str, bid_id: str, sealer: SecretSealer
) -> OwnBid:
    """One of the caller's own bids; anyone else's is "not found" (its existence is sealed)."""
    agency = await agencies.agency_of(session, user) if user.role == Role.agency else None
    notice = await get_notice(session, notice_id)
    if agency is None or notice.status == NoticeStatus.draft:
        raise NotFound(N_("You have no such bid."))
    for own in await bids_of(session, agency, notice=notice, sealer=sealer):
        if own.public_id == bid_id:
            return own
    raise NotFound(N_("You have no such bid."))


def receipt_body(
    opened: SealedBid, *, checkpoint: str | None = None, inclusion: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The receipt file's shape (``market receipt check``)."""
    return {
        "format": RECEIPT_FORMAT,
        "receipt": opened.receipt,
        "document": opened.document.decode("utf-8"),
        "checkpoint": checkpoint,
        "inclusion": inclusion,
    }


async def receipt_file(session: AsyncSession, own: OwnBid) -> dict[str, Any]:
    """What an MSP/2 bidder keeps to prove its bid later, without the marketplace
    (``market receipt check FILE --url URL``): the signed receipt and its claims, the bid
    document that the salt opens, and the entry's inclusion proof in the latest signed
    checkpoint (docs/protocol/msp.md section 6)."""
    if own.protocol == 1 or own.opened is None:
        raise Conflict(N_("This bid was placed under MSP/1; its receipt is shown on the notice page."))
    checkpoint = await log.latest_checkpoint(session)
    inclusion: dict[str, Any] | None = None
    if checkpoint is not None and checkpoint.size > own.bid.seq:
        leaf, proof = await log.inclusion_proof(session, own.bid.seq, checkpoint.size)
        inclusion = {
            "index": own.bid.seq,
            "size": checkpoint.size,
            "leaf_hash": leaf.hex(),
            "hashes": [h.hex() for h in proof],
        }
    return receipt_body(
        own.opened,
        checkpoint=checkpoint.note if checkpoint is not None and inclusion is not None else None,
        inclusion=inclusion,
    )
