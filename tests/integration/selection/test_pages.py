"""The selection pages: the draw page before and after the deadline, its events stream,
the winner's decline, objections from filing to a supervisor's decision, messages, and
what the notice, owner and agency pages show of the result."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.accounts.models import Role
from market.app import create_app
from market.core.db import Database
from tests.conftest import make_settings, serve_in_process
from tests.helpers import bearer, create_staff, csrf_from, register, token_for
from tests.integration.agencies.test_api import admin, create
from tests.integration.agencies.test_pages import login
from tests.integration.notices.test_pages import notice_form
from tests.integration.selection.helpers import Round, close, open_round, wait_until

EN = {"Accept-Language": "en"}
HOUR = 3600.0


async def agency_accounts(
    client: AsyncClient, staff: dict[str, str], n: int
) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """Approved agencies whose account emails are known, so that they can log in to pages."""
    made = []
    for _ in range(n):
        user = await register(client, role="agency")
        headers = bearer(await token_for(client, user["email"]))
        agency = await create(client, headers)
        review = await client.post(
            f"/api/v1/agencies/{agency['id']}/review", json={"decision": "approve"}, headers=staff
        )
        assert review.status_code == 200, review.text
        made.append((headers, {**agency, "email": user["email"]}))
    return made


async def owner_account(client: AsyncClient) -> tuple[dict[str, str], str]:
    user = await register(client, role="owner")
    return bearer(await token_for(client, user["email"])), user["email"]


@pytest.fixture
async def browsers(app: Litestar) -> AsyncIterator[Any]:
    """Logged-in page clients, one per email, each with its own cookies."""
    opened: list[Any] = []

    async def browser(email: str | None = None, **headers: str) -> AsyncClient:
        cm = serve_in_process(app)
        c = await cm.__aenter__()
        opened.append(cm)
        c.headers.update(headers)
        if email:
            await login(c, email)
        return c

    yield browser
    for cm in reversed(opened):
        await cm.__aexit__(None, None, None)


async def post_form(c: AsyncClient, page: str, path: str, data: dict[str, Any]) -> Any:
    token = csrf_from((await c.get(page)).text)
    return await c.post(path, data={"_csrf_token": token, **data}, follow_redirects=False)


def error_beside(page: str, key: str) -> str:
    match = re.search(rf'<small id="e-{re.escape(key)}" class="error"[^>]*>([^<]*)</small>', page)
    assert match, f"no error slot for {key}"
    return html.unescape(match.group(1)).strip()


def section(page: str, css_class: str) -> str:
    match = re.search(rf'<ol class="{css_class}[^"]*">(.*?)</ol>', page, re.S)
    assert match, f"no list {css_class}"
    return match.group(1)


async def drawn_round(
    client: AsyncClient, db: Database, *, bidders: int = 3, **notice: Any
) -> tuple[Round, dict[str, Any], str]:
    """A lottery with ``bidders`` approved agencies, closed and drawn; with the owner's email."""
    staff = await admin(client, db)
    owner, owner_email = await owner_account(client)
    who = await agency_accounts(client, staff, bidders)
    r = await open_round(
        client,
        staff,
        bidders=who,
        owner=owner,
        method="lottery",
        winners=1,
        min_candidates=min(bidders, 3),
        **notice,
    )
    record = await close(client, r)
    assert record["status"] == "selected", record
    return r, record, owner_email


def email_of(r: Round, agency_id: str) -> str:
    return next(a["email"] for _, a in r.bidders if a["id"] == agency_id)


# -- the draw page ------------------------------------------------------------------------------------


async def test_draw_page_before_the_deadline_shows_the_countdown_and_commitment_but_no_secret(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=2, due_in=HOUR, method="lottery")
    notice = (await client.get(f"/api/v1/notices/{r.notice_id}")).json()
    record = (await client.get(f"/api/v1/notices/{r.notice_id}/selection")).json()
    assert record["secret"] is None

    page = await client.get(f"/notices/{r.notice_id}/draw")
    assert page.status_code == 200, page.text
    text = page.text
    assert re.search(r'class="countdown big" data-left="\d+"', text)
    assert notice["commit"] in text and notice["terms_sha256"] in text and "<code>none</code>" in text
    assert "运营方" in text  # scheme none: whose fairness the draw rests on, in Chinese
    assert 'class="secret"' not in text and "Revealed at closing" not in text
    for _, agency in r.bidders:  # who bid stays sealed until the deadline
        assert agency["id"] not in text
    assert f'data-events="/notices/{r.notice_id}/draw/events"' in text and "/static/js/draw.js" in text
    assert "<script>" not in text  # no inline script: the page must work under a strict CSP

    english = (await client.get(f"/notices/{r.notice_id}/draw", headers=EN)).text
    assert "Time left:" in english and "The fairness of this draw rests on the operator." in english

    detail = (await client.get(f"/notices/{r.notice_id}")).text
    assert f'href="/notices/{r.notice_id}/draw"' in detail


