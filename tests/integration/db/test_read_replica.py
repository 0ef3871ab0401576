"""Public reads from DATABASE_READ_URL (market/core/replica.py), on one server: the read URL
names a second database, a copy of the primary's, in which one notice's title was changed
afterwards. That title says which database answered. The real streaming standby (paused
replay, lag, a stopped standby) is tests/integration/cluster/test_read_standby.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from litestar import Litestar
from sqlalchemy.engine import make_url

from market.accounts.models import Role
from market.app import create_app
from market.core import replica
from market.core.db import to_asyncpg_dsn
from market.security.tokens import issue_token
from tests.conftest import _drop, _recreate, make_settings, serve_in_process, url_for
from tests.helpers import bearer, register_org
from tests.integration.agencies.test_api import agency_body
from tests.integration.notices.test_api import published
from tests.integration.reliability.helpers import make_users

pytestmark = pytest.mark.committing

ON_STANDBY = "标题：来自只读副本"


@dataclass
class Pair:
    primary_url: str
    read_url: str
    tmp: Path
    owner: dict[str, str]
    notice_id: str  # on both; its title differs on the read copy
    title: str  # its title on the primary


def app_for(pair: Pair, **overrides: Any) -> Litestar:
    values = {"database_read_url": pair.read_url, "scheduler_interval": 0, **overrides}
    settings = make_settings(pair.primary_url, pair.tmp, **values)
    return create_app(settings)


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (engines, the standby and its watcher), in this loop."""
    async with app.lifespan(), serve_in_process(app) as client:
        yield client


def owner_headers(app: Litestar, public_id: str) -> dict[str, str]:
    secret = app.state.settings.secret_key
    return bearer(issue_token(secret=secret, subject=public_id, role=Role.owner.value, ttl=3600))


@pytest.fixture
async def pair(server_url: str, committed_database_url: str, tmp_path: Path) -> AsyncIterator[Pair]:
    """A published notice on the primary, then the read copy made from it."""
    (owner_id,) = await make_users(committed_database_url, [Role.owner])
    setup = create_app(make_settings(committed_database_url, tmp_path, scheduler_interval=0))
    owner = owner_headers(setup, owner_id)
    async with running(setup) as client:
        await register_org(client, owner)
        notice = await published(client, owner)
    read_name = f"{make_url(committed_database_url).database}_read"
    await _recreate(server_url, read_name, template=make_url(committed_database_url).database)
    read_url = url_for(server_url, read_name)
    conn = await asyncpg.connect(to_asyncpg_dsn(read_url))
    try:
        await conn.execute("UPDATE notice SET title = $1 WHERE public_id = $2", ON_STANDBY, notice["id"])
    finally:
        await conn.close()
    yield Pair(committed_database_url, read_url, tmp_path, owner, notice["id"], notice["title"])
    await _drop(server_url, read_name)


async def test_anonymous_reads_come_from_the_standby_and_a_logged_in_owner_reads_the_primary(
    pair: Pair,
) -> None:
    async with running(app_for(pair)) as client:
        page = f"/api/v1/notices/{pair.notice_id}"
        assert (await client.get(page)).json()["title"] == ON_STANDBY
        listed = (await client.get("/api/v1/notices")).json()
        assert [n["title"] for n in listed["items"] if n["id"] == pair.notice_id] == [ON_STANDBY]
        assert ON_STANDBY in (await client.get(f"/notices/{pair.notice_id}")).text
        assert ON_STANDBY in (await client.get("/notices")).text
        # read-your-writes: the owner's own reads, on the same public routes, are the primary's
        assert (await client.get(page, headers=pair.owner)).json()["title"] == pair.title
        mine = (await client.get("/api/v1/notices", headers=pair.owner)).json()
        assert [n["title"] for n in mine["items"] if n["id"] == pair.notice_id] == [pair.title]
        # a stale or forged cookie is nobody: public, from the standby
        forged = await client.get(page, headers={"Cookie": "market_session=not-a-token"})
        assert forged.json()["title"] == ON_STANDBY
        # an invalid bearer token is refused, or answered from the primary, never the copy
        assert ON_STANDBY not in (await client.get(page, headers=bearer("nope"))).text
        # a route not listed (the draw page: its events follow the log) reads the primary
        draw = await client.get(f"/notices/{pair.notice_id}/draw")
        assert draw.status_code == 200 and ON_STANDBY not in draw.text and pair.title in draw.text


