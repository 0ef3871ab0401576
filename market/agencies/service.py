"""Agencies: onboarding, review workflow, qualifications, documents, the public directory.

Every status change writes its log entry in the same transaction (public business facts:
ids, name, credit code, categories, levels, reasons; never contact details or people's
names). Rules that can be pure live in rules.py, creditcode.py and market/reference.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.agencies import rules
from market.agencies.creditcode import CreditCodeError, validate_credit_code
from market.agencies.models import (
    Agency,
    AgencyCategory,
    AgencyCreate,
    AgencyDocument,
    AgencyOrgLink,
    AgencyReview,
    AgencyStatus,
    Qualification,
    QualificationInput,
    ReviewStatus,
)
from market.core import text
from market.core.clock import utcnow
from market.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from market.core.i18n import N_
from market.core.ids import next_public_id
from market.core.pagination import decode_cursor, encode_cursor
from market.core.sql import like_pattern
from market.log import store as log
from market.reference import catalogue, regions
from market.security import uploads

AGENCY_ID_SEQUENCE = "agency_public_seq"
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DOCUMENT_KINDS = ("licence", "certificate", "other")
# What a document's first bytes must be; the name's extension must agree.
SIGNATURES = (
    (b"%PDF-", "application/pdf", (".pdf",)),
    (b"\x89PNG\r\n\x1a\n", "image/png", (".png",)),
    (b"\xff\xd8\xff", "image/jpeg", (".jpg", ".jpeg")),
)


@dataclass
class Profile:
    agency: Agency
    categories: list[str] = field(default_factory=list)
    qualifications: list[Qualification] = field(default_factory=list)
    documents: list[AgencyDocument] = field(default_factory=list)
    reviews: list[AgencyReview] = field(default_factory=list)

    @property
    def approved_qualifications(self) -> list[Qualification]:
        return [q for q in self.qualifications if q.status == ReviewStatus.approved]

    @property
    def pending_qualifications(self) -> list[Qualification]:
        return [q for q in self.qualifications if q.status == ReviewStatus.pending]

    def facts(self) -> rules.AgencyFacts:
        """What eligibility needs to know, as plain data."""
        agency = self.agency
        return rules.agency_facts(
            agency_id=agency.public_id,
            status=agency.status,
            region=agency.region,
            status_until=agency.status_until,
            categories=self.categories,
            qualifications=(
                rules.Qualification(
                    category=q.category,
                    level=q.level,
                    certificate_no=q.certificate_no,
                    valid_until=q.valid_until,
                    approved=q.status == ReviewStatus.approved,
                )
                for q in self.qualifications
                if q.status in (ReviewStatus.approved, ReviewStatus.pending)
            ),
        )


# -- checks -----------------------------------------------------------------------------------


def check_credit_code(text: str, field_name: str = "credit_code") -> str:
    try:
        return validate_credit_code(text).code
    except CreditCodeError as exc:
        # The checker's own words say exactly which check failed and what it expected.
        raise InvalidInput(
            N_("The credit code is not valid."), [FieldError(field_name, str(exc), zh=exc.message_zh)]
        ) from None


def check_region(code: str, field_name: str = "region") -> str:
    try:
        return regions.region(code).code
    except regions.UnknownRegion:
        raise InvalidInput(
            N_("Unknown region."),
            [FieldError(field_name, N_("Choose a region from the list (GB/T 2260 code)."))],
        ) from None


def check_categories(codes: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(c.strip() for c in codes))
    for code in unique:
        try:
            catalogue.category(code)
        except catalogue.UnknownCategory:
            raise InvalidInput(
                N_("Unknown service category."),
                [FieldError("categories", N_("Unknown service category: {code}."), {"code": code})],
            ) from None
    return unique


def check_qualification(
    q: QualificationInput, *, categories: Sequence[str] | None, today: date, where: str
) -> None:
    try:
        levels = catalogue.level_codes(q.category)
    except catalogue.UnknownCategory:
        raise InvalidInput(
            N_("Unknown service category."),
            [FieldError(f"{where}.category", N_("Unknown service category: {code}."), {"code": q.category})],
        ) from None
    if categories is not None and q.category not in categories:
        raise InvalidInput(
            N_("A qualification must be for one of the agency's service categories."),
            [FieldError(f"{where}.category", N_("Add this category to the agency's services first."))],
        )
    if levels and q.level not in levels:
        raise InvalidInput(
            N_("This category has no such qualification level."),
            [
                FieldError(
                    f"{where}.level",
                    N_("Choose one of this category's levels: {levels}."),
                    {"levels": ", ".join(levels)},
                )
            ],
        )
    if not levels and q.level is not None:
        raise InvalidInput(
            N_("This category has no qualification levels."),
            [FieldError(f"{where}.level", N_("Leave the level empty for this category."))],
        )
    if q.valid_until < today:
        raise InvalidInput(
            N_("The certificate has already expired."),
            [FieldError(f"{where}.valid_until", N_("The certificate has already expired."))],
        )


def check_publishable(text: str, field_name: str) -> str:
    """Text that will be published in the log must not carry personal contact data; refused
    here, beside its field and before anything is written, rather than by the log itself."""
    if log.EMAIL_LIKE.search(text):
        raise InvalidInput(
            N_("This text is published in the public log; remove the e-mail address."),
            [
                FieldError(
                    field_name, N_("This text is published in the public log; remove the e-mail address.")
                )
            ],
        )
    return text


def qualification_fact(q: Qualification) -> dict[str, Any]:
    return {
        "category": q.category,
        "level": q.level,
        "certificate_no": q.certificate_no,
        "valid_until": q.valid_until.isoformat(),
    }


def _base_fact(agency: Agency) -> dict[str, Any]:
    return {"agency_id": agency.public_id, "name": agency.name, "credit_code": agency.credit_code}


# -- reading ----------------------------------------------------------------------------------


async def get_agency(session: AsyncSession, public_id: str, *, lock: bool = False) -> Agency:
    stmt = sa.select(Agency).where(col(Agency.public_id) == public_id)
    if lock:
        stmt = stmt.with_for_update()
    agency = (await session.execute(stmt)).scalar_one_or_none()
    if agency is None:
        raise NotFound(N_("No such agency."))
    return agency


async def agency_of(session: AsyncSession, owner: AppUser) -> Agency | None:
    return (
        await session.execute(sa.select(Agency).where(col(Agency.owner_id) == owner.id))
    ).scalar_one_or_none()


async def load_profile(session: AsyncSession, agency: Agency, *, private: bool = False) -> Profile:
    categories = (
        (
            await session.execute(
                sa.select(col(AgencyCategory.category))
                .where(col(AgencyCategory.agency_id) == agency.id)
                .order_by(AgencyCategory.category)
            )
        )
        .scalars()
        .all()
    )
    qualifications = (
        (
            await session.execute(
                sa.select(Qualification)
                .where(col(Qualification.agency_id) == agency.id)
                .order_by(col(Qualification.id))
            )
        )
        .scalars()
        .all()
    )
    profile = Profile(agency=agency, categories=list(categories), qualifications=list(qualifications))
    if private:
        profile.documents = list(
            (
                await session.execute(
                    sa.select(AgencyDocument)
                    .where(col(AgencyDocument.agency_id) == agency.id)
                    .order_by(col(AgencyDocument.id))
                )
            )
            .scalars()
            .all()
        )
        profile.reviews = list(
            (
                await session.execute(
                    sa.select(AgencyReview)
                    .where(col(AgencyReview.agency_id) == agency.id)
                    .order_by(col(AgencyReview.id).desc())
                )
            )
            .scalars()
            .all()
        )
    return profile


async def load_profiles(session: AsyncSession, agencies: list[Agency]) -> list[Profile]:
    """Public profiles of many agencies in two queries (a page of the directory)."""
    ids = [a.id for a in agencies if a.id is not None]
    categories: dict[int, list[str]] = {i: [] for i in ids}
    qualifications: dict[int, list[Qualification]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            sa.select(col(AgencyCategory.agency_id), AgencyCategory.category)
            .where(col(AgencyCategory.agency_id).in_(ids))
            .order_by(AgencyCategory.category)
        )
        for agency_id, category in rows.all():
            categories[agency_id].append(category)
        stmt = (
            sa.select(Qualification)
            .where(col(Qualification.agency_id).in_(ids))
            .order_by(col(Qualification.id))
        )
        for q in (await session.execute(stmt)).scalars().all():
            qualifications[q.agency_id].append(q)
    return [
        Profile(
            agency=a,
            categories=categories.get(a.id or 0, []),
            qualifications=qualifications.get(a.id or 0, []),
        )
        for a in agencies
    ]


def may_see_private(viewer: AppUser | None, agency: Agency) -> bool:
    """Contact details and documents: the agency itself, admins and supervisors. (Owners
    who awarded it a contract are added by the contracts issue.)"""
    if viewer is None:
        return False
    return viewer.role in (Role.admin, Role.supervisor) or viewer.id == agency.owner_id


PUBLIC_STATUSES = (AgencyStatus.approved, AgencyStatus.suspended, AgencyStatus.blacklisted)


@dataclass(frozen=True)
class DirectoryFilters:
    """The public directory's filters, checked (check_directory): the ORM path (the API)
    and the page's hand-written statement (queries.directory_page) read the same."""

    status: str
    name_like: str | None = None  # an ILIKE pattern, escaped...
    credit_code: str | None = None  # ...or exactly this credit code
    region_prefix: str | None = None  # the region's digits: its whole area matches
    category: str | None = None
    levels: tuple[str, ...] | None = None  # an approved qualification at one of these


