"""Agencies: onboarding, review workflow, qualifications, documents, the public directory.

Every status change writes its log entry in the same transaction (public business facts:
ids, name, credit code, categories, levels, reasons; never contact details or people's
names). Rules that can be pure live in rules.py, creditcode.py and market/reference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, HasRole, Role
from market.agencies import queries, rules
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
from market.core.clock import CHINA, utcnow
from market.core.config import Settings
from market.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from market.core.i18n import N_
from market.core.ids import next_public_id
from market.files import store as files
from market.files.models import StoredFile
from market.halls import rules as halls
from market.inbox import service as inbox
from market.log import store as log
from market.protocol import entry_types
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


# -- checks -----------------------------------------------------------------------------------


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


def may_review(who: HasRole | None) -> bool:
    """Reviewing agencies (approving, rejecting, qualifications, links) is the admins' work;
    supervisors see the queue without acting on it."""
    return who is not None and who.role == Role.admin


OUTSIDE = N_("This is outside your jurisdiction.")
# Blacklisting bars an agency from the whole province: the province's decision alone.
PROVINCE_ACTIONS = frozenset({"blacklist", "lift_blacklist"})


def reaches(actor: AppUser, agency: Agency, action: str | None = None) -> bool:
    """Whether ``actor``'s jurisdiction reaches ``agency`` for ``action``: its registered
    region (review, qualifications, suspension, reinstatement, links); blacklisting and
    lifting it are the province's only. Every staff member still sees every agency."""
    if action in PROVINCE_ACTIONS:
        return actor.jurisdiction == halls.PROVINCE
    return halls.reaches(actor.jurisdiction, agency.region)


def require_reach(actor: AppUser, agency: Agency, action: str | None = None) -> None:
    if not reaches(actor, agency, action):
        raise Forbidden(OUTSIDE)


def may_see_private(viewer: AppUser | None, agency: Agency) -> bool:
    """Contact details and documents: the agency itself, admins and supervisors. (Owners
    who awarded it a contract are added by the contracts issue.)"""
    if viewer is None:
        return False
    return viewer.role in (Role.admin, Role.supervisor) or viewer.id == agency.owner_id


async def link_to_org(
    session: AsyncSession, *, actor: AppUser, agency_id: str, org_id: str, reason: str
) -> AgencyOrgLink:
    """An admin records that an agency and an owner organisation are one party (logged)."""
    from market.notices.models import OwnerOrg

    if not may_review(actor):
        raise Forbidden(N_("Only an administrator can link an agency to an owner organisation."))
    agency = await get_agency(session, agency_id, lock=True)
    require_reach(actor, agency)
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
        type=entry_types.AGENCY_LINKED,
        fields={
            "agency_id": agency.public_id,
            "org_id": org.public_id,
            "reason": reason,
            "by": actor.public_id,
        },
    )
    assert agency.id is not None and org.id is not None and actor.id is not None
    link = AgencyOrgLink(
        agency_id=agency.id, org_id=org.id, reason=reason, linked_by=actor.id, log_seq=entry.seq
    )
    session.add(link)
    await session.flush()
    return link


# -- onboarding -------------------------------------------------------------------------------


def check_profile(data: AgencyCreate, *, today: date) -> tuple[str, str, list[str]]:
    """Everything about a submitted profile that needs no database: the normalised credit
    code, the region and the categories, or InvalidInput naming the first bad field."""
    credit_code = rules.check_credit_code(data.credit_code)
    check_publishable(data.name, "name")
    region = rules.check_region(data.region)
    categories = rules.check_categories(data.categories)
    for i, q in enumerate(data.qualifications):
        rules.check_qualification(q, categories=categories, today=today, where=f"qualifications[{i}]")
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
            agency_row_id = agency.id
            assert agency_row_id is not None
            session.add_all(AgencyCategory(agency_id=agency_row_id, category=c) for c in categories)
            session.add_all(
                Qualification(
                    agency_id=agency_row_id,
                    category=q.category,
                    level=q.level,
                    certificate_no=q.certificate_no,
                    valid_until=q.valid_until,
                )
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
        type=entry_types.AGENCY_SUBMITTED,
        fields={**_base_fact(agency), "region": region, "categories": categories, "qualifications": quals},
    )
    return agency


# -- review workflow --------------------------------------------------------------------------

# action -> (statuses it starts from, status it leads to, log type)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "approve": (("pending",), "approved", entry_types.AGENCY_APPROVED),
    "reject": (("pending",), "rejected", entry_types.AGENCY_REJECTED),
    "suspend": (("approved",), "suspended", entry_types.AGENCY_SUSPENDED),
    "reinstate": (("suspended",), "approved", entry_types.AGENCY_REINSTATED),
    "blacklist": (
        ("pending", "approved", "rejected", "suspended"),
        "blacklisted",
        entry_types.AGENCY_BLACKLISTED,
    ),
    "lift_blacklist": (("blacklisted",), "approved", entry_types.AGENCY_BLACKLIST_LIFTED),
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
    require_reach(actor, agency, action)


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
    profile = await queries.load_profile(session, agency)
    from_status = agency.status
    if action == "approve":
        for q in profile.pending_qualifications:
            await _settle_qualification(session, q, approve=True, reason="")
    agency.status = to_status
    agency.status_reason = reason
    agency.status_until = until if action in ("suspend", "blacklist") else None
    agency.updated_at = utcnow()
    await session.flush()
    profile = await queries.load_profile(session, agency)
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
            actor_id=actor.id,
            log_seq=appended.seq,
        )
    )
    return agency