async def test_draw_page_after_closing_shows_secret_candidates_order_winner_and_operator_fairness(
    client: AsyncClient, db: Database
) -> None:
    r, record, _ = await drawn_round(client, db, bidders=3)
    page = (await client.get(f"/notices/{r.notice_id}/draw", headers=EN)).text
    assert record["secret"] in page and record["seed"] in page and record["eligible"] in page
    assert "matches the commitment" in page
    order = section(page, "draw-order")
    positions = [order.index(a) for a in record["order"]]
    assert positions == sorted(positions)  # in the order drawn
    assert "reveal" in re.search(r'<ol class="(draw-order[^"]*)"', page).group(1)  # type: ignore[union-attr]  # just drawn
    winners = section(page, "winners")
    assert record["winners"][0] in winners and all(a not in winners for a in record["alternates"])
    for agency_id, _ in record["candidates"]:
        assert agency_id in section(page, "candidates")
    assert "The fairness of this draw rests on the operator." in page
    # Verify it yourself: the inputs, the commands and the links.
    assert f"python3 ops/verify_log.py --url http://testserver.local --notice {r.notice_id}" in page
    assert f"market log verify --notice {r.notice_id}" in page
    assert f"/api/v1/notices/{r.notice_id}/selection" in page
    assert (
        f'href="/log/entries/{record["seqs"]["closed"]}"' in page
        and f'href="/log/entries/{record["seqs"]["outcome"]}"' in page
    )
    candidates = ",".join(f'["{a}",{w}]' for a, w in record["candidates"])
    assert f"[{candidates}]" in html.unescape(page)  # the candidates as JSON, ready to paste

    chinese = (await client.get(f"/notices/{r.notice_id}/draw")).text
    assert "运营方" in chinese and "公示" in chinese

    detail = (await client.get(f"/notices/{r.notice_id}")).text
    assert record["winners"][0] in detail and "公示" in detail