def check_directory(
    *,
    q: str | None = None,
    category: str | None = None,
    level: str | None = None,
    region: str | None = None,
    status: str | None = None,
) -> DirectoryFilters:
    """The directory's filters, or InvalidInput naming the one that cannot apply."""
    wanted = AgencyStatus.approved.value if not status else status
    if wanted not in [s.value for s in PUBLIC_STATUSES]:
        raise InvalidInput(
            N_("Unknown status filter."),
            [FieldError("status", N_("Choose approved, suspended or blacklisted."))],
        )
    term = q.strip() if q else ""
    prefix = None
    if region:
        check_region(region)
        prefix = regions.scope_prefix(region)
    levels = None
    if category:
        check_categories([category])
        if level:
            codes = catalogue.level_codes(category)
            if level not in codes:
                raise InvalidInput(
                    N_("This category has no such qualification level."),
                    [
                        FieldError(
                            "level",
                            N_("Choose one of this category's levels: {levels}."),
                            {"levels": ", ".join(codes)},
                        )
                    ],
                )
            levels = tuple(codes[: codes.index(level) + 1])  # highest first
    elif level:
        raise InvalidInput(
            N_("Choose a category to filter by level."),
            [FieldError("level", N_("Choose a category to filter by level."))],
        )
    return DirectoryFilters(
        status=wanted,
        name_like=like_pattern(term) if term else None,
        credit_code=term.upper() if term else None,
        region_prefix=prefix,
        category=category or None,
        levels=levels,
    )