async def suspend_automatically(
    session: AsyncSession, *, agency_id: str, decline_dates: Sequence[date], settings: Settings, today: date
) -> bool:
    """The platform's rule (rules.automatic_suspension): suspend an approved agency that has
    declined ``declines_to_suspend`` awards within ``decline_window_days``, for
    ``suspension_days``. ``decline_dates``: the China days its awards ended as declined.
    Returns whether it did.

    The same ``suspend`` transition as ``transition`` takes, without its staff check: this is
    the platform's rule, so no person is named in ``agency_review``. The log entry is exactly
    the one a manual suspension writes (``agency.suspended`` with ``reason`` and ``until``),
    so eligibility and verifiers treat both alike."""
    agency = await get_agency(session, agency_id, lock=True)
    allowed_from, to_status, log_type = TRANSITIONS["suspend"]
    if agency.status not in allowed_from:
        return False
    last = (
        await session.execute(
            sa.select(sa.func.max(AgencyReview.created_at)).where(
                col(AgencyReview.agency_id) == agency.id,
                col(AgencyReview.to_status) == AgencyStatus.suspended.value,
            )
        )
    ).scalar_one_or_none()
    suspension = rules.automatic_suspension(
        decline_dates,
        today,
        last_suspended_on=last.astimezone(CHINA).date() if last is not None else None,
        declines_to_suspend=settings.declines_to_suspend,
        window_days=settings.decline_window_days,
        suspension_days=settings.suspension_days,
    )
    if suspension is None:
        return False
    from_status = agency.status
    agency.status = to_status
    agency.status_reason = suspension.reason
    agency.status_until = suspension.until
    agency.updated_at = utcnow()
    await session.flush()
    entry = await log.append(
        session,
        type=log_type,
        fields={**_base_fact(agency), "reason": suspension.reason, "until": suspension.until.isoformat()},
    )
    assert agency.id is not None
    session.add(
        AgencyReview(
            agency_id=agency.id,
            action="suspend",
            from_status=from_status,
            to_status=to_status,
            reason=suspension.reason,
            until=suspension.until,
            actor_id=None,
            log_seq=entry.seq,
        )
    )
    await inbox.leave(
        session,
        user_id=agency.owner_id,
        kind="suspended_automatically",
        reason=suspension.reason,
        until=suspension.until.isoformat(),
    )
    await session.flush()
    return True


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
    for old in (await queries.load_profile(session, agency)).qualifications:
        if old.status in (ReviewStatus.pending, ReviewStatus.approved):
            old.status = ReviewStatus.superseded.value
    agency_row_id = agency.id
    assert agency_row_id is not None
    session.add_all(AgencyCategory(agency_id=agency_row_id, category=c) for c in categories)
    session.add_all(
        Qualification(
            agency_id=agency_row_id,
            category=q.category,
            level=q.level,
            certificate_no=q.certificate_no,
            valid_until=q.valid_until,
        )
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
        type=entry_types.AGENCY_SUBMITTED,
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
    profile = await queries.load_profile(session, agency)
    rules.check_qualification(data, categories=None, today=today, where="qualification")
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
        type=entry_types.AGENCY_QUALIFICATION_SUBMITTED,
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
        type=(
            entry_types.AGENCY_QUALIFICATION_APPROVED
            if decision == "approve"
            else entry_types.AGENCY_QUALIFICATION_REJECTED
        ),
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


SUFFIXES = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}


async def add_document(
    session: AsyncSession, *, owner: AppUser, kind: str, filename: str, content: bytes
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
    # In the database, in this transaction: a rolled-back upload leaves nothing behind.
    digest = await files.store(session, content=content, content_type=content_type)
    name = name if name != "document" else f"document{SUFFIXES[content_type]}"
    assert agency.id is not None
    document = AgencyDocument(
        agency_id=agency.id,
        kind=kind,
        filename=name,
        content_type=content_type,
        size=len(content),
        sha256=digest,
    )
    session.add(document)
    await session.flush()
    await log.append(
        session,
        type=entry_types.AGENCY_DOCUMENT_ADDED,
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
    session: AsyncSession, *, agency_id: str, document_id: int, viewer: AppUser | None
) -> tuple[AgencyDocument, StoredFile]:
    agency = await get_agency(session, agency_id)
    if not may_see_private(viewer, agency):
        raise Forbidden(N_("Only the agency, administrators and supervisors may see its documents."))
    document = await session.get(AgencyDocument, document_id)
    if document is None or document.agency_id != agency.id:
        raise NotFound(N_("No such document."))
    stored = await files.find(session, document.sha256)
    if stored is None:  # on the disk of an older version, not imported (market files import)
        raise NotFound(N_("The stored file is missing."))
    return document, stored
