"""The outsider test of sealed bids (issue 18, item 5: "nothing else tells either").

Before a notice's deadline, nothing the app answers may depend on the bids placed on it,
except what a bidder reads about its own bid. The proof is a comparison: every GET route
of the app (taken from its route table, path parameters filled with the world's ids and
query variants that search, filter and page) is asked by every kind of caller twice, once
with the bids placed and once in the same world without them (the bids are made in a
savepoint that is then rolled back), and the two answers must be the same byte for byte
once CSRF tokens, CSP nonces and the clock are masked. A count, a bidder's name beside the
notice, a changed flag, a feed that moved: any of them makes the answers differ, whatever
words or numbers it uses. On top of that, no answer to anyone but the bidder holds a bid
id, a price, or any secret of a bid's receipt, and no JSON says how many tendered.

The callers: anonymous, an approved agency that did not bid, the owner of the notices, an
administrator, a supervisor, and each bidder (A and B standing, C withdrawn), whose own
pages may show their own bid and nothing of anyone else's.

The log is the one surface allowed to change when a bid arrives: MSP/2 logs a sealed entry
that names nothing. ``test_the_log_ties_no_bid_to_a_notice_or_an_agency`` checks those
entries; while the service still writes MSP/1 ``bid.accepted`` entries (which name the
notice, the agency and the bid), that test reports an expected failure, and it becomes a
plain test the moment the bid path writes ``bid.sealed``.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from httpx import AsyncClient, Response
from litestar import Litestar
from litestar.routes import HTTPRoute
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncConnection

from market.accounts.models import Role
from market.app import create_app
from market.core.clock import today_in_china
from market.core.db import Database
from market.security import passwords
from market.security.auth import SESSION_COOKIE
from market.supervision.flags.rules import Kind
from tests.conftest import make_settings, serve_in_process
from tests.helpers import create_staff, register, token_for
from tests.integration.agencies.test_api import PDF, agency_body, credit_code
from tests.integration.notices.test_api import notice_body
from tests.integration.supervision.test_flags_jurisdiction import compute_flags

# Distinctive prices (fen), so that a leak is found by its digits in any format.
PRICES = {"A": 8_765_431, "B": 9_123_457, "C": 7_654_329, "A2": 6_543_217}
NAMES = {
    "A": "滇池甲号测绘勘察有限公司",
    "B": "洱海乙号环境评价有限公司",
    "C": "抚仙湖丙号工程咨询有限公司",
    "D": "泸沽湖丁号规划设计有限公司",  # approved, never bids: the outsider agency
}
BIDDERS = ("A", "B", "C")
TITLE = "密封外观测试项目甲"
OTHER_TITLE = "密封外观测试项目乙"

# The log shows every entry and its tree; it changes when anything is appended, bids
# included. What it may carry about a bid is checked by the second test.
LOG_ROUTES = re.compile(r"^(/log(/|$)|/api/v1/log/)")
# A bidder's own pages, which show its own bid (and only its own).
OWN_ROUTES = (
    "/notices/{notice_id:str}",
    "/api/v1/notices/{notice_id:str}/bids/mine",
    "/agency/bids",
    "/agency/notices",
    "/agency",
    "/dashboard",  # the agency's own bids and what it may still bid on (issue 22)
    "/api/v1/notices/{notice_id:str}/bids/{bid_id:str}/receipt",
    "/notices/{notice_id:str}/bids/{bid_id:str}/receipt.json",
)


@dataclass
class World:
    tokens: dict[str, str | None]  # viewer -> JWT (None: anonymous)
    ids: dict[str, str] = field(default_factory=dict)
    agencies: dict[str, str] = field(default_factory=dict)  # A, B, C, D -> public id
    since: str = ""  # a moment before any bid, for the feeds' ``since``
    bids: dict[str, dict[str, Any]] = field(default_factory=dict)  # A, B, C, A2 -> the answer to the bid
    bid_seqs: list[int] = field(default_factory=list)  # the log entries the bids wrote


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def call(
    client: AsyncClient, method: str, path: str, token: str | None, expect: int, **kwargs: Any
) -> Any:
    response = await client.request(method, path, headers=bearer(token), **kwargs)
    assert response.status_code == expect, (
        f"set-up: {method} {path} -> {response.status_code} {response.text[:400]}"
    )
    return (
        response.json() if response.content and "json" in response.headers.get("content-type", "") else None
    )


async def build_world(client: AsyncClient, db: Database) -> World:
    """Everything but the bids: staff, an owner with an organisation and a project, four
    approved agencies (one with a document), and two open notices a week from their deadline."""
    admin = await token_for(client, await create_staff(db, role=Role.admin))
    supervisor = await token_for(client, await create_staff(db, role=Role.supervisor))
    owner = await token_for(client, (await register(client, role="owner", org=None))["email"])
    world = World(tokens={"anonymous": None, "owner": owner, "admin": admin, "supervisor": supervisor})
    for key, name in NAMES.items():
        token = await token_for(client, (await register(client, role="agency"))["email"])
        agency = await call(client, "POST", "/api/v1/agencies", token, 201, json=agency_body(name=name))
        await call(
            client,
            "POST",
            f"/api/v1/agencies/{agency['id']}/review",
            admin,
            200,
            json={"decision": "approve"},
        )
        world.agencies[key] = agency["id"]
        world.tokens["outsider" if key == "D" else key] = token
    doc = await call(
        client,
        "POST",
        "/api/v1/agencies/mine/documents",
        world.tokens["A"],
        201,
        files={"file": ("licence.pdf", PDF, "application/pdf")},
        data={"kind": "licence"},
    )
    world.ids["document"] = str(doc["id"])
    org = await call(
        client,
        "POST",
        "/api/v1/owners/org",
        owner,
        201,
        json={"name": "大理州自然资源局", "credit_code": credit_code(), "region": "532900"},
    )
    world.ids["org"] = org["id"]
    await call(
        client,
        "POST",
        "/api/v1/owners/projects",
        owner,
        201,
        json={"name": "洱海保护工程", "code": f"{today_in_china().year}-532901-48-01-{777001:06d}"},
    )
    deadline = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    for key, title, method in (("notice", TITLE, "lowest_price"), ("other_notice", OTHER_TITLE, "lottery")):
        body = notice_body(
            title=title, method=method, budget_fen=10_000_000, min_candidates=2, bid_deadline=deadline
        )
        notice = await call(client, "POST", "/api/v1/notices", owner, 201, json=body)
        await call(client, "POST", f"/api/v1/notices/{notice['id']}/publish", owner, 200)
        world.ids[key] = notice["id"]
    # A whole second after the last entry so far (the feeds compare at whole seconds); every
    # bid comes after it.
    since = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
    world.since = since.isoformat().replace("+00:00", "Z")
    await asyncio.sleep((since - datetime.now(UTC)).total_seconds() + 0.05)
    return world


async def place_bids(client: AsyncClient, world: World) -> None:
    """A and B bid on the notice; C bids and withdraws; A also bids on the other notice."""
    before = await log_size(client)
    nid, other = world.ids["notice"], world.ids["other_notice"]
    for key in BIDDERS:
        world.bids[key] = await call(
            client,
            "POST",
            f"/api/v1/notices/{nid}/bids",
            world.tokens[key],
            201,
            json={"price_fen": PRICES[key]},
        )
    await call(
        client, "DELETE", f"/api/v1/notices/{nid}/bids/{world.bids['C']['bid_id']}", world.tokens["C"], 200
    )
    world.bids["A2"] = await call(
        client, "POST", f"/api/v1/notices/{other}/bids", world.tokens["A"], 201, json={}
    )
    world.bid_seqs = list(range(before, await log_size(client)))


async def log_size(client: AsyncClient) -> int:
    return int((await client.get("/api/v1/log/checkpoint")).text.split("\n")[1])


# -- the routes and what to ask them -----------------------------------------------------------------


def get_routes(app: Litestar) -> list[str]:
    out = set()
    for route in app.routes:
        if isinstance(route, HTTPRoute) and not route.path.startswith("/static/"):
            if any("GET" in h.http_methods for h in route.route_handlers):
                out.add(route.path)
    return sorted(out)


def variants(template: str, world: World) -> list[str]:
    """Concrete paths for one route template: every combination of the ids a parameter may
    take, and the query strings worth asking."""
    nid, other = world.ids["notice"], world.ids["other_notice"]
    values: dict[str, list[str]] = {
        "notice_id": [nid, other],
        "agency_id": list(world.agencies.values()),
        "org_id": [world.ids["org"]],
        "document_id": [world.ids["document"]],
        "bid_id": [b["bid_id"] for b in world.bids.values()] or ["B-000000"],
        "contract_id": ["C-000001"],
        "rating_id": ["R-000001"],
        "objection_id": ["O-000001"],
        "user_id": ["U-000001"],
        "qualification_id": ["1"],
        "position": ["1"],
        "seq": ["0"],
        "code": ["en"],
        "kind": [k.value for k in Kind],
        "path": ["redoc"],
    }
    if template.startswith("/stats/"):
        values["filename"] = ["summary.csv", "category.csv", "region.csv", "month.csv"]
    elif template.startswith("/data/"):
        values["filename"] = ["notices.csv", "awards.csv", "contracts.csv"]
    paths = [template]
    for name in re.findall(r"\{(\w+):\w+\}", template):
        paths = [re.sub(r"\{" + name + r":\w+\}", v, p, count=1) for p in paths for v in values[name]]
    queries = QUERIES.get(template, [{}])
    queries = queries(world) if callable(queries) else queries
    return [
        p + ("?" + urlencode(q(world) if callable(q) else q) if q else "") for p in paths for q in queries
    ]


def _searches(world: World) -> list[Any]:
    return [
        {"q": world.ids["notice"]},
        {"q": TITLE},
        *({"q": agency_id} for agency_id in world.agencies.values()),
        {"q": NAMES["A"]},
    ]


QUERIES: dict[str, Any] = {
    "/api/v1/notices": [{}, {"status": "open"}, {"q": TITLE}, {"method": "lowest_price", "limit": 1}],
    "/notices": [{}, {"status": "open"}, {"q": TITLE}],
    "/api/v1/agencies": [{}, {"q": NAMES["A"]}],
    "/agencies": [{}, {"q": NAMES["B"]}],
    "/api/v1/contracts": [{}, *({"agency_id": a} for a in NAMES)],
    "/api/v1/ocds/releases": [
        {},
        {"limit": 1},
        lambda w: {"since": w.since},
        lambda w: {"since": w.since, "limit": 1},
    ],
    "/supervision": lambda w: [{}, *_searches(w)],  # a bid entry found by its seq: the log test
    "/supervision/flags": [{}, {"kind": "withdrawals"}, {"kind": "similar_prices"}],
    "/api/v1/supervision/flags": [{}, {"kind": "withdrawals"}],
    "/api/v1/regions": [{}, {"parent": "530000"}],
    "/agency/check-credit-code": [{"credit_code": "91530100MA00000001"}],
    "/agency/levels": [{"category": "EIA"}],
    "/owner/notices/levels": [{"category": "EIA"}],
    "/lang/{code:str}": [{"next": "/"}],
}


# -- asking --------------------------------------------------------------------------------------------


def is_api(path: str) -> bool:
    return path.startswith(("/api/", "/healthz", "/schema"))


async def ask(client: AsyncClient, app: Litestar, path: str, token: str | None) -> str:
    headers: dict[str, str] = {}
    if is_api(path):
        headers.update(bearer(token))
    else:
        headers["Accept"] = "text/html"
        if token:
            headers["Cookie"] = f"{SESSION_COOKIE}={token}"
    # Server-Sent Events never end: read each for a moment (the draw's, the console's badge and board).
    if path.split("?")[0].endswith(("/draw/events", "/board/events", "/supervision/live")):
        return await read_stream(app, path, headers)
    client.cookies.clear()
    response: Response = await client.get(path, headers=headers)
    client.cookies.clear()
    assert response.status_code < 500, (path, response.status_code, response.text[:300])
    return f"{response.status_code} {response.headers.get('location', '')}\n{response.text}"


async def read_stream(app: Litestar, path: str, headers: dict[str, str], seconds: float = 0.6) -> str:
    """A short read of a Server-Sent Events answer: what it sends within ``seconds``."""
    chunks: list[bytes] = []
    status: list[int] = []
    stop = asyncio.Event()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await stop.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    raw, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw,
        "raw_path": raw.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"testserver.local"),
            (b"accept", b"text/event-stream"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
    }
    task = asyncio.ensure_future(app(scope, receive, send))  # type: ignore[arg-type]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    return f"{status[0] if status else '-'}\n" + b"".join(chunks).decode("utf-8", "replace")


async def crawl(
    client: AsyncClient, app: Litestar, world: World, viewers: Iterable[str], routes: list[str]
) -> dict[tuple[str, str, str], str]:
    """(viewer, template, path) -> the answer, for every GET route outside the log."""
    out = {}
    for viewer in viewers:
        for template in routes:
            if LOG_ROUTES.match(template):
                continue
            for path in variants(template, world):
                out[(viewer, template, path)] = await ask(client, app, path, world.tokens[viewer])
    return out


# -- comparing -------------------------------------------------------------------------------------------

MASKS = [
    (re.compile(r'(name="_csrf_token" value=")[^"]*'), r"\1…"),
    (re.compile(r'(csrf[-_]?token"?\s*[:=]\s*["\'])[^"\']*', re.I), r"\1…"),
    (re.compile(r'(X-CSRFToken&#34;: &#34;|X-CSRFToken"\s*:\s*")[^"&]*'), r"\1…"),
    (re.compile(r'(nonce=")[^"]*'), r"\1…"),
    (re.compile(r'(data-left=")\d+'), r"\1…"),
    (re.compile(r'(data-part="\w+">)\d+'), r"\1…"),
    (re.compile(r"\d+ days, \d+ hours and \d+ minutes left \(as of [^)]*\)"), "… left"),
    (re.compile(r"\d+ 天 \d+ 小时 \d+ 分钟[^<]*"), "…"),
    (re.compile(r'("publishedDate"\s*:\s*")[^"]*'), r"\1…"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "‹time›"),
]


def normalise(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def difference(before: str, after: str) -> str:
    lines = difflib.unified_diff(
        normalise(before).splitlines(),
        normalise(after).splitlines(),
        "without bids",
        "with bids",
        n=1,
        lineterm="",
    )
    return "\n".join(list(lines)[:14])


def without_path(answer: str, path: str) -> str:
    """The answer without the path that was asked (as sent, or encoded in a ``next=``)."""
    for form in sorted(
        {path, path.split("?")[0], quote(path, safe=""), quote(path.split("?")[0], safe="")},
        key=len,
        reverse=True,
    ):
        answer = answer.replace(form, "‹path›")
    return answer


def money_forms(fen: int) -> list[str]:
    yuan, cents = divmod(fen, 100)
    return [str(fen), f"{yuan}.{cents:02d}", f"{yuan:,}.{cents:02d}"]


SECRET_FIELDS = ("nonce", "salt", "bid_document", "bid_sha256", "receipt")


def secrets_of(bid: dict[str, Any], price: int | None) -> list[str]:
    """What only the bidder may read: the bid id, the price, the nonce or salt, the
    document, its hash and the signed receipt. (Its leaf hash and commitment are in the
    public log, and its receipt's inclusion proof holds other entries' hashes: no test of
    theirs here; the comparison catches them where they would be news.)"""
    found = [bid["bid_id"], *(money_forms(price) if price else [])]
    found += [v for k in SECRET_FIELDS if isinstance(v := bid.get(k), str) and len(v) >= 8]
    return found


SCHEMAS = re.compile(r"(schema|extension)\.json$")  # they define the fields, empty or not
TENDERER_KEYS = {
    "numberOfTenderers",
    "tenderers",
    "bidsAccepted",
    "bidsWithdrawn",
    "bid_count",
    "bids_count",
    "number_of_bids",
    "bidders",
}
NULL_UNTIL_CLOSED = {"bids", "bids_accepted", "bids_withdrawn", "openings"}


def counts_in_json(value: Any, path: str = "$") -> list[str]:
    """Keys that would say who tendered or how many, anywhere in a JSON answer."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k in TENDERER_KEYS or (k in NULL_UNTIL_CLOSED and v not in (None, [])):
                found.append(f"{path}.{k}={json.dumps(v)[:80]}")
            found += counts_in_json(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += counts_in_json(v, f"{path}[{i}]")
    return found


def as_json(answer: str) -> Any:
    body = answer.split("\n", 1)[1]
    try:
        return json.loads(body)
    except ValueError:
        return None


# -- the fixture -----------------------------------------------------------------------------------------


@pytest.fixture
async def sealed_app(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Litestar, AsyncClient]]:
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    # Flags that a handful of bids can raise: 1 withdrawn of 3 is flagged once bidding ends.
    app = create_app(
        make_settings(database_url, tmp_path, flag_min_bids=2, flag_withdrawn_percent=10), database=db
    )
    async with serve_in_process(app) as c:
        yield app, c