async def directory(
    session: AsyncSession,
    *,
    q: str | None = None,
    category: str | None = None,
    level: str | None = None,
    region: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Profile], str | None]:
    """The public directory: approved agencies (or suspended/blacklisted ones when asked),
    newest first, filtered; each with categories and approved qualifications."""
    after = decode_cursor(cursor)
    filters = check_directory(q=q, category=category, level=level, region=region, status=status)
    stmt = (
        sa.select(Agency)
        .where(col(Agency.status) == filters.status)
        .order_by(col(Agency.id).desc())
        .limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(col(Agency.id) < after)
    if filters.name_like:
        stmt = stmt.where(
            sa.or_(
                col(Agency.name).ilike(filters.name_like, escape="\\"),
                col(Agency.credit_code) == filters.credit_code,
            )
        )
    if filters.region_prefix:
        stmt = stmt.where(col(Agency.region).startswith(filters.region_prefix))
    if filters.category:
        stmt = stmt.where(
            sa.exists().where(
                col(AgencyCategory.agency_id) == Agency.id, col(AgencyCategory.category) == filters.category
            )
        )
    if filters.levels:
        stmt = stmt.where(
            sa.exists().where(
                col(Qualification.agency_id) == Agency.id,
                col(Qualification.category) == filters.category,
                col(Qualification.status) == ReviewStatus.approved.value,
                col(Qualification.level).in_(filters.levels),
            )
        )
    agencies = list((await session.execute(stmt)).scalars().all())
    next_cursor = (
        encode_cursor(agencies[limit - 1].id)
        if len(agencies) > limit and agencies[limit - 1].id is not None
        else None
    )
    return await load_profiles(session, agencies[:limit]), next_cursor


async def related_to_org(
    session: AsyncSession, org_id: int | None, agency_ids: Sequence[str] | None = None
) -> set[str]:
    """The agencies (public ids; among ``agency_ids`` when given) that are one party with the
    owner organisation: the same unified social credit code, or linked by an admin. They can
    never bid on, or be named directly by, its notices (no dealing with yourself)."""
    if org_id is None:
        return set()
    from market.notices.models import OwnerOrg  # notices build on agencies, not the reverse

    same_code = sa.select(col(OwnerOrg.credit_code)).where(col(OwnerOrg.id) == org_id).scalar_subquery()
    linked = sa.select(col(AgencyOrgLink.agency_id)).where(col(AgencyOrgLink.org_id) == org_id)
    stmt = sa.select(col(Agency.public_id)).where(
        sa.or_(col(Agency.credit_code) == same_code, Agency.id.in_(linked))
    )  # type: ignore[union-attr]
    if agency_ids is not None:
        stmt = stmt.where(Agency.public_id.in_(list(agency_ids)))  # type: ignore[attr-defined]
    return set((await session.execute(stmt)).scalars().all())


async def link_to_org(
    session: AsyncSession, *, actor: AppUser, agency_id: str, org_id: str, reason: str
) -> AgencyOrgLink:
    """An admin records that an agency and an owner organisation are one party (logged)."""
    from market.notices.models import OwnerOrg

    if actor.role != Role.admin:
        raise Forbidden(N_("Only an administrator can link an agency to an owner organisation."))
    agency = await get_agency(session, agency_id, lock=True)
    org = (
        await session.execute(sa.select(OwnerOrg).where(col(OwnerOrg.public_id) == org_id))
    ).scalar_one_or_none()
    if org is None:
        raise InvalidInput(
            N_("No owner organisation has this id."),
            [FieldError("org_id", N_("No owner organisation has this id."))],
        )
    reason = check_publishable(reason.strip(), "reason")
    if not reason:
        raise InvalidInput(
            N_("Give a reason; it is published."),
            [FieldError("reason", N_("Give a reason; it is published."))],
        )
    exists = sa.select(col(AgencyOrgLink.id)).where(
        col(AgencyOrgLink.agency_id) == agency.id, col(AgencyOrgLink.org_id) == org.id
    )
    if (await session.execute(exists)).first() is not None:
        raise Conflict(N_("This agency is already linked to this owner organisation."))
    entry = await log.append(
        session,
        type="agency.linked",
        fields={
            "agency_id": agency.public_id,
            "org_id": org.public_id,
            "reason": reason,
            "by": actor.public_id,
        },
    )
    link = AgencyOrgLink(
        agency_id=agency.id, org_id=org.id, reason=reason, linked_by=actor.id, log_seq=entry.seq
    )  # type: ignore[arg-type]
    session.add(link)
    await session.flush()
    return link


async def orgs_sharing_credit_code(
    session: AsyncSession, agencies: Sequence[Agency]
) -> dict[int, tuple[str, str]]:
    """For the reviewer: agencies registered with the credit code of an owner organisation
    ({agency row id: (org public id, org name)})."""
    from market.notices.models import OwnerOrg

    codes = {a.credit_code: a.id for a in agencies}
    if not codes:
        return {}
    stmt = sa.select(col(OwnerOrg.credit_code), OwnerOrg.public_id, OwnerOrg.name).where(
        col(OwnerOrg.credit_code).in_(list(codes))
    )  # type: ignore[attr-defined]
    return {codes[code]: (public_id, name) for code, public_id, name in (await session.execute(stmt)).all()}


async def review_queue(session: AsyncSession) -> tuple[list[Profile], list[tuple[Agency, Qualification]]]:
    """Agencies waiting for review, oldest first, and qualifications waiting on approved agencies."""
    pending = (
        (
            await session.execute(
                sa.select(Agency)
                .where(col(Agency.status) == AgencyStatus.pending.value)
                .order_by(col(Agency.updated_at))
            )
        )
        .scalars()
        .all()
    )
    changes = (
        await session.execute(
            sa.select(Agency, Qualification)
            .join(Qualification, col(Qualification.agency_id) == Agency.id)
            .where(
                col(Qualification.status) == ReviewStatus.pending.value,
                col(Agency.status) != AgencyStatus.pending.value,
            )
            .order_by(col(Qualification.id))
        )
    ).all()
    return [await load_profile(session, a, private=True) for a in pending], [(a, q) for a, q in changes]


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = (
        await session.execute(sa.select(col(Agency.status), sa.func.count()).group_by(Agency.status))
    ).all()
    out = {s.value: 0 for s in AgencyStatus}
    out.update({str(status): int(n) for status, n in rows})
    return out


# -- onboarding -------------------------------------------------------------------------------


def check_profile(data: AgencyCreate, *, today: date) -> tuple[str, str, list[str]]:
    """Everything about a submitted profile that needs no database: the normalised credit
    code, the region and the categories, or InvalidInput naming the first bad field."""
    credit_code = check_credit_code(data.credit_code)
    check_publishable(data.name, "name")
    region = check_region(data.region)
    categories = check_categories(data.categories)
    for i, q in enumerate(data.qualifications):
        check_qualification(q, categories=categories, today=today, where=f"qualifications[{i}]")
        check_publishable(q.certificate_no, f"qualifications[{i}].certificate_no")
    return credit_code, region, categories


async def submit(session: AsyncSession, *, owner: AppUser, data: AgencyCreate, today: date) -> Agency:
    """An agency user registers its agency; it waits for review."""
    if owner.role != Role.agency:
        raise Forbidden(N_("Only agency accounts can register an agency."))
    if await agency_of(session, owner) is not None:
        raise Conflict(N_("This account has already registered an agency."))
    credit_code, region, categories = check_profile(data, today=today)
    if (
        await session.execute(sa.select(col(Agency.id)).where(col(Agency.credit_code) == credit_code))
    ).first():
        raise Conflict(
            N_("An agency with this credit code is already registered."),
            [FieldError("credit_code", N_("An agency with this credit code is already registered."))],
        )
    agency = Agency(
        public_id=await next_public_id(session, prefix="AG", sequence=AGENCY_ID_SEQUENCE),
        owner_id=owner.id,  # type: ignore[arg-type]
        name=data.name,
        credit_code=credit_code,
        region=region,
        legal_representative=data.legal_representative,
        contact_phone=data.contact_phone,
        address=data.address,
    )
    try:
        async with session.begin_nested():
            session.add(agency)
            await session.flush()
            session.add_all(AgencyCategory(agency_id=agency.id, category=c) for c in categories)  # type: ignore[arg-type]
            session.add_all(
                Qualification(
                    agency_id=agency.id,
                    category=q.category,
                    level=q.level,
                    certificate_no=q.certificate_no,
                    valid_until=q.valid_until,
                )  # type: ignore[arg-type]
                for q in data.qualifications
            )
    except IntegrityError:
        raise Conflict(
            N_("An agency with this credit code is already registered."),
            [FieldError("credit_code", N_("An agency with this credit code is already registered."))],
        ) from None
    quals = [
        qualification_fact(
            Qualification(
                category=q.category,
                level=q.level,
                certificate_no=q.certificate_no,
                valid_until=q.valid_until,
                agency_id=0,
            )
        )
        for q in data.qualifications
    ]
    await log.append(
        session,
        type="agency.submitted",
        fields={**_base_fact(agency), "region": region, "categories": categories, "qualifications": quals},
    )
    return agency


# -- review workflow --------------------------------------------------------------------------

# action -> (statuses it starts from, status it leads to, log type)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "approve": (("pending",), "approved", "agency.approved"),
    "reject": (("pending",), "rejected", "agency.rejected"),
    "suspend": (("approved",), "suspended", "agency.suspended"),
    "reinstate": (("suspended",), "approved", "agency.reinstated"),
    "blacklist": (("pending", "approved", "rejected", "suspended"), "blacklisted", "agency.blacklisted"),
    "lift_blacklist": (("blacklisted",), "approved", "agency.blacklist_lifted"),
}
NEEDS_REASON = {"reject", "suspend", "reinstate", "blacklist", "lift_blacklist"}


