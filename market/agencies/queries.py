"""Read-only queries of agencies: profiles with their categories and qualifications, the
public directory (one hand-written statement that the page and the API both read), the reviewers' queue and search, and who is one party with an owner organisation.
service.py changes state; this module only reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.agencies import rules
from market.agencies.models import (
    Agency,
    AgencyCategory,
    AgencyCount,
    AgencyDocument,
    AgencyOrgLink,
    AgencyReview,
    AgencyStatus,
    Qualification,
    ReviewStatus,
)
from market.core.errors import FieldError, InvalidInput
from market.core.i18n import N_
from market.core.pagination import decode_cursor, encode_cursor
from market.core.sql import Params, json_column, keyset_page, like_pattern, page_limit, region_scope_column
from market.reference import catalogue, regions


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


async def load_profiles(
    session: AsyncSession, agencies: Sequence[Agency], *, private: bool = False
) -> list[Profile]:
    """``load_profile`` of many agencies in a fixed number of queries, whatever their
    number: two for public profiles (a page of the directory), four for private ones (the
    review queue and the staff search)."""
    ids = [a.id for a in agencies if a.id is not None]
    categories: dict[int, list[str]] = {i: [] for i in ids}
    qualifications: dict[int, list[Qualification]] = {i: [] for i in ids}
    documents: dict[int, list[AgencyDocument]] = {i: [] for i in ids}
    reviews: dict[int, list[AgencyReview]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            sa.select(col(AgencyCategory.agency_id), col(AgencyCategory.category))
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
        if private:
            docs = sa.select(AgencyDocument).where(col(AgencyDocument.agency_id).in_(ids))
            for d in (await session.execute(docs.order_by(col(AgencyDocument.id)))).scalars().all():
                documents[d.agency_id].append(d)
            history = sa.select(AgencyReview).where(col(AgencyReview.agency_id).in_(ids))
            for r in (await session.execute(history.order_by(col(AgencyReview.id).desc()))).scalars().all():
                reviews[r.agency_id].append(r)
    return [
        Profile(
            agency=a,
            categories=categories.get(a.id or 0, []),
            qualifications=qualifications.get(a.id or 0, []),
            documents=documents.get(a.id or 0, []),
            reviews=reviews.get(a.id or 0, []),
        )
        for a in agencies
    ]


PUBLIC_STATUSES = (AgencyStatus.approved, AgencyStatus.suspended, AgencyStatus.blacklisted)


@dataclass(frozen=True)
class DirectoryFilters:
    """The public directory's filters, checked (check_directory), as the page and the API
    read them (directory_page)."""

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
        rules.check_region(region)
        prefix = regions.scope_prefix(region)
    levels = None
    if category:
        rules.check_categories([category])
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
    newest first, filtered; each with categories and approved qualifications. The page's
    statement (``directory_page``) picks the agencies, so the API and the page list the same
    ones in the same order by construction, through the same indexes; the API's fuller
    profiles are then loaded by primary key."""
    filters = check_directory(q=q, category=category, level=level, region=region, status=status)
    sql, args = directory_page(filters, after=decode_cursor(cursor), limit=limit, columns="a.id")
    connection = await session.connection()
    ids = [row[0] for row in (await connection.exec_driver_sql(sql, tuple(args))).all()]
    next_cursor = encode_cursor(ids[limit - 1]) if len(ids) > limit else None
    by_id = {a.id: a for a in await by_ids(session, ids[:limit])}
    return await load_profiles(session, [by_id[i] for i in ids[:limit]]), next_cursor


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
        sa.or_(col(Agency.credit_code) == same_code, col(Agency.id).in_(linked))
    )
    if agency_ids is not None:
        stmt = stmt.where(col(Agency.public_id).in_(list(agency_ids)))
    return set((await session.execute(stmt)).scalars().all())


async def orgs_sharing_credit_code(
    session: AsyncSession, agencies: Sequence[Agency]
) -> dict[int, tuple[str, str]]:
    """For the reviewer: agencies registered with the credit code of an owner organisation
    ({agency row id: (org public id, org name)})."""
    from market.notices.models import OwnerOrg

    codes = {a.credit_code: a.id for a in agencies if a.id is not None}
    if not codes:
        return {}
    stmt = sa.select(col(OwnerOrg.credit_code), col(OwnerOrg.public_id), col(OwnerOrg.name)).where(
        col(OwnerOrg.credit_code).in_(list(codes))
    )
    return {codes[code]: (public_id, name) for code, public_id, name in (await session.execute(stmt)).all()}


