"""Red flags for supervisors and administrators: the list ``/supervision/flags`` (filters by
kind, severity and subject; htmx swaps the list only), one kind explained at
``/supervision/flags/{kind}``, and the same list as JSON at ``/api/v1/supervision/flags``.

Each viewer sees the flags of a jurisdiction it reaches (``?jurisdiction=``, its own by
default): province-wide for the province, otherwise computed over that jurisdiction's own
notices (flags.service.all_flags). The flags are computed in the background and kept
(flags/store.py): pages and the API read them as of that time, which they say, a page
(``store.PAGE`` flags) at a time. No request computes a view: one not computed yet is said
to be so, with when the background task computes it and the command that does it now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer
from market.core.config import Settings
from market.core.errors import DomainError, FieldError
from market.core.i18n import LOCALES, N_, gettext_for
from market.core.money import format_fen
from market.core.pagination import decode_cursor, encode_cursor
from market.halls import queries as halls
from market.halls import rules as hall_rules
from market.halls import service as halls_service
from market.halls.models import Jurisdiction
from market.security.auth import requires_role
from market.supervision.flags import alerting, store
from market.supervision.flags import rules as F
from market.web.templating import bdi, name_lang, render, request_locale, wants_partial

STAFF = requires_role(Role.supervisor, Role.admin)
EVIDENCE_LABELS = {
    "notice": N_("Notice"),
    "draw": N_("Draw"),
    "contract": N_("Contract"),
    "agency": N_("Agency"),
    "log": N_("Log entry"),
    "bid": N_("Bid"),
}
MONEY = ("amount_fen", "budget_fen")
NUMBER_LABELS = {
    "scope": N_("Counted by"),
    "key": N_("Category or area code"),
    "wins": N_("Awards"),
    "total": N_("Total"),
    "share_percent": N_("Share (%)"),
    "agency_id": N_("Agency"),
    "first": N_("First"),
    "last": N_("Last"),
    "all_wins": N_("Awards in all"),
    "direct": N_("Direct selections"),
    "notices": N_("Notices published"),
    "bids": N_("Bids involved"),
    "identical": N_("Identical prices"),
    "gap_permille": N_("Closest gap (‰)"),
    "prices_fen": N_("Prices"),
    "amount_fen": N_("Contract amount"),
    "budget_fen": N_("Budget cap"),
    "excess_fen": N_("Above the cap by"),
    "excess_percent": N_("Above the cap (%)"),
    "state": N_("Contract"),
    "final_on": N_("Award final on"),
    "sign_by": N_("To be signed by"),
    "confirmed_on": N_("Confirmed on"),
    "days_late": N_("Days late"),
    "amendments": N_("Late amendments"),
    "hours_before": N_("Hours before the deadline"),
    "deadline": N_("Deadline then"),
    "withdrawn": N_("Bids withdrawn"),
}


@dataclass(frozen=True)
class Filters:
    kind: str = ""
    severity: str = ""
    q: str = ""

    @classmethod
    def of(cls, kind: str | None, severity: str | None, q: str | None) -> Filters:
        return cls(
            kind=kind if kind in F.KINDS else "",
            severity=severity if severity in F.SEVERITY_ORDER else "",
            q=(q or "").strip()[:100],
        )

    def stored(self) -> store.Filters:
        return store.Filters(kind=self.kind, severity=self.severity, q=self.q)

    def query(self, jurisdiction: str, after: int) -> str:
        """The query string of the next page."""
        params = {"jurisdiction": jurisdiction, "kind": self.kind, "severity": self.severity, "q": self.q}
        return urlencode({**{k: v for k, v in params.items() if v}, "cursor": encode_cursor(after)})


def _localised(value: Any, locale: str) -> Any:
    if isinstance(value, dict) and set(value) <= set(LOCALES) and value:
        return value.get(locale) or next(iter(value.values()))
    return value


def summary(flag: F.Flag, locale: str, *, html: bool = False) -> str:
    """The flag's one-line account in ``locale``. For a page (``html``) it is markup: the
    words escaped and each text value in <bdi>, since a name comes from its owner and may
    be written right to left (templating.bdi)."""
    gettext, _ = gettext_for(locale)
    params = {k: _localised(v, locale) for k, v in flag.params.items()}
    for key in MONEY:
        if key in params:
            params[key.removesuffix("_fen")] = format_fen(params[key])
    signed = params.get("state") == "signed"
    if flag.kind == F.Kind.related_parties.value:
        params["what"] = str(gettext(F.SHARED[params["what"]]))
    if html:
        params = {k: bdi(v, name_lang(v, locale)) if isinstance(v, str) else v for k, v in params.items()}

    def message(msgid: str) -> str:
        return escape(gettext(msgid)) if html else gettext(msgid)

    if flag.kind == F.Kind.signed_late.value:
        params["state"] = message(F.STATE_SIGNED_LATE if signed else F.STATE_UNSIGNED) % params
    text = message(F.KINDS[flag.kind].summary) % params
    return text if isinstance(text, Markup) else str(text)


def title(kind: str, locale: str) -> str:
    gettext, _ = gettext_for(locale)
    return str(gettext(F.KINDS[kind].title))


def threshold(kind: str, settings: Settings, locale: str) -> str:
    gettext, _ = gettext_for(locale)
    return str(gettext(F.KINDS[kind].threshold) % F.threshold_params(kind, settings))


def public(flag: F.Flag, settings: Settings) -> dict[str, Any]:
    return {
        **flag.as_dict(),
        "title": {loc: title(flag.kind, loc) for loc in LOCALES},
        "summary": {loc: summary(flag, loc) for loc in LOCALES},
        "threshold": {loc: threshold(flag.kind, settings, loc) for loc in LOCALES},
        "explained_at": f"/supervision/flags/{flag.kind}",
    }


NO_SUCH_HALL = N_("There is no jurisdiction {code}.")


async def view_of(session: AsyncSession, viewer: AppUser, jurisdiction: str | None) -> str:
    """The jurisdiction whose flags ``viewer`` asks for: its own by default; one it does not
    reach is refused (403), an unknown one is bad input (422, beside the field)."""
    own = viewer.jurisdiction or hall_rules.PROVINCE
    code = (jurisdiction or "").strip() or own
    if await halls.get_hall(session, code) is None:
        params: dict[str, object] = {"code": code[:12]}
        raise DomainError(
            detail=NO_SUCH_HALL,
            params=params,
            status=422,
            title="Invalid input",
            errors=[FieldError("jurisdiction", NO_SUCH_HALL, params)],
        )
    halls_service.require_reach(viewer, code)
    return code


async def choices(session: AsyncSession, viewer: AppUser) -> list[Jurisdiction]:
    """The jurisdictions the viewer may pick: its own and those below it."""
    own = viewer.jurisdiction or hall_rules.PROVINCE
    return [h for h in await halls.all_halls(session) if hall_rules.covers(own, h.code)]


async def _flags(
    session: AsyncSession,
    settings: Settings,
    filters: Filters,
    *,
    hall: str = hall_rules.PROVINCE,
    cursor: str | None = None,
) -> store.Page | None:
    """A page of ``hall``'s flags as last computed, those ``filters`` keep; None when the
    view has not been computed yet."""
    return await store.read_page(
        session, settings, hall=hall, filters=filters.stored(), after=decode_cursor(cursor)
    )


class FlagPages(Controller):
    path = "/supervision/flags"
    include_in_schema = False
    guards = [STAFF]

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        kind: FromQuery[str | None] = None,
        severity: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        jurisdiction: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Response[str]:
        viewer = await load_viewer(request, session)
        view = await view_of(session, viewer, jurisdiction)
        settings: Settings = request.app.state.settings
        filters = Filters.of(kind, severity, q)
        page = await _flags(session, settings, filters, hall=view, cursor=cursor)
        locale = request_locale(request)
        context: dict[str, Any] = {
            "jurisdiction": view,
            "jurisdictions": await choices(session, viewer),
            "computed": page is not None,
            "flags": page.flags if page else [],
            "total": page.total if page else 0,
            "matching": page.matching if page else 0,
            "computed_at": page.computed_at if page else None,
            "continued": cursor is not None,
            "next_url": f"/supervision/flags?{filters.query(view, page.next_after)}"
            if page is not None and page.next_after is not None
            else None,
            "interval_minutes": round(alerting.interval_of(settings) / 60),
            "by_kind": page.by_kind if page else {},
            "filters": filters,
            "kinds": F.KINDS,
            "severities": F.SEVERITY_LABELS,
            "evidence_labels": EVIDENCE_LABELS,
            "number_labels": NUMBER_LABELS,
            "summary": lambda f: summary(f, locale, html=True),
        }
        if wants_partial(request):
            return render(request, "supervision/flags/partials/list.html", **context)
        return render(request, "supervision/flags/index.html", **context)

    @get("/{kind:str}")
    async def explain(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        kind: FromPath[str],
        jurisdiction: FromQuery[str | None] = None,
    ) -> Response[str]:
        viewer = await load_viewer(request, session)
        if kind not in F.KINDS:
            raise DomainError(
                detail=N_("There is no red flag of kind {name}."),
                params={"name": kind},
                status=404,
                title="Not found",
            )
        settings: Settings = request.app.state.settings
        locale = request_locale(request)
        view = await view_of(session, viewer, jurisdiction)
        page = await _flags(session, settings, Filters(), hall=view)
        return render(
            request,
            "supervision/flags/kind.html",
            kind=kind,
            info=F.KINDS[kind],
            threshold_text=threshold(kind, settings, locale),
            computed=page is not None,
            count=page.by_kind[kind] if page else None,
            computed_at=page.computed_at if page else None,
            interval_minutes=round(alerting.interval_of(settings) / 60),
            jurisdiction=view,
        )


class FlagApi(Controller):
    path = "/api/v1/supervision/flags"
    tags = ["supervision"]
    guards = [STAFF]

    @get(
        "/",
        summary="Red flags: patterns in the records worth a supervisor's look (supervisors and administrators)",
        description="Computed in the background and kept: `as_of` says when; "
        "a change in the records shows after the next computation, a few minutes later. A request never computes "
        "them: while the view has not been computed yet (a hall's first computation after an upgrade or a bulk load "
        "takes minutes, or the thresholds changed since) the answer is still 200, with `computed` false, `as_of`, "
        "`total`, `matching` and `by_kind` null and `flags` empty; `refresh_interval_seconds` says how often the "
        "server's background task computes the views (0: its background tasks are off, and only `market flags "
        "refresh --hall CODE` computes one). Most severe first, "
        f"{store.PAGE} a page: `next_cursor` (null on the last page) is the `cursor` of the next one; `total` counts "
        "every flag of the view, `matching` those the filters keep. Each flag has its `kind` (explained at "
        "/supervision/flags/{kind}), `subject` (a public id of an agency, owner, notice or contract), `severity` "
        "(high, medium, low), the `numbers` that tripped it, `evidence` (records with their page, `href`, where they "
        "have one; `log` refs are log entry seqs) and its title, summary and threshold in zh_Hans and en. Filter with "
        "`kind`, `severity` and `q` (part of the subject's id or name). `jurisdiction` (a hall code the viewer reaches, "
        "its own by default) chooses the view: province-wide for the province, otherwise computed over that "
        "jurisdiction's own notices (403 for one beyond the viewer's reach). A flag is a reason to look, never a verdict.",
        cache=False,
    )
    async def list_flags(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        kind: FromQuery[str | None] = None,
        severity: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        jurisdiction: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        viewer = await load_viewer(request, session)
        view = await view_of(session, viewer, jurisdiction)
        settings: Settings = request.app.state.settings
        page = await _flags(session, settings, Filters.of(kind, severity, q), hall=view, cursor=cursor)
        return {
            "jurisdiction": view,
            # Not yet computed is a state of the view, not a failure of the server: a 503 would
            # page the operator and be retried, and with the background tasks off no
            # Retry-After would be true (docs/halls.md).
            "computed": page is not None,
            "refresh_interval_seconds": round(alerting.interval_of(settings)),
            # Not the log head the view was computed at: it moves with every sealed bid, and
            # before a deadline no answer may depend on the bids (test_sealed_outsider).
            "as_of": page.computed_at.isoformat() if page else None,
            "total": page.total if page else None,
            "matching": page.matching if page else None,
            "by_kind": page.by_kind if page else None,
            "thresholds": {k: F.threshold_params(k, settings) for k in F.KINDS},
            "flags": [public(f, settings) for f in page.flags] if page else [],
            "next_cursor": encode_cursor(page.next_after)
            if page is not None and page.next_after is not None
            else None,
        }