# Supervisors (监管) may suspend an agency they find at fault; every other decision on an
# agency's standing (approval, reinstatement, blacklisting) stays with administrators.
SUPERVISOR_ACTIONS = frozenset({"suspend"})


def _check_staff(actor: AppUser, agency: Agency, action: str | None = None) -> None:
    if actor.role != Role.admin and not (actor.role == Role.supervisor and action in SUPERVISOR_ACTIONS):
        raise Forbidden(N_("Only administrators review agencies."))
    if actor.id == agency.owner_id:
        raise Forbidden(N_("Nobody may review their own agency."))


async def transition(
    session: AsyncSession,
    *,
    agency_id: str,
    actor: AppUser,
    action: str,
    reason: str = "",
    until: date | None = None,
    today: date,
) -> Agency:
    """Move an agency through its review workflow; 409 when its status does not allow it."""
    if action not in TRANSITIONS:
        raise InvalidInput(N_("Unknown decision."), [FieldError("decision", N_("Choose approve or reject."))])
    agency = await get_agency(session, agency_id, lock=True)
    _check_staff(actor, agency, action)
    allowed_from, to_status, log_type = TRANSITIONS[action]
    if agency.status not in allowed_from:
        raise Conflict(
            N_("The agency's status does not allow this now."),
            [FieldError("status", N_("The agency is {status} now."), {"status": agency.status})],
        )
    reason = check_publishable(reason.strip(), "reason")
    if action in NEEDS_REASON and not reason:
        raise InvalidInput(
            N_("Give a reason."), [FieldError("reason", N_("Give a reason; it is published."))]
        )
    if until is not None and until < today:
        raise InvalidInput(
            N_("The end date is in the past."), [FieldError("until", N_("The end date is in the past."))]
        )
    profile = await load_profile(session, agency)
    from_status = agency.status
    if action == "approve":
        for q in profile.pending_qualifications:
            await _settle_qualification(session, q, approve=True, reason="")
    agency.status = to_status
    agency.status_reason = reason
    agency.status_until = until if action in ("suspend", "blacklist") else None
    agency.updated_at = utcnow()
    await session.flush()
    profile = await load_profile(session, agency)
    fields: dict[str, Any] = {**_base_fact(agency), "reason": reason}
    if action in ("approve", "reject", "reinstate", "lift_blacklist"):
        fields["categories"] = profile.categories
        fields["qualifications"] = [qualification_fact(q) for q in profile.approved_qualifications]
    if action in ("suspend", "blacklist"):
        fields["until"] = until.isoformat() if until else None
    appended = await log.append(session, type=log_type, fields=fields)
    session.add(
        AgencyReview(
            agency_id=agency.id,  # type: ignore[arg-type]
            action=action,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            until=agency.status_until,
            actor_id=actor.id,  # type: ignore[arg-type]
            log_seq=appended.seq,
        )
    )
    return agency