VIEWERS = ("anonymous", "outsider", "owner", "admin", "supervisor")


async def test_before_the_deadline_no_answer_depends_on_the_bids(
    sealed_app: tuple[Litestar, AsyncClient], db: Database, connection: AsyncConnection
) -> None:
    app, client = sealed_app
    world = await build_world(client, db)
    routes = get_routes(app)
    everyone = (*VIEWERS, *BIDDERS)

    # With the bids, in a savepoint; then the same world without them.
    savepoint = await connection.begin_nested()
    await place_bids(client, world)
    # The red flags are computed in the background, never by a request: each world's now.
    await compute_flags(db, app.state.settings)
    with_bids = await crawl(client, app, world, everyone, routes)
    bid = world.bids
    # Error answers: another agency's attempt on a bid learns what it learns of no bid at all;
    # "already bid" is said to the bidder about its own bid only.
    nid = world.ids["notice"]
    theirs = await client.delete(
        f"/api/v1/notices/{nid}/bids/{bid['A']['bid_id']}", headers=bearer(world.tokens["outsider"])
    )
    nothing = await client.delete(
        f"/api/v1/notices/{nid}/bids/B-999999", headers=bearer(world.tokens["outsider"])
    )
    assert theirs.status_code == nothing.status_code == 404
    assert {**theirs.json(), "instance": None} == {**nothing.json(), "instance": None}
    again = await client.post(
        f"/api/v1/notices/{nid}/bids", json={"price_fen": 1_000}, headers=bearer(world.tokens["B"])
    )
    assert again.status_code == 409 and "already" in again.text
    for key in ("A", "C"):
        assert all(s not in again.text for s in secrets_of(bid[key], PRICES[key])), key
    await savepoint.rollback()
    await compute_flags(db, app.state.settings)
    without = await crawl(client, app, world, everyone, routes)
    assert with_bids.keys() == without.keys()

    own_paths = {key: [p for (v, t, p) in with_bids if v == key and t in OWN_ROUTES] for key in BIDDERS}
    problems: list[str] = []
    mine_of = {"A": ("A", "A2"), "B": ("B",), "C": ("C",)}
    for (viewer, template, path), answer in with_bids.items():
        before = without[(viewer, template, path)]
        own = viewer in BIDDERS and template in OWN_ROUTES
        hidden = [
            s
            for key, b in bid.items()
            if not (viewer in BIDDERS and key in mine_of[viewer])
            for s in secrets_of(b, PRICES.get(key))
        ]
        echoed = without_path(answer, path)  # a refusal may quote the path asked, bid id and all
        if shown := [s for s in hidden if s in echoed]:
            problems.append(f"{viewer} GET {path}: shows {shown[:4]}")
        if (
            not SCHEMAS.search(path)
            and (data := as_json(answer)) is not None
            and (said := counts_in_json(data))
        ):
            problems.append(f"{viewer} GET {path}: says who or how many tendered: {said[:3]}")
        if own:
            # Its own bid may show; nothing of another bidder may be added beside it.
            added = "\n".join(
                line
                for line in difflib.ndiff(before.splitlines(), answer.splitlines())
                if line.startswith("+ ")
            )
            others = [world.agencies[k] for k in BIDDERS if k != viewer] + [
                NAMES[k] for k in BIDDERS if k != viewer
            ]
            if named := [o for o in others if o in added]:
                problems.append(f"{viewer} GET {path}: its own page names other bidders {named}")
            continue
        if normalise(answer) != normalise(before):
            problems.append(
                f"{viewer} GET {path}: differs once bids are placed\n{difference(before, answer)}"
            )

    # Each bidder reads its own bid where it should, and only its own.
    for key in BIDDERS:
        mine = as_json(
            with_bids[(key, "/api/v1/notices/{notice_id:str}/bids/mine", f"/api/v1/notices/{nid}/bids/mine")]
        )
        assert [b["bid_id"] for b in mine] == [bid[key]["bid_id"]], (key, mine)
        page = with_bids[(key, "/notices/{notice_id:str}", f"/notices/{nid}")]
        assert bid[key]["bid_id"] in page, key
        assert own_paths[key]
    assert not problems, (
        f"{len(problems)} answers tell something of the bids before the deadline:\n" + "\n".join(problems)
    )


