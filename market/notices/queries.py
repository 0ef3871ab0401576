"""Hand-written SQL for the bid path, the one write that arrives in bursts (ops/load/bids.py).

Placing a bid through the ORM took eleven statements before the log append (the account,
its agency, the notice, the clock, the avoidance list, categories, qualifications, the
standing bid, the next id...), each a round trip and half a millisecond of SQLAlchemy's
Python on a CPU-bound server. ``BID_CONTEXT`` asks all of it in one statement; the pure
functions below turn its row into the plain facts the eligibility rule already takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from market.agencies import rules as agency_rules
from market.agencies.models import ReviewStatus
from market.core.ids import format_public_id
from market.core.sql import Params, json_column

# The notice is locked FOR SHARE (bids may arrive together, but not while the notice is
# amended or closed) inside the CTE, so the row exists whether or not the notice does and
# the caller can refuse in the same order as before: account, agency, notice. The next bid
# id is drawn here too; a refused bid leaves a gap, as a rolled-back one always did.
BID_CONTEXT = """
WITH n AS (
    SELECT id, public_id, status, bid_deadline, method, budget_fen, direct_agency_id,
           category, required_level, region, protocol, sealing, org_id
    FROM notice WHERE public_id = $2 FOR SHARE
)
SELECT u.role, u.is_active,
       a.id AS agency_id, a.public_id AS agency_public_id, a.status AS agency_status,
       a.region AS agency_region, a.status_until AS agency_status_until,
       ARRAY(SELECT c.category FROM agency_category c WHERE c.agency_id = a.id) AS categories,
       (SELECT coalesce(json_agg(json_build_array(q.category, q.level, q.certificate_no, q.valid_until, q.status) ORDER BY q.id), '[]')
        FROM qualification q WHERE q.agency_id = a.id AND q.status IN ('approved', 'pending')) AS qualifications,
       n.id AS notice_id, n.public_id AS notice_public_id, n.status AS notice_status, n.bid_deadline,
       n.method, n.budget_fen, n.direct_agency_id, n.category, n.required_level, n.region,
       n.protocol, n.sealing,
       (SELECT coalesce(json_object_agg(v.agency_id, v.reason), '{}') FROM notice_avoid v WHERE v.notice_id = n.id) AS avoid,
       EXISTS (SELECT 1 FROM bid b WHERE b.notice_id = n.id AND b.agency_id = a.id AND b.status = 'standing') AS standing,
       EXISTS (SELECT 1 FROM owner_org o WHERE o.id = n.org_id
               AND (o.credit_code = a.credit_code
                    OR EXISTS (SELECT 1 FROM agency_org_link l WHERE l.agency_id = a.id AND l.org_id = o.id))) AS related,
       clock_timestamp() AS now,
       CASE WHEN n.id IS NOT NULL AND a.id IS NOT NULL THEN nextval('bid_public_seq') END AS bid_number
FROM app_user u
LEFT JOIN agency a ON a.owner_id = u.id
LEFT JOIN n ON true
WHERE u.public_id = $1
"""

INSERT_BID = """
INSERT INTO bid (public_id, notice_id, agency_id, protocol, price_fen, nonce, document, bid_sha256, seq, leaf_hash, receipt, status, created_at)
VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, 'standing', $11)
RETURNING id
"""

# MSP/2: no price, no document, no receipt in the clear; the commitment its entry holds and
# the sealed opening material (None with tlock sealing: the entry's ciphertext is the copy).
INSERT_SEALED_BID = """
INSERT INTO bid (public_id, notice_id, agency_id, protocol, commitment, sealed, seq, leaf_hash, status, created_at)
VALUES ($1, $2, $3, 2, $4, $5, $6, $7, 'standing', $8)
RETURNING id
"""


@dataclass(frozen=True)
class BidContext:
    """One account's position towards one notice at the moment of bidding."""

    role: str
    is_active: bool
    agency_id: int | None
    agency_public_id: str | None
    notice_id: int | None
    notice_public_id: str | None
    notice_status: str | None
    bid_deadline: datetime | None
    method: str | None
    budget_fen: int | None
    direct_agency_id: str | None
    protocol: int | None
    sealing: str | None
    standing: bool
    related: bool  # the agency and the notice's owner organisation are one party
    now: datetime
    bid_id: str | None
    facts: agency_rules.AgencyFacts | None
    requirements: agency_rules.Requirements | None