REVIEW_LIMIT = 50  # of each queue on the review page, oldest first


@dataclass(frozen=True)
class StatusCounts:
    """Agencies by status (every status, zero included), and the qualification changes
    waiting: pending qualifications of agencies not themselves pending."""

    by_status: dict[str, int]
    changes: int


async def status_counts(session: AsyncSession) -> StatusCounts:
    """From the counts the triggers keep (AgencyCount, migration 0014): a row or so per
    status, however many agencies there are."""
    rows = (
        await session.execute(
            sa.select(
                col(AgencyCount.status),
                sa.func.sum(AgencyCount.agencies),
                sa.func.sum(AgencyCount.pending_qualifications),
            ).group_by(col(AgencyCount.status))
        )
    ).all()
    by_status = {s.value: 0 for s in AgencyStatus}
    changes = 0
    for status, agencies, pending in rows:
        by_status[str(status)] = int(agencies)
        if status != AgencyStatus.pending.value:
            changes += int(pending)
    return StatusCounts(by_status=by_status, changes=changes)


@dataclass(frozen=True)
class ReviewQueue:
    """The oldest of each queue, how many wait in all, and the agencies by status."""

    pending: list[Profile]
    pending_total: int
    changes: list[tuple[Agency, Qualification]]
    changes_total: int
    counts: dict[str, int]
    replaced: dict[int, Qualification]  # the approved qualifications the changes replace, by id


async def review_queue(session: AsyncSession, *, limit: int = REVIEW_LIMIT) -> ReviewQueue:
    """Agencies waiting for review, oldest first, and qualifications waiting on approved
    agencies: the oldest ``limit`` of each, with their profiles and the qualifications the
    changes replace, and the totals. The same statements whatever the queue's length."""
    waiting = col(Agency.status) == AgencyStatus.pending.value
    pending = (
        (
            await session.execute(
                sa.select(Agency).where(waiting).order_by(col(Agency.updated_at)).limit(limit)
            )
        )
        .scalars()
        .all()
    )
    changed = sa.and_(
        col(Qualification.status) == ReviewStatus.pending.value,
        col(Agency.status) != AgencyStatus.pending.value,
    )
    changes = (
        await session.execute(
            sa.select(Agency, Qualification)
            .join(Qualification, col(Qualification.agency_id) == Agency.id)
            .where(changed)
            .order_by(col(Qualification.id))
            .limit(limit)
        )
    ).all()
    counts = await status_counts(session)
    replaced_ids = sorted({q.replaces_id for _, q in changes if q.replaces_id is not None})
    replaced: dict[int, Qualification] = {}
    if replaced_ids:
        stmt = sa.select(Qualification).where(col(Qualification.id).in_(replaced_ids))
        replaced = {q.id: q for q in (await session.execute(stmt)).scalars().all() if q.id is not None}
    return ReviewQueue(
        pending=await load_profiles(session, pending, private=True),
        pending_total=counts.by_status[AgencyStatus.pending.value],
        changes=[(a, q) for a, q in changes],
        changes_total=counts.changes,
        counts=counts.by_status,
        replaced=replaced,
    )


async def counts(session: AsyncSession) -> dict[str, int]:
    """Agencies by status (the home page, the review page)."""
    return (await status_counts(session)).by_status


SEARCH_LIMIT = 50


async def find_agencies(session: AsyncSession, *, q: str, limit: int = SEARCH_LIMIT) -> list[Profile]:
    """Agencies in any status whose name contains ``q``, or whose credit code or public id
    is ``q``; newest first, with their private details (for staff only)."""
    term = q.strip()
    if not term:
        return []
    stmt = (
        sa.select(Agency)
        .where(
            sa.or_(
                col(Agency.name).ilike(like_pattern(term), escape="\\"),
                col(Agency.credit_code) == term.upper(),
                col(Agency.public_id) == term.upper(),
            )
        )
        .order_by(col(Agency.id).desc())
        .limit(limit)
    )
    agencies = (await session.execute(stmt)).scalars().all()
    return await load_profiles(session, agencies, private=True)