async def test_lowest_price_draw_shows_the_opened_prices_in_yuan(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    r = await open_round(
        client,
        staff,
        bidders=3,
        prices=[12_345_600, 9_900_000, 10_000_050],
        method="lowest_price",
        min_candidates=3,
    )
    record = await close(client, r)
    page = (await client.get(f"/notices/{r.notice_id}/draw", headers=EN)).text
    assert "¥123,456.00" in page and "¥99,000.00" in page and "¥100,000.50" in page
    ranking = section(page, "ranking")
    assert ranking.index("¥99,000.00") < ranking.index("¥100,000.50") < ranking.index("¥123,456.00")
    assert record["winners"] == [r.bidders[1][1]["id"]]


async def test_too_few_candidates_fails_and_the_page_says_why(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=1, method="lottery", min_candidates=3)
    record = await close(client, r)
    assert record["status"] == "failed"
    page = (await client.get(f"/notices/{r.notice_id}/draw", headers=EN)).text
    assert "The selection failed" in page and "fewer eligible candidates than the notice" in page


async def test_a_drand_notice_closed_before_its_round_says_it_waits_and_why(
    database_url: str, tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With MARKET_BEACON=drand the bids are timelocked to the deadline's round and the draw
    waits for the round an hour later: here the first is served (recorded round 657413, for
    the timelock) and the second is not emitted yet (nor could it be reached, offline)."""
    from market import protocol
    from tests.integration.selection.test_beacon import ROUND, FakeBeacon

    monkeypatch.setattr(protocol, "tlock_round", lambda deadline_unix: ROUND)

    class TimelockRoundOnly(FakeBeacon):
        async def fetch(self, round_number: int) -> Any:
            if round_number != ROUND:
                self.failures = None  # the draw's round: unreachable
            return await super().fetch(round_number)

    app = create_app(make_settings(database_url, tmp_path, beacon="drand"), database=db)
    beacon = TimelockRoundOnly()
    app.state.beacon = beacon
    async with serve_in_process(app) as client:
        staff = await admin(client, db)
        r = await open_round(client, staff, bidders=3, method="lottery")
        record = await close(client, r)
        # the timelock round opened the bids; the draw's, an hour after the deadline, is not out yet
        assert record["sealing"] == "tlock" and beacon.asked == [ROUND]
        assert record["status"] == "closed" and record["scheme"].startswith("drand/quicknet/"), record
        page = (await client.get(f"/notices/{r.notice_id}/draw", headers=EN)).text
        assert "Waiting for the randomness beacon." in page and html.escape(record["waiting_reason"]) in page
        assert record["secret"] in page and 'class="winners"' not in page
        assert "rests on the operator" not in page  # a committed beacon: nobody knew the seed in advance
        assert f"<code>{record['scheme']}</code>" in page


async def test_events_stream_sends_the_panel_at_connect(
    app: Litestar, client: AsyncClient, db: Database
) -> None:
    """Without a started LISTEN/NOTIFY plugin (no lifespan here) the stream polls; either way
    the first event is the current panel, as one ``update`` event over several data lines."""
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=2, due_in=HOUR, method="lottery")
    body = bytearray()
    got_event = asyncio.Event()
    request_sent = False
    start: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await got_event.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if b"\r\n\r\n" in body:
                got_event.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/notices/{r.notice_id}/draw/events",
        "raw_path": f"/notices/{r.notice_id}/draw/events".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver.local"), (b"accept", b"text/event-stream")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=20)  # type: ignore[arg-type]
    assert start["status"] == 200
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert headers["content-type"].startswith("text/event-stream")
    event = bytes(body).decode().split("\r\n\r\n")[0]
    lines = event.split("\r\n")
    assert re.fullmatch(r"id: \d+", lines[0]) and lines[1] == "event: update"  # id: the newest seq shown
    assert len(lines) > 5 and all(line.startswith("data: ") for line in lines[2:])
    panel = "\n".join(line.removeprefix("data: ") for line in lines[2:])
    assert 'class="countdown big"' in panel and "<html" not in panel

    missing = await client.get("/notices/N-999999/draw/events", headers={"Accept": "text/event-stream"})
    assert missing.status_code == 404


# -- the winner's and the owner's actions --------------------------------------------------------------


async def test_the_winner_declines_through_the_form_and_a_non_winner_gets_a_403_page(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, _ = await drawn_round(client, db, bidders=3)
    winner_id, first_alternate = record["winners"][0], record["alternates"][0]
    loser = await browsers(email_of(r, record["alternates"][1]))
    refused = await post_form(
        loser, f"/notices/{r.notice_id}/draw", f"/notices/{r.notice_id}/decline", {"reason": "不想做了"}
    )
    assert refused.status_code == 403 and "<html" in refused.text and "403" in refused.text
    assert (
        'action="/notices/%s/decline"' % r.notice_id
        not in (await loser.get(f"/notices/{r.notice_id}/draw")).text
    )

    winner = await browsers(email_of(r, winner_id))
    page = (await winner.get(f"/notices/{r.notice_id}/draw")).text
    assert f'action="/notices/{r.notice_id}/decline"' in page
    empty = await post_form(
        winner, f"/notices/{r.notice_id}/draw", f"/notices/{r.notice_id}/decline", {"reason": "  "}
    )
    assert empty.status_code == 422 and error_beside(empty.text, "decline-reason")

    dashboard = (await winner.get("/agency")).text
    assert r.notice_id in dashboard and f'action="/notices/{r.notice_id}/decline"' in dashboard
    done = await post_form(
        winner,
        f"/notices/{r.notice_id}/draw",
        f"/notices/{r.notice_id}/decline",
        {"reason": "人员不足，无法按期完成"},
    )
    assert (
        done.status_code == 303 and done.headers["location"] == f"/notices/{r.notice_id}/draw?done=declined"
    )
    page = (await winner.get(done.headers["location"], headers=EN)).text
    assert "You have declined the award" in page and "人员不足，无法按期完成" in page
    holders = re.search(r'<ul class="holders">(.*?)</ul>', page, re.S).group(1)  # type: ignore[union-attr]
    assert first_alternate in holders and winner_id not in holders
    assert (await client.get(f"/api/v1/notices/{r.notice_id}/selection")).json()["holders"] == [
        first_alternate
    ]


async def test_an_objection_outside_publicity_shows_why_on_the_page(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    staff = await admin(client, db)
    owner_headers, owner_email = await owner_account(client)
    r = await open_round(client, staff, bidders=2, due_in=HOUR, method="lottery", owner=owner_headers)
    someone = await browsers(owner_email)  # the owner: a party, but the result is not out yet
    draw = f"/notices/{r.notice_id}/draw"
    assert f'action="/notices/{r.notice_id}/objections"' not in (await someone.get(draw)).text
    response = await post_form(
        someone,
        draw,
        f"/notices/{r.notice_id}/objections",
        {"reasons": "报名条件设置不合理，排斥潜在投标人", "agency_id": ""},
    )
    assert response.status_code == 409 and 'role="alert"' in response.text
    assert "只能在结果公示期内提出异议" in response.text
    assert (await client.get(f"/api/v1/notices/{r.notice_id}/objections")).json() == []


async def test_objection_is_filed_answered_and_upheld_by_a_supervisor(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, owner_email = await drawn_round(client, db, bidders=3)
    winner_id, first_alternate = record["winners"][0], record["alternates"][0]
    draw = f"/notices/{r.notice_id}/draw"

    filer_id = record["alternates"][-1]  # a bidder that was not drawn: it has standing
    filer_email = email_of(r, filer_id)
    filer = await browsers(filer_email, **EN)
    page = (await filer.get(draw)).text
    assert f'action="/notices/{r.notice_id}/objections"' in page and f'<option value="{winner_id}"' in page
    short = await post_form(
        filer, draw, f"/notices/{r.notice_id}/objections", {"reasons": "太短", "agency_id": winner_id}
    )
    assert short.status_code == 422 and "at least 10 characters" in error_beside(
        short.text, "objection-reasons"
    )
    filed = await post_form(
        filer,
        draw,
        f"/notices/{r.notice_id}/objections",
        {"reasons": "中选机构的资质证书已被吊销，不符合报名条件", "agency_id": winner_id},
    )
    assert filed.status_code == 303, filed.text
    objection_id = (await client.get(f"/api/v1/notices/{r.notice_id}/objections")).json()[0]["id"]
    page = (await filer.get(draw)).text
    assert "中选机构的资质证书已被吊销" in page and "Waiting for the owner" in page

    owner = await browsers(owner_email, **EN)
    dashboard = (await owner.get("/owner")).text
    assert f"#answer-{objection_id}" in dashboard
    answered = await post_form(
        owner,
        draw,
        f"/notices/{r.notice_id}/objections/{objection_id}/answer",
        {"answer": "已向发证机关核实，正在调查"},
    )
    assert answered.status_code == 303, answered.text

    supervisor = await browsers(await create_staff(db, role=Role.supervisor), **EN)
    queue = (await supervisor.get("/supervision/objections")).text
    assert objection_id in queue and f"{draw}#decide-{objection_id}" in queue
    page = (await supervisor.get(draw)).text
    assert "已向发证机关核实，正在调查" in page and f'id="decide-{objection_id}"' in page
    assert re.search(rf"Filed by: .*{filer_id}", page)  # the party, to supervisors
    vague = await post_form(
        supervisor,
        draw,
        f"/notices/{r.notice_id}/objections/{objection_id}/decision",
        {"decision": "", "reason": "证据充分"},
    )
    assert vague.status_code == 422 and error_beside(vague.text, f"decision-{objection_id}-decision")
    decided = await post_form(
        supervisor,
        draw,
        f"/notices/{r.notice_id}/objections/{objection_id}/decision",
        {"decision": "upheld", "reason": "经核实，资质证书已吊销"},
    )
    assert decided.status_code == 303, decided.text
    page = (await supervisor.get(draw)).text
    assert "经核实，资质证书已吊销" in page and "Upheld" in page
    holders = re.search(r'<ul class="holders">(.*?)</ul>', page, re.S).group(1)  # type: ignore[union-attr]
    assert first_alternate in holders and winner_id not in holders
    assert objection_id not in (await supervisor.get("/supervision/objections")).text
    # Who filed it is not published; supervisors see the party (never the account's email).
    public = (await client.get(draw)).text
    assert filer_email not in public and filer_email not in page and "Filed by" not in public

    # Only a supervisor decides; only the owner answers.
    assert (await owner.get("/supervision/objections")).status_code == 403


async def test_owner_closes_after_the_deadline_from_the_draw_page(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    staff = await admin(client, db)
    owner_headers, owner_email = await owner_account(client)
    owner = await browsers(owner_email)
    later = await open_round(client, staff, bidders=1, owner=owner_headers, due_in=HOUR, method="lottery")
    page = (await owner.get(f"/notices/{later.notice_id}/draw")).text
    assert f'action="/notices/{later.notice_id}/close"' not in page  # not before the deadline
    early = await post_form(
        owner, f"/notices/{later.notice_id}/draw", f"/notices/{later.notice_id}/close", {}
    )
    assert early.status_code == 409 and "报名截止时间尚未到" in early.text

    r = await open_round(client, staff, bidders=3, owner=owner_headers, method="lottery")
    await wait_until(r.deadline)
    assert f'action="/notices/{r.notice_id}/close"' in (await owner.get("/owner")).text
    stranger = await browsers((await register(client, role="owner"))["email"])
    assert (
        await post_form(stranger, f"/notices/{r.notice_id}/draw", f"/notices/{r.notice_id}/close", {})
    ).status_code == 403
    closed = await post_form(owner, f"/notices/{r.notice_id}/draw", f"/notices/{r.notice_id}/close", {})
    assert closed.status_code == 303, closed.text
    page = (await owner.get(closed.headers["location"], headers=EN)).text
    assert "Bidding is closed" in page and 'class="secret"' in page and 'class="winners"' in page
    assert f'action="/notices/{r.notice_id}/close"' not in page


# -- messages ---------------------------------------------------------------------------------------------


async def test_messages_page_tells_the_winner_it_won_in_chinese_and_english(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, owner_email = await drawn_round(client, db, bidders=3)
    winner = await browsers(email_of(r, record["winners"][0]))
    dashboard = (await winner.get("/agency")).text
    assert 'href="/messages"' in dashboard and "1 条未读" in dashboard
    page = (await winner.get("/messages")).text
    assert "贵机构已中选" in page and r.notice_id in page and "新" in page
    assert "运营方" in page  # a draw without a beacon says whose fairness it rests on
    english = (await winner.get("/messages", headers=EN)).text
    assert "Your agency has won" in english
    assert 'class="new"' not in english  # the first visit marked it read

    loser = await browsers(email_of(r, record["alternates"][0]))
    assert "Your agency has won" not in (await loser.get("/messages", headers=EN)).text

    owner = await browsers(owner_email, **EN)
    assert "is out and in publicity" in (await owner.get("/messages")).text
    assert (
        await (await browsers()).get("/messages", follow_redirects=False)
    ).status_code == 303  # logged out: log in first


# -- the notice form: direct selection --------------------------------------------------------------------


async def test_owner_creates_a_direct_selection_and_every_page_flags_it(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    staff = await admin(client, db)
    ((_, named),) = await agency_accounts(client, staff, 1)
    owner = await browsers((await register(client, role="owner"))["email"])
    form = notice_form(
        method="direct",
        min_candidates="1",
        direct_agency_id=named["id"],
        direct_justification="涉密项目，经主管部门批准直接选取",
    )
    # A lottery that names an agency is refused beside the field.
    wrong = await post_form(
        owner, "/owner/notices/new", "/owner/notices", {**form, "method": "lottery", "min_candidates": ""}
    )
    assert wrong.status_code == 422 and error_beside(wrong.text, "direct_agency_id")
    short = await post_form(
        owner, "/owner/notices/new", "/owner/notices", {**form, "direct_justification": "保密"}
    )
    assert short.status_code == 422 and error_beside(short.text, "direct_justification")
    made = await post_form(owner, "/owner/notices/new", "/owner/notices", form)
    assert made.status_code == 303, made.text
    notice_id = re.search(r"/notices/([^?]+)", made.headers["location"]).group(1)  # type: ignore[union-attr]
    new = (await owner.get("/owner/notices/new")).text
    assert 'name="direct_agency_id"' in new and 'name="direct_justification"' in new
    edit = (await owner.get(f"/owner/notices/{notice_id}/edit")).text
    assert f'value="{named["id"]}"' in edit and "涉密项目，经主管部门批准直接选取" in edit
    assert (
        await post_form(
            owner, f"/owner/notices/{notice_id}/publish", f"/owner/notices/{notice_id}/publish", {}
        )
    ).status_code == 303
    page = (await owner.get(f"/notices/{notice_id}", headers=EN)).text
    assert "Direct selection: no draw." in page and "涉密项目，经主管部门批准直接选取" in page
    draw = (await owner.get(f"/notices/{notice_id}/draw", headers=EN)).text
    assert "Direct selection: no draw." in draw and named["id"] in draw
