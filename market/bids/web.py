"""The bids' pages: placing and withdrawing a bid from the notice page, the bidder's receipt
(shown once for a timelocked bid, or as a file), and the agency's "open to me" and "my
bids". Sealed bids: no page here reads another agency's bid; the only bids ever loaded are
the logged-in agency's own (``bids.bids_of(session, agency, ...)``)."""

from __future__ import annotations

import base64
import json
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import Role
from market.accounts.session import load_viewer
from market.agencies import service as agencies
from market.bids import service as bids
from market.core.errors import DomainError, InvalidInput
from market.core.money import parse_yuan
from market.dashboards import service as dashboards
from market.dashboards.rules import OUTCOME_LABELS, OUTCOME_NEXT
from market.notices import service as notices
from market.notices.detail import notice_page
from market.notices.forms import known
from market.notices.models import Method
from market.security.auth import requires_role
from market.web.forms import FormErrors, place_errors
from market.web.templating import redirect, render
from market.web.times import remaining


class BidPages(Controller):
    include_in_schema = False

    @post("/notices/{notice_id:str}/bids", guards=[requires_role(Role.agency)])
    async def bid(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        notice = await notices.visible_notice(session, notice_id, user)
        values = {"price": str((await request.form()).get("price") or "").strip()}
        errors = FormErrors()
        price: int | None = None
        if notice.method == Method.lowest_price:
            try:
                price = parse_yuan(values["price"], "price")
            except InvalidInput as exc:
                place_errors(errors, exc.errors, known(("price",)))
        if errors:
            return await notice_page(
                request, session, notice, user, status_code=422, bid_errors=errors, bid_values=values
            )
        try:
            async with session.begin_nested():
                placed = await bids.place_bid(
                    session,
                    bidder=user.public_id,
                    notice_id=notice.public_id,
                    price_fen=price,
                    receipts=request.app.state.receipts,
                    sealer=request.app.state.sealer,
                )
        except DomainError as exc:
            await session.refresh(notice)
            errors = FormErrors()
            place_errors(errors, exc.errors, known(("price",)))
            # Eligibility reasons come as errors named by their code; the page lists them itself.
            return await notice_page(
                request,
                session,
                notice,
                user,
                status_code=exc.status,
                problem=exc,
                bid_errors=errors,
                bid_values=values,
            )
        if placed.opened is not None and placed.bid.sealed is None:
            # Timelocked: the server keeps nothing that opens the bid, so this answer is the
            # one time the bidder can take its receipt (salt, document) with it.
            body = bids.receipt_body(placed.opened)
            text = json.dumps(body, ensure_ascii=False, indent=2)
            return render(
                request,
                "bids/receipt_once.html",
                status_code=201,
                notice=notice,
                bid=placed.bid,
                receipt=text,
                download="data:application/json;base64,"
                + base64.b64encode(text.encode("utf-8")).decode("ascii"),
                headers={"Cache-Control": "no-store"},
            )
        return redirect(f"/notices/{notice.public_id}?done=bid#my-bid")

    @post("/notices/{notice_id:str}/bids/{bid_id:str}/withdraw", guards=[requires_role(Role.agency)])
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
        bid_id: FromPath[str],
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        notice = await notices.visible_notice(session, notice_id, user)
        try:
            async with session.begin_nested():
                await bids.withdraw_bid(
                    session,
                    user=user,
                    notice_id=notice.public_id,
                    bid_id=bid_id,
                    sealer=request.app.state.sealer,
                )
        except DomainError as exc:
            await session.refresh(notice)
            return await notice_page(request, session, notice, user, status_code=exc.status, problem=exc)
        return redirect(f"/notices/{notice.public_id}?done=withdrawn")

    @get("/notices/{notice_id:str}/bids/{bid_id:str}/receipt.json", guards=[requires_role(Role.agency)])
    async def receipt(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
        bid_id: FromPath[str],
    ) -> Response[Any]:
        """The bidder's receipt file (MSP/2), for ``market receipt check``."""
        user = await load_viewer(request, session)
        own = await bids.own_bid(
            session, user=user, notice_id=notice_id, bid_id=bid_id, sealer=request.app.state.sealer
        )
        body = await bids.receipt_file(session, own)
        return Response(
            body,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="receipt-{own.public_id}.json"',
                "Cache-Control": "no-store",
            },
        )

    # -- the agency's pages ---------------------------------------------------------------------

    @get("/agency/notices", guards=[requires_role(Role.agency)])
    async def open_to_me(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        user = await load_viewer(request, session)
        agency = await agencies.agency_of(session, user)
        rows = await bids.open_notices_for(session, agency) if agency is not None else []
        # Notices the agency already bid on say so (with a way to its bid), not "Bid" again.
        placed = await dashboards.standing_bids(session, agency, [n for n, _ in rows]) if agency else {}
        return render(
            request,
            "bids/open_to_me.html",
            agency=agency,
            rows=rows,
            placed=placed,
            now=await notices.db_now(session),
            remaining=remaining,
        )

    @get("/agency/bids", guards=[requires_role(Role.agency)])
    async def my_bids(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        user = await load_viewer(request, session)
        agency = await agencies.agency_of(session, user)
        rows = (
            await bids.bids_of(session, agency, sealer=request.app.state.sealer) if agency is not None else []
        )
        outcomes = (
            await dashboards.bid_outcomes(
                session, agency, [(b.public_id, b.bid.status, b.notice) for b in rows]
            )
            if agency is not None
            else {}
        )
        return render(
            request,
            "bids/my_bids.html",
            agency=agency,
            rows=rows,
            outcomes=outcomes,
            OUTCOME_LABELS=OUTCOME_LABELS,
            OUTCOME_NEXT=OUTCOME_NEXT,
            now=await notices.db_now(session),
        )