async def resubmit(session: AsyncSession, *, owner: AppUser, data: AgencyCreate, today: date) -> Agency:
    """A rejected agency corrects its profile and asks for review again."""
    agency = await agency_of(session, owner)
    if agency is None:
        raise NotFound(N_("This account has not registered an agency yet."))
    agency = await get_agency(session, agency.public_id, lock=True)
    if agency.status != AgencyStatus.rejected:
        raise Conflict(
            N_("Only a rejected agency can be submitted again; change qualifications one by one instead.")
        )
    credit_code, region, categories = check_profile(data, today=today)
    clash = (
        await session.execute(
            sa.select(col(Agency.id)).where(
                col(Agency.credit_code) == credit_code, col(Agency.id) != agency.id
            )
        )
    ).first()
    if clash:
        raise Conflict(
            N_("An agency with this credit code is already registered."),
            [FieldError("credit_code", N_("An agency with this credit code is already registered."))],
        )
    agency.name, agency.credit_code, agency.region = data.name, credit_code, region
    agency.legal_representative, agency.contact_phone, agency.address = (
        data.legal_representative,
        data.contact_phone,
        data.address,
    )
    agency.status, agency.status_reason, agency.updated_at = AgencyStatus.pending.value, "", utcnow()
    await session.execute(sa.delete(AgencyCategory).where(col(AgencyCategory.agency_id) == agency.id))
    for old in (await load_profile(session, agency)).qualifications:
        if old.status in (ReviewStatus.pending, ReviewStatus.approved):
            old.status = ReviewStatus.superseded.value
    session.add_all(AgencyCategory(agency_id=agency.id, category=c) for c in categories)  # type: ignore[arg-type]
    session.add_all(
        Qualification(
            agency_id=agency.id,
            category=q.category,
            level=q.level,
            certificate_no=q.certificate_no,
            valid_until=q.valid_until,
        )  # type: ignore[arg-type]
        for q in data.qualifications
    )
    await session.flush()
    quals = [
        {
            "category": q.category,
            "level": q.level,
            "certificate_no": q.certificate_no,
            "valid_until": q.valid_until.isoformat(),
        }
        for q in data.qualifications
    ]
    await log.append(
        session,
        type="agency.submitted",
        fields={**_base_fact(agency), "region": region, "categories": categories, "qualifications": quals},
    )
    return agency


