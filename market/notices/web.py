"""The public notice pages: the list of published notices (filtered, updated in place by
htmx) and the notice page. The owner's pages are in ``web_owner.py``, the staff's in
``web_staff.py``, the bids' in ``market/bids/web.py``; the notice page itself, which they
show again with a refused action's errors, in ``detail.py``.

Sealed bids: no page here reads another agency's bid (``detail.notice_page`` loads only
the logged-in agency's own)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from markupsafe import Markup, escape

from market.accounts.session import optional_viewer
from market.agencies import rules as agency_rules
from market.core.db import request_database
from market.core.errors import FieldError, InvalidInput, NotFound
from market.core.i18n import N_, gettext_for
from market.core.money import format_fen, parse_yuan
from market.core.pagination import check_limit
from market.halls import service as halls_service
from market.notices import rules, service
from market.notices.detail import notice_page, render_notice
from market.notices.forms import known
from market.notices.models import METHOD_LABELS, NoticeStatus
from market.security.auth import current_principal
from market.web.forms import Choices, FormErrors, place_errors
from market.web.labels import NOTICE_STATUS_LABELS
from market.web.names import find_category
from market.web.names import labels as reference_labels
from market.web.templating import bdi, name_lang, render, request_locale, wants_partial
from market.web.times import china_time, utc_attr

LIST_LIMIT = 20
PUBLIC_STATUSES = tuple(s.value for s in NoticeStatus if s != NoticeStatus.draft)


class ListLabels:
    """The public list's labels and filter options in one language, made once per locale:
    they change only with a new release of the catalogues and translations. The labels are
    kept escaped, for :meth:`rows_html`."""

    def __init__(self, locale: str) -> None:
        gettext = gettext_for(locale)[0]
        common = reference_labels(locale)
        self.categories = common.categories
        self.region = common.region
        self.methods = {code: escape(gettext(label)) for code, label in METHOD_LABELS.items()}
        self.statuses = {code: escape(gettext(label)) for code, label in NOTICE_STATUS_LABELS.items()}
        self.status_classes = {code: escape(code) for code in NOTICE_STATUS_LABELS}
        self.china_time = escape(gettext(N_("China time")))
        self.locale = locale
        # Each cell's column header, repeated on the cell: a phone shows each row as a card
        # whose cells carry their own labels (market.css, "Phones": table.notice-cards).
        self.heads = {
            key: escape(gettext(label))
            for key, label in (
                ("category", N_("Service category")),
                ("region", N_("Region scope")),
                ("budget", N_("Budget cap")),
                ("method", N_("Selection method")),
                ("status", N_("Status")),
                ("deadline", N_("Bid deadline")),
            )
        }
        self.choices = {
            "category": common.category_choices,
            "region": common.region_choices,
            "method": Choices([("", gettext(N_("All methods"))), *self.methods.items()]),
            "status": Choices(
                [("", gettext(N_("All published"))), *((s, self.statuses[s]) for s in PUBLIC_STATUSES)]
            ),
        }

    def rows_html(self, rows: Iterable[Any]) -> Markup:
        """The table rows of a page of the list, from rows of queries.NOTICE_LIST_COLUMNS.

        Made here rather than in a template loop: twenty rows of seven cells were a fifth of
        the page's time in Jinja (a call, a lookup and an escape per cell). Only the title
        and id come from users and are escaped here (the title in <bdi>, templating.bdi);
        every label was escaped once, above.
        templates/notices/partials/list_rows.html places them."""
        china, heads = self.china_time, self.heads
        out = []
        for r in rows:
            public_id = escape(r["public_id"])
            deadline = r["bid_deadline"]
            status = rules.shown_status(r["status"], deadline, r["now"])
            when = (
                f'<time datetime="{utc_attr(deadline)}">{china_time(deadline)}</time> <span class="tz">{china}</span>'
                if deadline
                else "—"
            )
            out.append(
                f'<tr>\n  <td class="title"><a href="/notices/{public_id}">{bdi(r["title"], name_lang(r["title"], self.locale))}</a><br><code>{public_id}</code></td>\n'
                f'  <td data-label="{heads["category"]}">{self.categories.get(r["category"]) or escape(r["category"])}</td>\n'
                f'  <td data-label="{heads["region"]}">{self.region(r["region"])}</td>\n'
                # digits, separators and the yuan sign only: nothing to escape
                f'  <td data-label="{heads["budget"]}" class="money">{format_fen(r["budget_fen"])}</td>\n'
                f'  <td data-label="{heads["method"]}">{self.methods.get(r["method"]) or escape(r["method"])}</td>\n'
                f'  <td data-label="{heads["status"]}"><span class="status notice-{self.status_classes.get(status) or escape(status)}">{self.statuses.get(status) or escape(status)}</span></td>\n'
                f'  <td data-label="{heads["deadline"]}" class="deadline">{when}</td>\n</tr>\n'
            )
        return Markup("".join(out))


@cache
def list_labels(locale: str) -> ListLabels:
    return ListLabels(locale)


class NoticePages(Controller):
    include_in_schema = False

    # -- the public list and the notice page -------------------------------------------------------

    @get("/notices")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        reader: NamedDependency[Any],
        q: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        method: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        budget_min: FromQuery[str | None] = None,
        budget_max: FromQuery[str | None] = None,
        hall: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = LIST_LIMIT,
    ) -> Response[str]:
        limit = check_limit(limit)
        filters: dict[str, Any] = {
            k: (v or "").strip()
            for k, v in {
                "q": q,
                "category": category,
                "region": region,
                "method": method,
                "status": status,
                "budget_min": budget_min,
                "budget_max": budget_max,
                "hall": hall,
            }.items()
        }
        errors = FormErrors()
        # A filter that cannot apply is shown beside its field and left out, never a 500.
        if filters["category"] and find_category(filters["category"]) is None:
            errors["category"] = FieldError(
                "category", N_("Unknown service category: {code}."), {"code": filters["category"]}
            )
        if filters["region"]:
            try:
                agency_rules.check_region(filters["region"])
            except InvalidInput as exc:
                place_errors(errors, exc.errors, known(("region",)))
        if filters["method"] and filters["method"] not in METHOD_LABELS:
            errors["method"] = FieldError("method", N_("Choose lottery, lowest_price or direct."))
        if filters["status"] and filters["status"] not in PUBLIC_STATUSES:
            errors["status"] = FieldError("status", N_("Unknown status filter."))
        amounts: dict[str, int | None] = {"budget_min": None, "budget_max": None}
        for key in amounts:
            if filters[key]:
                try:
                    amounts[key] = parse_yuan(filters[key], key)
                except InvalidInput as exc:
                    place_errors(errors, exc.errors, known((key,)))
        hall_scope = None
        try:
            hall_scope = await halls_service.hall_scope(reader, filters["hall"])
        except InvalidInput as exc:
            place_errors(errors, exc.errors, known(("hall",)))
        applied = {k: (None if k in errors or not v else v) for k, v in filters.items()}
        checked = service.check_filters(
            q=applied["q"],
            category=applied["category"],
            region=applied["region"],
            method=applied["method"],
            status=applied["status"],
            budget_min=amounts["budget_min"],
            budget_max=amounts["budget_max"],
            hall_codes=hall_scope.codes if hall_scope is not None else None,
        )
        rows, next_cursor = await service.public_notices(reader, checked, cursor=cursor, limit=limit)
        labels = list_labels(request_locale(request))
        kept = {
            k: v
            for k, v in {**filters, "limit": limit if limit != LIST_LIMIT else None}.items()
            if v not in (None, "")
        }
        context: dict[str, Any] = {
            "notices": rows,
            "rows_html": labels.rows_html(rows),
            "choices": labels.choices,
            "filters": filters,
            "errors": errors,
            "filtered": any(filters.values()),
            "hall_scope": hall_scope,
            "more_url": "/notices?" + urlencode({**kept, "cursor": next_cursor}) if next_cursor else None,
            "continued": cursor is not None,
            "first_url": "/notices" + ("?" + urlencode(kept) if kept else ""),
        }
        headers = {"Vary": "Cookie, Accept-Language, HX-Request"}
        if wants_partial(request):
            template = "notices/partials/list_rows.html" if cursor else "notices/partials/list_update.html"
            return render(request, template, headers=headers, **context)
        return render(request, "notices/list.html", headers=headers, **context)

    @get("/notices/{notice_id:str}")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        done: FromQuery[str | None] = None,
        changed: FromQuery[str | None] = None,
    ) -> Response[str]:
        database = request_database(request)
        if current_principal(request) is None:
            # Most views are visitors': one statement on a readers' connection, no
            # transaction, no ORM (queries.NOTICE_PAGE).
            async with database.reading() as reader:
                page = await service.notice_page(reader, notice_id)
            if not service.may_see(page.notice.status, page.notice.owner_id, None):
                raise NotFound(N_("No such notice."))
            return render_notice(request, page, None, done=done, changed=changed)
        async with database.transaction() as session:
            viewer = await optional_viewer(request, session)
            notice = await service.visible_notice(session, notice_id, viewer)
            return await notice_page(request, session, notice, viewer, done=done, changed=changed)
