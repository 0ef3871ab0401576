"""The Atom feed of notices (issue 22): valid Atom 1.0 (RFC 4287) with ids and links at the
configured public URL, only published notices, the list's category, region and hall
filters, a cheap 304 for an unchanged feed, and the alternate links from the notice list
and the hall pages."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import sqlalchemy as sa
from httpx import AsyncClient

from market.app import create_app
from market.core.db import Database
from market.notices.models import PUBLIC_LIST_INDEXES
from market.notify import queries
from tests.conftest import make_settings, serve_in_process
from tests.integration.notices.test_api import draft, owner_user, published

A = "{http://www.w3.org/2005/Atom}"
PUBLIC_URL = "https://zjcs.example.gov.cn"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def parse(body: bytes) -> ET.Element:
    feed = ET.fromstring(body)
    assert feed.tag == f"{A}feed"
    # RFC 4287 4.1.1: exactly one id, title and updated; an author (no entry here has to have one).
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"{A}{name}")) == 1, name
    assert feed.find(f"{A}author/{A}name") is not None
    assert RFC3339.fullmatch(feed.findtext(f"{A}updated") or "")
    self_links = [link for link in feed.findall(f"{A}link") if link.get("rel") == "self"]
    assert len(self_links) == 1 and self_links[0].get("href", "").startswith(
        PUBLIC_URL + "/feeds/notices.atom"
    )
    for entry in feed.findall(f"{A}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{name}")) == 1, name
        assert RFC3339.fullmatch(entry.findtext(f"{A}updated") or "")
        assert RFC3339.fullmatch(entry.findtext(f"{A}published") or "")
        alternate = [link for link in entry.findall(f"{A}link") if link.get("rel") == "alternate"]
        assert len(alternate) == 1 and alternate[0].get("href") == entry.findtext(f"{A}id")
    ids = [e.findtext(f"{A}id") for e in feed.findall(f"{A}entry")]
    assert len(ids) == len(set(ids))
    return feed


def entry_ids(feed: ET.Element) -> list[str]:
    return [(e.findtext(f"{A}id") or "").rsplit("/", 1)[1] for e in feed.findall(f"{A}entry")]


async def feed_of(client: AsyncClient, **query: str) -> ET.Element:
    response = await client.get("/feeds/notices.atom", params=query)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    return parse(response.content)


async def test_the_feed_lists_published_notices_with_public_links_and_filters(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    settings = make_settings(
        database_url, tmp_path, public_url=PUBLIC_URL, allowed_hosts=("testserver.local",)
    )
    async with serve_in_process(create_app(settings, database=db)) as client:
        owner = await owner_user(client)  # its organisation is in 五华区 (530102): its notices' hall
        eia = await published(client, owner, title="环评公告 <一>", category="EIA", region="530102")
        survey = await published(client, owner, title="测绘公告", category="SURVEYING", region="530300")
        hidden = await draft(client, owner, title="草稿不公开", category="EIA", region="530102")
        other_owner = await owner_user(client, org="530302")  # 曲靖市麒麟区: another hall
        qujing = await published(client, other_owner, title="麒麟区公告", category="EIA", region="530302")

        every = await feed_of(client)
        assert set(entry_ids(every)) == {eia["id"], survey["id"], qujing["id"]}
        assert hidden["id"] not in entry_ids(every)
        assert every.findtext(f"{A}id") == f"{PUBLIC_URL}/feeds/notices.atom"
        first = next(e for e in every.findall(f"{A}entry") if e.findtext(f"{A}title") == "环评公告 <一>")
        assert first.findtext(f"{A}id") == f"{PUBLIC_URL}/notices/{eia['id']}"
        assert first.find(f"{A}category") is not None and first.find(f"{A}category").get("term") == "EIA"  # type: ignore[union-attr]
        assert (
            "testserver" not in (await client.get("/feeds/notices.atom")).text
        )  # never from the Host header

        assert set(entry_ids(await feed_of(client, category="EIA"))) == {eia["id"], qujing["id"]}
        assert set(entry_ids(await feed_of(client, region="530100"))) == {eia["id"]}  # 昆明市 holds 五华区
        assert set(entry_ids(await feed_of(client, region="530300"))) == {survey["id"], qujing["id"]}
        by_hall = await feed_of(client, hall="530302")
        assert entry_ids(by_hall) == [qujing["id"]]
        assert by_hall.findtext(f"{A}id") == f"{PUBLIC_URL}/feeds/notices.atom?hall=530302"
        assert set(entry_ids(await feed_of(client, hall="530000"))) == {eia["id"], survey["id"], qujing["id"]}
        assert set(entry_ids(await feed_of(client, hall="530100"))) == {eia["id"], survey["id"]}
        assert entry_ids(await feed_of(client, category="EIA", region="530300", hall="530302")) == [
            qujing["id"]
        ]
        empty = await feed_of(client, category="GEOHAZARD")
        assert entry_ids(empty) == []

        for query, field in (
            ({"category": "NOPE"}, "category"),
            ({"region": "12"}, "region"),
            ({"hall": "999999"}, "hall"),
            ({"hall": "530199"}, "hall"),  # the shape of a county, but no hall of this deployment
        ):
            # A feed reader (Accept: */* or a browser's text/html) gets problem details, not a page.
            for accept in ("*/*", "text/html,application/xhtml+xml,*/*;q=0.8"):
                refused = await client.get("/feeds/notices.atom", params=query, headers={"Accept": accept})
                assert refused.status_code == 422, (field, refused.text)
                assert refused.headers["content-type"].startswith("application/problem+json"), field
                assert refused.json()["errors"][0]["field"] == field


async def test_the_feed_version_reads_only_the_entries_the_feed_shows(
    client: AsyncClient, db: Database
) -> None:
    """Every poll reads the version of the newest ENTRIES published notices of its filter, and
    from ix_notice_feed_published alone (an index-only scan under a LIMIT): what it costs does
    not grow with the notices published before them."""
    owner = await owner_user(client)
    for category in ("EIA", "SURVEYING"):
        await published(client, owner, category=category)
    async with db.transaction() as session:
        await session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        await session.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
        # The public list's and the halls' indexes lead with category, status or hall too: on
        # these two rows the planner may as well take one of them and sort, which says nothing
        # of the feed. Set aside here; the test's transaction is rolled back.
        halls_indexes = ["ix_notice_status_hall_id", "ix_notice_hall_id"]
        for name in [*(f"ix_notice_public_{n}" for n in PUBLIC_LIST_INDEXES), *halls_indexes]:
            await session.execute(sa.text(f"DROP INDEX {name}"))
        for category, region, halls in ((None, None, None), ("EIA", None, None), ("EIA", "5301", ["530102"])):
            where, params = queries._feed_where(category, region, halls)
            plan = "\n".join(
                str(r[0])
                for r in await session.execute(
                    sa.text(
                        "EXPLAIN SELECT n.id, n.published_at, n.updated_at FROM notice n"
                        f" WHERE {where} ORDER BY n.published_at DESC, n.id DESC LIMIT 50"
                    ),
                    params,
                )
            )
            assert "Index Only Scan Backward using ix_notice_feed_published" in plan, plan
            assert "Sort" not in plan, plan


async def test_the_feed_version_changes_with_its_entries_and_only_with_them(
    client: AsyncClient, db: Database
) -> None:
    """The version names the window the feed shows: an entry's change moves it, a notice
    of another filter or one pushed out of the window does not."""
    owner = await owner_user(client)
    first = await published(client, owner, category="EIA")
    await published(client, owner, category="EIA")

    async def version(limit: int, category: str = "EIA") -> tuple[object, str]:
        async with db.transaction() as session:
            return await queries.feed_version(
                session, category=category, region_prefix=None, halls=None, limit=limit
            )

    whole, newest = await version(2), await version(1)
    assert whole != newest
    # The oldest entry changes: the feed of two shows it, the feed of one does not.
    async with db.transaction() as session:
        await session.execute(
            sa.text("UPDATE notice SET updated_at = updated_at + interval '1 second' WHERE public_id = :id"),
            {"id": first["id"]},
        )
    assert await version(2) != whole
    assert await version(1) == newest
    # Another category's notice leaves this feed as it was.
    await published(client, owner, category="SURVEYING")
    assert await version(1) == newest


async def test_an_unchanged_feed_answers_304_and_a_new_notice_changes_it(client: AsyncClient) -> None:
    owner = await owner_user(client)
    await published(client, owner, category="EIA")
    first = await client.get("/feeds/notices.atom", params={"category": "EIA"})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag and datetime.strptime(modified, "%a, %d %b %Y %H:%M:%S GMT")
    again = await client.get(
        "/feeds/notices.atom", params={"category": "EIA"}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    since = await client.get(
        "/feeds/notices.atom", params={"category": "EIA"}, headers={"If-Modified-Since": modified}
    )
    assert since.status_code == 304
    # Another filter is another feed.
    other = await client.get(
        "/feeds/notices.atom", params={"category": "SURVEYING"}, headers={"If-None-Match": etag}
    )
    assert other.status_code == 200

    await published(client, owner, category="EIA", title="又一条公告")
    changed = await client.get(
        "/feeds/notices.atom", params={"category": "EIA"}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "又一条公告" in changed.text


async def test_the_notice_list_and_the_hall_pages_link_their_feed(client: AsyncClient) -> None:
    alternate = re.compile(
        r'<link rel="alternate" type="application/atom\+xml" title="[^"]*" href="([^"]+)">'
    )
    page = (await client.get("/notices")).text
    assert alternate.findall(page) == ["/feeds/notices.atom"]
    page = (await client.get("/notices", params={"category": "EIA", "region": "530100", "q": "x"})).text
    assert alternate.findall(page) == ["/feeds/notices.atom?category=EIA&amp;region=530100"]
    page = (await client.get("/notices", params={"category": "NOPE"})).text  # refused filters are left out
    assert alternate.findall(page) == ["/feeds/notices.atom"]
    page = (await client.get("/halls/530100")).text
    assert alternate.findall(page) == ["/feeds/notices.atom?hall=530100"]
    assert (await client.get("/feeds/notices.atom?hall=530100")).status_code == 200