async def test_the_log_ties_no_bid_to_a_notice_or_an_agency(
    sealed_app: tuple[Litestar, AsyncClient], db: Database
) -> None:
    """The log's bid entries name no notice, agency, bid or price, in the API and on the
    pages (the entry pages, the notice filter, the type filter)."""
    app, client = sealed_app
    world = await build_world(client, db)
    await place_bids(client, world)
    size = await log_size(client)
    raw = (await client.get(f"/api/v1/log/entries?start=0&end={size}")).content
    entries = [json.loads(line) for line in raw.splitlines()]
    bid_entries = [e for e in entries if e["seq"] in world.bid_seqs]
    assert len(bid_entries) == 5, [e["type"] for e in bid_entries]
    notices = [world.ids["notice"], world.ids["other_notice"]]
    bidders = [world.agencies[k] for k in BIDDERS]
    tying = [*notices, *bidders, *(b["bid_id"] for b in world.bids.values())]
    priced = [m for p in PRICES.values() for m in money_forms(p)]
    problems: list[str] = []
    for e in bid_entries:
        text = json.dumps(e, ensure_ascii=False)
        if named := [t for t in tying if t in text] + [
            k for k in ("notice_id", "agency_id", "bid_id", "price_fen") if k in e
        ]:
            problems.append(f"entries: {e['type']} #{e['seq']} names {named}")
    pages = [f"/log/entries/{seq}" for seq in world.bid_seqs]
    pages += [f"/log?notice_id={n}" for n in notices] + [
        "/log",
        "/log?type=bid.accepted",
        "/log?type=bid.withdrawn",
        "/log?type=bid.sealed",
    ]
    pages += [f"/api/v1/log/entries?start={min(world.bid_seqs)}&end={size}"]
    for path in pages:
        text = (await client.get(path, headers={"Accept": "text/html"})).text
        if shown := [t for t in tying[len(notices) + len(bidders) :] if t in text] + [
            p for p in priced if p in text
        ]:
            problems.append(f"GET {path}: shows {shown[:4]}")
        if path.startswith("/log/entries/") and (named := [t for t in tying if t in text]):
            problems.append(f"GET {path}: a bid's entry page names {named}")
        if path.startswith("/log?notice_id=") and re.search(
            r"<code>bid\.(accepted|withdrawn|sealed)</code>", text
        ):
            problems.append(f"GET {path}: lists bid entries under the notice")
    # The console finds a log entry by its seq: a bid's names nothing either.
    for seq in world.bid_seqs:
        for viewer in ("admin", "supervisor"):
            text = (
                await client.get(
                    f"/supervision?q={seq}",
                    headers={"Accept": "text/html", "Cookie": f"{SESSION_COOKIE}={world.tokens[viewer]}"},
                )
            ).text
            if named := [t for t in tying if t in text.replace(f"“{seq}”", "")]:
                problems.append(f"{viewer} GET /supervision?q={seq}: a bid's entry names {named}")
    msp1 = any(e["type"] == "bid.accepted" for e in bid_entries)
    if problems and msp1:
        pytest.xfail(
            "the bid path still writes MSP/1 bid.accepted entries (issue 18, item 2):\n" + "\n".join(problems)
        )
    assert not problems, "\n".join(problems)