async def test_a_notice_the_standby_lacks_is_asked_of_the_primary_not_reported_missing(pair: Pair) -> None:
    app = app_for(pair)
    async with running(app) as client:
        fresh = await published(client, pair.owner, title="刚刚发布的公告")
        # The copy has not got it: a visitor following its link gets it from the primary.
        for path in (f"/api/v1/notices/{fresh['id']}", f"/notices/{fresh['id']}"):
            response = await client.get(path)
            assert response.status_code == 200 and "刚刚发布的公告" in response.text
        # A notice nowhere is still a 404, after both were asked.
        assert (await client.get("/api/v1/notices/N-NOWHERE-0")).status_code == 404
        # The list is the copy's: late by what the standby lacks, never wrong about a row.
        ids = [n["id"] for n in (await client.get("/api/v1/notices")).json()["items"]]
        assert pair.notice_id in ids and fresh["id"] not in ids


class Spy:
    """Counts what asked the standby's database for a connection."""

    def __init__(self, standby: replica.Standby) -> None:
        self.uses: list[str] = []
        database = standby.database
        for name in ("transaction", "reading", "single_statement"):
            real = getattr(database, name)
            setattr(database, name, self._counting(name, real))

    def _counting(self, name: str, real: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.uses.append(name)
            return real(*args, **kwargs)

        return counted


async def test_public_reads_that_write_never_reach_the_standby(pair: Pair) -> None:
    """The OCDS endpoints store a release the first time they serve it, so they must read
    the primary; were they sent to the standby, its read-only transaction would refuse the
    insert (shown below) and the harvester would get a 500."""
    app = app_for(pair)
    async with running(app) as client:
        standby: replica.Standby = app.state.standby
        spy = Spy(standby)
        for path in (
            "/api/v1/ocds/releases",
            "/api/v1/ocds/records",
            f"/api/v1/ocds/records?ocid=ocds-test-{pair.notice_id}",
            "/data/ocds/releases.json.gz",
            "/data",
            "/api/v1/log/checkpoint",
            f"/notices/{pair.notice_id}/draw",
            "/log",
            "/healthz?verbose",
        ):
            response = await client.get(path)
            assert response.status_code < 500, (path, response.status_code)
        assert spy.uses == []
        assert (await client.get("/api/v1/notices")).status_code == 200
        assert spy.uses == ["reading"]  # the spy sees the standby when it is used
        # The standby's connections refuse writes, the ORM's and the readers' alike.
        with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            async with standby.database.transaction() as session:
                await session.execute(sa.text("CREATE TABLE written_on_the_standby (x int)"))
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            async with standby.database.reading() as reader:
                await reader.execute("CREATE TABLE written_on_the_standby (x int)")


def test_every_listed_route_is_a_public_get_route_and_none_writes_on_read() -> None:
    """STANDBY_ROUTES names routes that exist (a renamed route would silently fall back to
    the primary, so the list must follow), none guarded, and none of those known to write
    or to need the primary (OCDS releases kept on first serving, the draw and its stream,
    the log's checkpoints and proofs, health)."""
    app = create_app(
        make_settings("postgresql+asyncpg://u@127.0.0.1:1/x", Path("/tmp/market-replica-routes"))
    )
    public_gets = {
        route.path_format  # as Litestar's scope names it: "/notices/{notice_id}"
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if "GET" in (getattr(handler, "http_methods", None) or ()) and not handler.guards
    }
    assert replica.STANDBY_ROUTES <= public_gets, replica.STANDBY_ROUTES - public_gets
    for path in replica.STANDBY_ROUTES:
        assert not path.startswith(("/api/v1/ocds", "/ocds", "/data", "/healthz", "/schema"))
        assert "draw" not in path and "events" not in path
        assert path not in ("/log", "/api/v1/log/checkpoint", "/api/v1/log/proof/consistency")


async def test_a_standby_that_cannot_be_reached_leaves_public_reads_on_the_primary(pair: Pair) -> None:
    refused = "postgresql+asyncpg://market:secret@127.0.0.1:1/market"  # nothing listens on port 1
    missing = url_for(pair.primary_url, "market_no_such_database")  # a wrong read URL
    for read_url in (refused, missing):
        await standby_left_alone(app_for(pair, database_read_url=read_url), pair)


async def standby_left_alone(app: Litestar, pair: Pair) -> None:
    async with running(app) as client:
        response = await client.get(f"/api/v1/notices/{pair.notice_id}")
        assert response.status_code == 200 and response.json()["title"] == pair.title
        assert (await client.get("/notices")).status_code == 200
        health = (await client.get("/healthz?verbose")).json()
        assert health["status"] == "ok"
        assert health["database"] == {"role": "primary"}
        standby = health["read_standby"]
        assert standby["read_url"] is True and standby["reads_from"] == "primary"
        assert standby["role"] == "unreachable" and standby["lag_seconds"] is None
        assert "market_no_such_database" not in str(health) and "secret" not in str(health)
        # Plain /healthz is unchanged (api-v1).
        assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_healthz_verbose_reports_a_copy_on_the_primary_server_as_readable(pair: Pair) -> None:
    app = app_for(pair)
    async with running(app) as client:
        health = (await client.get("/healthz", params={"verbose": "1"})).json()
        assert health["read_standby"]["reads_from"] == "standby"
        assert health["read_standby"]["role"] == "primary"  # the read URL names the primary's server
        assert health["read_standby"]["lag_seconds"] == 0.0
        # without a read URL
    async with running(create_app(make_settings(pair.primary_url, pair.tmp, scheduler_interval=0))) as client:
        health = (await client.get("/healthz?verbose")).json()
        assert health["read_standby"] == {"read_url": False, "reads_from": "primary"}


async def test_a_standby_failing_a_request_is_never_the_visitors_problem(pair: Pair) -> None:
    """A query the standby refuses or cancels (a recovery conflict; here any error) is asked
    again of the primary; the visitor gets the primary's answer, not a 500."""
    app = app_for(pair)
    async with running(app) as client:
        standby: replica.Standby = app.state.standby
        assert (await client.get(f"/api/v1/notices/{pair.notice_id}")).json()["title"] == ON_STANDBY

        def failing(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("canceling statement due to conflict with recovery")

        standby.database.reading = failing  # type: ignore[method-assign]
        standby.database.transaction = failing  # type: ignore[method-assign]
        for path in (f"/api/v1/notices/{pair.notice_id}", "/api/v1/notices", f"/notices/{pair.notice_id}"):
            response = await client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert pair.title in response.text and ON_STANDBY not in response.text


async def test_every_listed_route_answers_from_a_read_only_standby(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each route of STANDBY_ROUTES, with real ids, served by the read-only copy with the
    second chance on the primary turned off: a route that wrote on read would answer 500
    here (and be asked again of the primary in production, which would hide it)."""
    monkeypatch.setattr(replica, "ask_primary_again", lambda status: False)
    admin_id, agency_user = await make_users(pair.primary_url, [Role.admin, Role.agency])
    app = app_for(pair)
    secret = app.state.settings.secret_key

    def headers(public_id: str, role: Role) -> dict[str, str]:
        return bearer(issue_token(secret=secret, subject=public_id, role=role.value, ttl=3600))

    async with running(app) as client:
        body = agency_body(name="云南只读副本测试环境科技有限公司")
        agency = (
            await client.post("/api/v1/agencies", json=body, headers=headers(agency_user, Role.agency))
        ).json()
        review = await client.post(
            f"/api/v1/agencies/{agency['id']}/review",
            json={"decision": "approve"},
            headers=headers(admin_id, Role.admin),
        )
        assert review.status_code == 200, review.text
    # The copy again, now with the agency (the app is stopped: nothing holds the primary).
    read_name = make_url(pair.read_url).database
    await _recreate(pair.read_url, str(read_name), template=make_url(pair.primary_url).database)
    app = app_for(pair)
    async with running(app) as client:
        hall = (await client.get("/api/v1/halls")).json()
        code = hall["code"] if "code" in hall else hall[0]["code"]
        values = {
            "notice_id": pair.notice_id,
            "agency_id": agency["id"],
            "code": code,
            "filename": "summary.csv",
            "contract_id": "C-000001",
            "seq": "1",
        }
        spy = Spy(app.state.standby)
        for template in sorted(replica.STANDBY_ROUTES):
            path = template.format(**values) + ("?start=0&end=1" if template == "/api/v1/log/entries" else "")
            response = await client.get(path)
            assert response.status_code in (200, 404), (path, response.status_code, response.text[:300])
            if template == "/contracts/{contract_id}" or template == "/api/v1/contracts/{contract_id}":
                continue  # no contract here: a 404 is the answer
            assert response.status_code == 200, (path, response.status_code)
        assert len(spy.uses) >= len(replica.STANDBY_ROUTES) - 1  # the home page may be cached