# -- qualifications ---------------------------------------------------------------------------


async def add_qualification(
    session: AsyncSession, *, owner: AppUser, data: QualificationInput, replaces: int | None, today: date
) -> Qualification:
    """A new or changed qualification; it counts only once an admin approves it."""
    agency = await agency_of(session, owner)
    if agency is None:
        raise NotFound(N_("This account has not registered an agency yet."))
    if agency.status == AgencyStatus.blacklisted:
        raise Conflict(N_("A blacklisted agency cannot change its qualifications."))
    profile = await load_profile(session, agency)
    check_qualification(data, categories=None, today=today, where="qualification")
    check_publishable(data.certificate_no, "certificate_no")
    replaced = None
    if replaces is not None:
        replaced = next(
            (q for q in profile.qualifications if q.id == replaces and q.status == ReviewStatus.approved),
            None,
        )
        if replaced is None:
            raise NotFound(N_("No such approved qualification to replace."))
    qualification = Qualification(
        agency_id=agency.id,  # type: ignore[arg-type]
        category=data.category,
        level=data.level,
        certificate_no=data.certificate_no,
        valid_until=data.valid_until,
        replaces_id=replaces,
    )
    session.add(qualification)
    await session.flush()
    await log.append(
        session,
        type="agency.qualification_submitted",
        fields={
            "agency_id": agency.public_id,
            "qualification": qualification_fact(qualification),
            "replaces": replaced.certificate_no if replaced else None,
        },
    )
    return qualification