# -- the directory page --------------------------------------------------------------------------
#
# Through the ORM a page of the directory cost the agencies, their categories and their
# qualifications (as ORM objects, every column) inside a transaction: three statements
# and begin/commit. The page shows a few columns of each, so one statement on a readers'
# connection answers it. The API (``directory``) picks its agencies with the same statement;
# tests/integration/agencies/test_pages.py holds the two to the same agencies.

DIRECTORY_COLUMNS = """
    a.id, a.public_id, a.name, a.credit_code, a.region, a.status,
    ARRAY(SELECT c.category FROM agency_category c WHERE c.agency_id = a.id ORDER BY c.category) AS categories,
    (SELECT coalesce(json_agg(json_build_array(q.category, q.level) ORDER BY q.id), '[]')
     FROM qualification q WHERE q.agency_id = a.id AND q.status = 'approved' AND q.level <> '') AS graded
"""


def directory_page(
    filters: DirectoryFilters, *, after: int | None, limit: int, columns: str = DIRECTORY_COLUMNS
) -> tuple[str, list[Any]]:
    """The SQL and arguments of one directory page, newest first, keyset-paged by id
    (pure); ``limit + 1`` rows, the extra one saying whether a next page exists. The page
    reads ``DIRECTORY_COLUMNS``, the API only the ids (``a.id``)."""
    params = Params()
    where = [f"a.status = {params(filters.status)}"]
    below = ""
    if after is not None:
        cursor = params(after)
        where.append(f"a.id < {cursor}")
        # Said again of the category's rows: the index on (category, agency_id) then starts
        # at the cursor instead of reading the category's newer agencies to skip them.
        below = f" AND c.agency_id < {cursor}"
    if filters.name_like:
        where.append(
            f"(a.name ILIKE {params(filters.name_like)} ESCAPE '\\' OR a.credit_code = {params(filters.credit_code)})"
        )
    if filters.region_prefix:
        # An equality on the column holding that many of the region's digits, which the
        # indexes on (status, that column, id) serve in keyset order.
        where.append(f"{region_scope_column('a', filters.region_prefix)} = {params(filters.region_prefix)}")
    if filters.category:
        category = params(filters.category)
        where.append(
            f"EXISTS (SELECT 1 FROM agency_category c WHERE c.agency_id = a.id AND c.category = {category}{below})"
        )
        if filters.levels:
            where.append(
                "EXISTS (SELECT 1 FROM qualification q WHERE q.agency_id = a.id"
                f" AND q.category = {category} AND q.status = 'approved' AND q.level = ANY({params(list(filters.levels))}))"
            )
    sql = f"SELECT {columns} FROM agency a WHERE {' AND '.join(where)} ORDER BY a.id DESC {page_limit(limit + 1)}"
    return sql, params


async def directory_rows(
    reader: asyncpg.Connection, filters: DirectoryFilters, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[asyncpg.Record], str | None]:
    """One page of the directory as rows of ``DIRECTORY_COLUMNS`` and the next page's cursor."""
    sql, args = directory_page(filters, after=decode_cursor(cursor), limit=limit)
    return await keyset_page(reader, sql, args, limit)


def graded(row: Any) -> list[tuple[str, str]]:
    """The row's approved qualifications that have a level, as (category, level)."""
    return [(c, lv) for c, lv in json_column(row["graded"])]


async def names_by_public_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, str]:
    """Public id -> name, for the agencies a page mentions (one query)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = await session.execute(
        sa.select(col(Agency.public_id), col(Agency.name)).where(col(Agency.public_id).in_(wanted))
    )
    return {public_id: name for public_id, name in rows.all()}


async def by_ids(session: AsyncSession, ids: Iterable[int]) -> list[Agency]:
    """The agencies with these internal ids (one query)."""
    wanted = list(ids)
    if not wanted:
        return []
    return list((await session.execute(sa.select(Agency).where(col(Agency.id).in_(wanted)))).scalars().all())
