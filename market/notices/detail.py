"""The notice page (and a notice's action pages) as the notices' and the bids' pages show it:
the bids' pages show it again with a refused bid's errors, the owner's and the staff's pages
with a refused action's problem. Not a handler module: the pages of both domains call it."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.bids import service as bids
from market.core.errors import DomainError
from market.core.i18n import N_
from market.core.money import format_fen
from market.notices import service
from market.notices.models import BidStatus, Notice, NoticeStatus
from market.notices.queries import NoticePage
from market.protocol.encoding import parse_ts
from market.selection.models import Selection
from market.web.forms import FormErrors
from market.web.labels import FIELD_LABELS
from market.web.templating import render
from market.web.times import china_time, remaining

NOTICE_DONE = {
    "created": N_("The draft is saved. Only you can see it until you publish it."),
    "reissued": N_(
        "A new draft is made from the failed notice, with a new deadline. Check it, edit it if need be, and publish it."
    ),
    "reissued_before": N_(
        "The failed notice was already re-issued: this is the notice made from it, and no other was made."
    ),
    "updated": N_("The draft has been updated."),
    "published": N_("The notice is published: its terms are frozen and its commitment is in the public log."),
    "amended": N_("The notice has been amended; the new terms are in the public log."),
    "cancelled": N_("The notice has been cancelled; any standing bids are released."),
    "cancel_requested": N_(
        "Your request to cancel is published; a supervisor will consent or refuse. Until then the notice stays open."
    ),
    "cancel_refused": N_("The cancellation is refused; the notice stays open."),
    "bid": N_("Your bid has been accepted. Keep the receipt below: it proves that the log holds your bid."),
    "withdrawn": N_("Your bid has been withdrawn."),
}


def shape_changes(changes: dict[str, Any]) -> list[tuple[str, str, str]]:
    """An amendment's changes as (field, old, new) texts: money in yuan, times in China time."""

    def text(key: str, value: Any) -> str:
        if value is None or value == "":
            return "—"
        if key == "budget_fen":
            return format_fen(value)
        if key == "bid_deadline":
            try:
                return china_time(parse_ts(str(value)))
            except ValueError:
                return str(value)
        return str(value)

    return [(key, text(key, old), text(key, new)) for key, (old, new) in sorted(changes.items())]


async def notice_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    notice: Notice,
    viewer: AppUser | None,
    **shown: Any,
) -> Response[str]:
    """The page for a logged-in viewer: the public part read on the request's own
    connection (so it sees what this transaction sees), the viewer's own part (an
    agency's bids and eligibility) through the ORM. ``shown``: the rest of what
    render_notice takes (status code, messages, the bid form's errors and values)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None  # asyncpg's connection, under SQLAlchemy's
    page = await service.notice_page(driver, notice.public_id)
    agency: Agency | None = None
    eligibility: Any = None
    own_bids: list[Any] = []
    if viewer is not None and viewer.role == Role.agency:
        agency = await agencies.agency_of(session, viewer)
        if agency is not None:
            # Only this agency's own bids: nothing here reads anyone else's.
            own_bids = await bids.bids_of(session, agency, notice=notice, sealer=request.app.state.sealer)
            if notice.status == NoticeStatus.open and page.now < notice.bid_deadline:
                eligibility = await bids.eligibility(session, agency, await service.view(session, notice))
    # Only its owner is told what a failed notice became (a draft is the owner's alone).
    reissued = (
        await service.reissued_as(session, notice)
        if notice.status == NoticeStatus.failed and viewer is not None and viewer.id == notice.owner_id
        else None
    )
    publicity_ends = None
    if agency is not None and any(h.public_id == agency.public_id for h in page.holders):
        selection = await session.get(Selection, notice.id)
        publicity_ends = selection.publicity_ends if selection is not None else None
    return render_notice(
        request,
        page,
        viewer,
        agency=agency,
        eligibility=eligibility,
        own_bids=own_bids,
        publicity_ends=publicity_ends,
        reissued=reissued,
        **shown,
    )


def render_notice(
    request: Request[Any, Any, Any],
    page: NoticePage,
    viewer: AppUser | None,
    *,
    agency: Agency | None = None,
    eligibility: Any = None,
    own_bids: list[Any] | None = None,
    status_code: int = 200,
    done: str | None = None,
    changed: str | None = None,
    problem: DomainError | None = None,
    bid_errors: FormErrors | None = None,
    bid_values: dict[str, str] | None = None,
    publicity_ends: Any = None,
    reissued: Notice | None = None,
) -> Response[str]:
    n, now = page.notice, page.now
    own_bids = own_bids or []
    holders = (
        page.holders if n.status in (NoticeStatus.selected, NoticeStatus.awarded, NoticeStatus.failed) else []
    )
    changed_fields = [c for c in (changed or "").split(",") if c in FIELD_LABELS] if done == "amended" else []
    return render(
        request,
        "notices/detail.html",
        status_code=status_code,
        v=page,
        n=n,
        now=now,
        left=remaining(n.bid_deadline, now),
        bidding_open=n.status == NoticeStatus.open and now < n.bid_deadline,
        is_owner=viewer is not None and viewer.id == n.owner_id,
        viewer_role=viewer.role if viewer else None,
        agency=agency,
        eligibility=eligibility,
        own_bids=own_bids,
        standing=next((b for b in own_bids if b.status == BidStatus.standing), None),
        amendments=[(r, shape_changes(r.changes)) for r in page.revisions],
        holders=holders,
        # The agency viewing holds the award: it is told what comes next (issue 22).
        is_holder=agency is not None
        and n.status in (NoticeStatus.selected, NoticeStatus.awarded)
        and any(h.public_id == agency.public_id for h in holders),
        publicity_ends=publicity_ends,
        reissued=reissued,
        contract_days=request.app.state.settings.contract_days,
        message=NOTICE_DONE.get(done or ""),
        changed_fields=changed_fields,
        problem=problem,
        bid_errors=bid_errors or FormErrors(),
        bid_values=bid_values or {"price": ""},
    )


async def action_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    notice: Notice,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    now = await service.db_now(session)
    return render(
        request,
        template,
        status_code=status_code,
        v=await service.view(session, notice),
        n=notice,
        now=now,
        min_window=request.app.state.settings.min_bid_window,
        beacon=request.app.state.settings.beacon,
        problem=context.pop("problem", None),
        **context,
    )