async def _settle_qualification(
    session: AsyncSession, q: Qualification, *, approve: bool, reason: str
) -> None:
    q.status = (ReviewStatus.approved if approve else ReviewStatus.rejected).value
    q.review_reason = reason
    if approve:
        # A qualification in a new category adds the category only once it is approved.
        held = await session.get(AgencyCategory, (q.agency_id, q.category))
        if held is None:
            session.add(AgencyCategory(agency_id=q.agency_id, category=q.category))
    if approve and q.replaces_id is not None:
        old = await session.get(Qualification, q.replaces_id)
        if old is not None and old.status == ReviewStatus.approved:
            old.status = ReviewStatus.superseded.value


async def review_qualification(
    session: AsyncSession,
    *,
    agency_id: str,
    qualification_id: int,
    actor: AppUser,
    decision: str,
    reason: str,
) -> Qualification:
    agency = await get_agency(session, agency_id, lock=True)
    _check_staff(actor, agency)
    if decision not in ("approve", "reject"):
        raise InvalidInput(N_("Unknown decision."), [FieldError("decision", N_("Choose approve or reject."))])
    q = await session.get(Qualification, qualification_id, with_for_update=True)
    if q is None or q.agency_id != agency.id:
        raise NotFound(N_("No such qualification."))
    if q.status != ReviewStatus.pending:
        raise Conflict(N_("This qualification has already been reviewed."))
    if decision == "reject" and not reason.strip():
        raise InvalidInput(
            N_("Give a reason."), [FieldError("reason", N_("Give a reason; it is published."))]
        )
    check_publishable(reason, "reason")
    await _settle_qualification(session, q, approve=decision == "approve", reason=reason.strip())
    await session.flush()
    await log.append(
        session,
        type=f"agency.qualification_{'approved' if decision == 'approve' else 'rejected'}",
        fields={
            "agency_id": agency.public_id,
            "qualification": qualification_fact(q),
            "reason": reason.strip(),
        },
    )
    return q