def bid_context(row: Mapping[str, Any]) -> BidContext:
    """The row of ``BID_CONTEXT`` as plain data (pure)."""
    facts = None
    if row["agency_id"] is not None:
        facts = agency_rules.agency_facts(
            agency_id=row["agency_public_id"],
            status=row["agency_status"],
            region=row["agency_region"],
            status_until=row["agency_status_until"],
            categories=row["categories"] or (),
            qualifications=(
                agency_rules.Qualification(
                    category=category,
                    level=level,
                    certificate_no=certificate_no,
                    valid_until=date.fromisoformat(valid_until),
                    approved=status == ReviewStatus.approved,
                )
                for category, level, certificate_no, valid_until, status in json_column(row["qualifications"])
            ),
        )
    requirements = None
    if row["notice_id"] is not None:
        requirements = agency_rules.notice_requirements(
            category=row["category"],
            min_level=row["required_level"],
            region=row["region"],
            avoid=json_column(row["avoid"]),
        )
    number = row["bid_number"]
    return BidContext(
        role=row["role"],
        is_active=bool(row["is_active"]),
        agency_id=row["agency_id"],
        agency_public_id=row["agency_public_id"],
        notice_id=row["notice_id"],
        notice_public_id=row["notice_public_id"],
        notice_status=row["notice_status"],
        bid_deadline=row["bid_deadline"],
        method=row["method"],
        budget_fen=row["budget_fen"],
        direct_agency_id=row["direct_agency_id"],
        protocol=row["protocol"],
        sealing=row["sealing"],
        standing=bool(row["standing"]),
        related=bool(row["related"]),
        now=row["now"],
        bid_id=None if number is None else format_public_id("B", int(number)),
        facts=facts,
        requirements=requirements,
    )


# -- the public notice list ------------------------------------------------------------------
#
# The list is the marketplace's busiest read: every visitor's first page, and what other
# programs poll. Through the ORM a page of 20 cost a query for the notices, one for their
# avoidance lists, the clock, and one per distinct organisation and project (up to 43
# statements); here it is one, sent outside any transaction (a single SELECT is consistent
# by itself), and its rows are shaped by present.notice_public_row.

NOTICE_LIST_COLUMNS = """
    n.id, n.public_id, n.status, n.title, n.description, n.category, n.required_level, n.region,
    n.budget_fen, n.method, n.winners, n.min_candidates, n.bid_deadline, n.service_days,
    n.direct_agency_id, n.direct_justification, n.commit, n.scheme, n.terms_sha256, n.protocol, n.sealing,
    n.published_at, n.cancel_reason, n.cancel_request_reason, n.cancel_requested_at, n.created_at,
    o.public_id AS org_public_id, o.name AS org_name,
    p.public_id AS project_public_id, p.name AS project_name, p.code AS project_code,
    (SELECT coalesce(json_agg(json_build_array(v.agency_id, v.reason) ORDER BY v.agency_id), '[]')
     FROM notice_avoid v WHERE v.notice_id = n.id) AS avoid,
    clock_timestamp() AS now
"""


@dataclass(frozen=True)
class NoticeFilters:
    """A public list's filters, already checked (service.check_filters)."""

    status: str | None = None
    method: str | None = None
    category: str | None = None
    region_prefix: str | None = None  # the region's digits: its whole area matches
    budget_min: int | None = None
    budget_max: int | None = None
    title_like: str | None = None  # an ILIKE pattern, escaped
    public_id: str | None = None  # ...or exactly this notice id


