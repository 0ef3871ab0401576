"""Hand-written SQL for the notices' busiest reads: the public list and a notice's page.
(The bid path's own SQL is in ``market/bids/queries.py``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from market.core.sql import Params, Row, json_column, page_limit, region_scope_column

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
    title_like: str | None = None  # an ILIKE pattern, escaped: title, project or organisation name
    public_id: str | None = None  # ...or exactly this notice id or project code
    halls: tuple[str, ...] | None = None  # a hall rolled up: the codes it reaches (None: all)


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
        # An equality on the column holding that many of the region's digits: the partial
        # indexes on (category, that column, id) and (that column, id) serve it in keyset order.
        where.append(f"{region_scope_column('n', filters.region_prefix)} = {params(filters.region_prefix)}")
    if filters.halls is not None:
        # one array parameter: the index on (hall, id) serves it
        where.append(f"n.hall = ANY({params(list(filters.halls))}::text[])")
    if filters.budget_min is not None:
        where.append(f"n.budget_fen >= {params(filters.budget_min)}")
    if filters.budget_max is not None:
        where.append(f"n.budget_fen <= {params(filters.budget_max)}")
    if filters.title_like is not None:
        # The search box's words in the title, the project's name or the owner's organisation's
        # name, or exactly the notice id or project code. One arm per table, each served by
        # its own indexes (the trigram indexes on the names, the unique ids, the foreign keys):
        # an OR across the joined tables could only be checked row by row.
        like, exact = params(filters.title_like), params(filters.public_id)
        where.append(
            "n.id IN ("
            f"SELECT t.id FROM notice t WHERE t.title ILIKE {like} ESCAPE '\\' OR t.public_id = {exact}"
            " UNION SELECT t.id FROM notice t JOIN project tp ON tp.id = t.project_id"
            f" WHERE tp.name ILIKE {like} ESCAPE '\\' OR tp.code = {exact}"
            " UNION SELECT t.id FROM notice t JOIN owner_org tor ON tor.id = t.org_id"
            f" WHERE tor.name ILIKE {like} ESCAPE '\\')"
        )
    sql = (
        f"SELECT {NOTICE_LIST_COLUMNS} FROM notice n"
        " LEFT JOIN owner_org o ON o.id = n.org_id LEFT JOIN project p ON p.id = n.project_id"
        f" WHERE {' AND '.join(where)} ORDER BY n.id DESC {page_limit(limit + 1)}"
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
SELECT {NOTICE_LIST_COLUMNS}, n.owner_id, n.hall,
       (SELECT j.name_zh FROM jurisdiction j WHERE j.code = n.hall) AS hall_name_zh,
       (SELECT j.name_en FROM jurisdiction j WHERE j.code = n.hall) AS hall_name_en,
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

    def __init__(self, row: Row) -> None:
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


def notice_page(row: Row) -> NoticePage:
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