# -- documents --------------------------------------------------------------------------------


def sniff(filename: str, content: bytes) -> str:
    """The content type a document really has; refuses anything but PDF, PNG and JPEG, and
    a name whose extension says otherwise (pure)."""
    if not content:
        raise InvalidInput(N_("The file is empty."), [FieldError("file", N_("The file is empty."))])
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(
            N_("The file is larger than 10 MB."), [FieldError("file", N_("The file is larger than 10 MB."))]
        )
    extension = Path(filename.lower()).suffix
    for magic, content_type, extensions in SIGNATURES:
        if content.startswith(magic):
            if extension not in extensions:
                raise InvalidInput(
                    N_("The file's name does not match its content."),
                    [
                        FieldError(
                            "file",
                            N_("The file is a {kind} but its name ends in {extension}."),
                            {"kind": content_type, "extension": extension or "(none)"},
                        )
                    ],
                )
            # The first bytes are not enough: polyglots start like a PDF or PNG too.
            reason = uploads.problem(content_type, content)
            if reason is not None:
                raise InvalidInput(reason, [FieldError("file", reason)])
            return content_type
    raise InvalidInput(
        N_("Only PDF, PNG and JPEG files are accepted."),
        [FieldError("file", N_("Only PDF, PNG and JPEG files are accepted."))],
    )


def document_path(data_dir: Path, agency: Agency, sha256: str, content_type: str) -> Path:
    suffix = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}[content_type]
    return data_dir / "uploads" / "agencies" / agency.public_id / f"{sha256}{suffix}"


async def add_document(
    session: AsyncSession, *, owner: AppUser, kind: str, filename: str, content: bytes, data_dir: Path
) -> AgencyDocument:
    agency = await agency_of(session, owner)
    if agency is None:
        raise NotFound(N_("This account has not registered an agency yet."))
    if kind not in DOCUMENT_KINDS:
        raise InvalidInput(
            N_("Unknown kind of document."), [FieldError("kind", N_("Choose licence, certificate or other."))]
        )
    content_type = await asyncio.to_thread(
        sniff, filename, content
    )  # a PDF is parsed (seconds for a big one): off the event loop
    name = text.upload_name(filename, "document")  # refused before anything is written
    digest = hashlib.sha256(content).hexdigest()
    path = document_path(data_dir, agency, digest, content_type)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Content-addressed: a rolled-back upload leaves at most an unreferenced copy behind.
    if not path.exists():
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(content)
        tmp.replace(path)
    name = name if name != "document" else f"document{path.suffix}"
    document = AgencyDocument(
        agency_id=agency.id,
        kind=kind,
        filename=name,
        content_type=content_type,
        size=len(content),
        sha256=digest,  # type: ignore[arg-type]
    )
    session.add(document)
    await session.flush()
    await log.append(
        session,
        type="agency.document_added",
        fields={
            "agency_id": agency.public_id,
            "kind": kind,
            "content_type": content_type,
            "size": len(content),
            "sha256": digest,
        },
    )
    return document


async def read_document(
    session: AsyncSession, *, agency_id: str, document_id: int, viewer: AppUser | None, data_dir: Path
) -> tuple[AgencyDocument, Path]:
    agency = await get_agency(session, agency_id)
    if not may_see_private(viewer, agency):
        raise Forbidden(N_("Only the agency, administrators and supervisors may see its documents."))
    document = await session.get(AgencyDocument, document_id)
    if document is None or document.agency_id != agency.id:
        raise NotFound(N_("No such document."))
    path = document_path(data_dir, agency, document.sha256, document.content_type)
    if not path.exists():
        raise NotFound(N_("The stored file is missing."))
    return document, path