def notice_list(filters: NoticeFilters, *, after: int | None, limit: int) -> tuple[str, list[Any]]:
    """The SQL and arguments of one page of the public list, newest first, keyset-paged
    by id (pure). It asks for ``limit + 1`` rows: the extra one says whether a next page exists."""
    params = Params()
    where = ["n.status <> 'draft'"]
    if after is not None:
        where.append(f"n.id < {params(after)}")
    if filters.status:
        where.append(f"n.status = {params(filters.status)}")
    if filters.method:
        where.append(f"n.method = {params(filters.method)}")
    if filters.category:
        where.append(f"n.category = {params(filters.category)}")
    if filters.region_prefix:
        # LIKE on a prefix of digits, which never hold a wildcard
        where.append(f"n.region LIKE {params(filters.region_prefix + '%')}")
    if filters.budget_min is not None:
        where.append(f"n.budget_fen >= {params(filters.budget_min)}")
    if filters.budget_max is not None:
        where.append(f"n.budget_fen <= {params(filters.budget_max)}")
    if filters.title_like is not None:
        where.append(
            f"(n.title ILIKE {params(filters.title_like)} ESCAPE '\\' OR n.public_id = {params(filters.public_id)})"
        )
    sql = (
        f"SELECT {NOTICE_LIST_COLUMNS} FROM notice n"
        " LEFT JOIN owner_org o ON o.id = n.org_id LEFT JOIN project p ON p.id = n.project_id"
        f" WHERE {' AND '.join(where)} ORDER BY n.id DESC LIMIT {params(limit + 1)}"
    )
    return sql, params


# -- a notice's page ---------------------------------------------------------------------------
#
# The second busiest page. Through the ORM it cost the notice, its avoidance list, its
# organisation, its project, the clock, its amendments, its holding awards and one query per
# holder, inside a transaction of its own: eight to eleven round trips and most of the
# page's time. Here what every viewer sees is one statement; what only an agency or the
# owner sees still comes through the ORM (web.py).

NOTICE_PAGE = f"""
SELECT {NOTICE_LIST_COLUMNS}, n.owner_id,
       (SELECT coalesce(json_agg(json_build_array(r.created_at, r.log_seq, r.reason, r.changes) ORDER BY r.id), '[]')
        FROM notice_revision r WHERE r.notice_id = n.id) AS revisions,
       (SELECT coalesce(json_agg(json_build_array(a.public_id, a.name) ORDER BY w.slot), '[]')
        FROM award w JOIN agency a ON a.id = w.agency_id
        WHERE w.notice_id = n.id AND w.status = 'holding') AS holders
FROM notice n
LEFT JOIN owner_org o ON o.id = n.org_id
LEFT JOIN project p ON p.id = n.project_id
WHERE n.public_id = $1
"""


class RowView:
    """A row's columns as attributes, as templates read an ORM object's."""

    __slots__ = ("_row",)

    def __init__(self, row: Mapping[str, Any]) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        try:
            return self._row[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class PageOrg:
    public_id: str
    name: str


@dataclass(frozen=True)
class PageProject:
    public_id: str
    name: str
    code: str


@dataclass(frozen=True)
class PageAvoid:
    agency_id: str
    reason: str


@dataclass(frozen=True)
class PageRevision:
    created_at: datetime
    log_seq: int
    reason: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class PageHolder:
    public_id: str
    name: str


@dataclass(frozen=True)
class NoticePage:
    """What every viewer of a notice's page sees (``NOTICE_PAGE``)."""

    notice: RowView  # the columns of NOTICE_LIST_COLUMNS and owner_id
    org: PageOrg | None
    project: PageProject | None
    avoid: list[PageAvoid]
    revisions: list[PageRevision]
    holders: list[PageHolder]
    now: datetime


def notice_page(row: Mapping[str, Any]) -> NoticePage:
    """The row of ``NOTICE_PAGE`` as plain data (pure)."""
    return NoticePage(
        notice=RowView(row),
        org=PageOrg(row["org_public_id"], row["org_name"]) if row["org_public_id"] else None,
        project=PageProject(row["project_public_id"], row["project_name"], row["project_code"])
        if row["project_public_id"]
        else None,
        avoid=[PageAvoid(agency_id, reason) for agency_id, reason in json_column(row["avoid"])],
        # json_build_array spells a timestamptz as PostgreSQL's ISO text, with its offset.
        revisions=[
            PageRevision(datetime.fromisoformat(at), seq, reason, changes)
            for at, seq, reason, changes in json_column(row["revisions"])
        ],
        holders=[PageHolder(public_id, name) for public_id, name in json_column(row["holders"])],
        now=row["now"],
    )
