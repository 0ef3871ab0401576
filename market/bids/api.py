"""Bids over JSON (api-v1.md): placing and withdrawing one's own sealed bid, one's own bids
and receipt files, and the key that bid receipts verify under."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import Role
from market.accounts.session import load_viewer
from market.agencies import service as agencies
from market.bids import service
from market.bids.present import bid_own
from market.notices import service as notices
from market.notices.models import BidInput
from market.security.auth import Principal, current_principal, requires_role


class BidApi(Controller):
    path = "/api/v1/notices"
    tags = ["notices"]

    @post(
        "/{notice_id:str}/bids",
        status_code=201,
        guards=[requires_role(Role.agency)],
        summary="Bid: `{price_fen}` for lowest price, `{}` otherwise (MSP/1 step 2)",
    )
    async def bid(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        data: JSONBody[BidInput],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        placed = await service.place_bid(
            session,
            bidder=_principal(request).public_id,
            notice_id=notice_id,
            price_fen=data.price_fen,
            receipts=request.app.state.receipts,
            sealer=request.app.state.sealer,
        )
        return bid_own(placed.bid, notice_id, placed.opened)

    @get(
        "/{notice_id:str}/bids/mine",
        guards=[requires_role(Role.agency)],
        summary="The caller's own bids on this notice, with receipts",
    )
    async def my_bids(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> list[dict[str, Any]]:
        user = await load_viewer(request, session)
        agency = await agencies.agency_of(session, user)
        notice = await notices.visible_notice(session, notice_id, user)
        if agency is None:
            return []
        own = await service.bids_of(session, agency, notice=notice, sealer=request.app.state.sealer)
        return [bid_own(b.bid, b.notice.public_id, b.opened, b.opened_in) for b in own]

    @get(
        "/{notice_id:str}/bids/{bid_id:str}/receipt",
        guards=[requires_role(Role.agency)],
        summary="The caller's receipt file for one of its MSP/2 bids (salt, document, inclusion proof), for `market receipt check`",
    )
    async def receipt(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        bid_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> Response[dict[str, Any]]:
        own = await service.own_bid(
            session,
            user=await load_viewer(request, session),
            notice_id=notice_id,
            bid_id=bid_id,
            sealer=request.app.state.sealer,
        )
        return Response(await service.receipt_file(session, own), headers={"Cache-Control": "no-store"})

    @delete(
        "/{notice_id:str}/bids/{bid_id:str}",
        status_code=200,
        guards=[requires_role(Role.agency)],
        summary="Withdraw one's own bid before the deadline",
    )
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        bid_id: FromPath[str],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        bid = await service.withdraw_bid(
            session,
            user=await load_viewer(request, session),
            notice_id=notice_id,
            bid_id=bid_id,
            sealer=request.app.state.sealer,
        )
        return {"bid_id": bid.public_id, "status": bid.status}


class ReceiptKeyApi(Controller):
    path = "/api/v1/log"
    tags = ["log"]

    @get("/receipt-key", summary="The public JWK (ES256) that bid receipts verify under")
    async def receipt_key(self, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        return Response(
            request.app.state.receipts.public_jwk(), headers={"Cache-Control": "public, max-age=3600"}
        )


def _principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller as the auth middleware checked them against the database a moment ago
    (the role guard has made sure there is one)."""
    principal = current_principal(request)
    assert principal is not None
    return principal
