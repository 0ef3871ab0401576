"""Open data a re-user can trust, through the HTTP surface (issue 22): the same bytes
whatever the Host, every release kept forever with amendments linked, record packages,
the bulk download, the licence on /data, and no publishing without a registered prefix."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from httpx import AsyncClient
from litestar import Litestar

from market.app import create_app
from market.core.db import Database
from tests.conftest import make_settings, serve_in_process
from tests.integration.agencies.test_api import admin
from tests.integration.contracts.test_api import awarded, headers_of, record
from tests.unit.ocds.schemas import package_errors, record_package_errors

LICENCE = "https://creativecommons.org/licenses/by/4.0/"


@pytest.fixture
async def quick(
    db: Database, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Litestar, AsyncClient]]:
    app = create_app(make_settings(database_url, tmp_path, publicity_days=0), database=db)
    async with serve_in_process(app) as c:
        yield app, c


async def test_the_same_release_is_the_same_bytes_under_any_host(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, _ = await awarded(app, c, db, staff)
    answers = []
    for host in ("localhost", "127.0.0.1"):
        for path in ("/api/v1/ocds/releases", "/api/v1/ocds/records", "/ocds/extension.json"):
            response = await c.get(
                path, params={"limit": 100} if "api" in path else None, headers={"Host": host}
            )
            assert response.status_code == 200, response.text
            answers.append((path, response.content))
        await asyncio.sleep(1.1)  # a package dated by the request would now differ
    first, second = answers[:3], answers[3:]
    assert first == second
    body = first[0][1].decode("utf-8")
    assert "localhost" not in body and "127.0.0.1" not in body and "http://testserver.local/" in body
    assert (
        json.loads(first[2][1])["documentationUrl"]["en"]
        == "http://testserver.local/data#selection-extension"
    )


async def test_every_release_is_kept_and_amendments_name_what_they_amend(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner = rec["winners"][0]
    before = (await c.get("/api/v1/ocds/releases", params={"limit": 100})).json()
    held = {x["id"]: x for x in before["releases"] if x["ocid"].endswith(r.notice_id)}
    awards = sorted((i for i in held if "-award-" in i), key=lambda i: int(i.rsplit("-", 1)[1]))
    assert len(awards) == 2  # the draw's and the final award's: both kept
    first_award = awards[-1]

    declined = await c.post(
        f"/api/v1/notices/{r.notice_id}/decline",
        json={"reason": "无法签订合同"},
        headers=headers_of(r, winner),
    )
    assert declined.status_code == 200, declined.text

    after = (await c.get("/api/v1/ocds/releases", params={"limit": 100})).json()
    assert package_errors(after) == []
    now = {x["id"]: x for x in after["releases"] if x["ocid"].endswith(r.notice_id)}
    for release_id, release in held.items():  # nothing a harvester held was replaced
        assert now[release_id] == release
    new_awards = [i for i in now if "-award-" in i and i not in awards]
    assert len(new_awards) == 1
    update = now[new_awards[0]]
    assert update["tag"] == ["awardUpdate"]
    (ended,) = [a for a in update["awards"] if a["status"] == "cancelled"]
    final, change = ended["amendments"]  # made final, then declined
    assert final["releaseID"] == first_award and final["amendsReleaseID"] == awards[0]
    assert change["amendsReleaseID"] == first_award and change["releaseID"] == update["id"]
    assert next(a["title"] for a in update["awards"] if a["status"] != "cancelled").count("第 1 名") == 1


async def test_record_packages_hold_every_release_and_the_compiled_one(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    contract = await record(c, r, rec["winners"][0])
    confirmed = await c.post(
        f"/api/v1/contracts/{contract['id']}/confirm", headers=headers_of(r, rec["winners"][0])
    )
    assert confirmed.status_code == 200
    releases = (await c.get("/api/v1/ocds/releases", params={"limit": 100})).json()["releases"]
    ocid = next(x["ocid"] for x in releases if x["ocid"].endswith(r.notice_id))

    pkg = (await c.get("/api/v1/ocds/records", params={"ocid": ocid})).json()
    assert record_package_errors(pkg) == []
    assert pkg["license"] == LICENCE and pkg["publicationPolicy"] == "http://testserver.local/data#licence"
    (one,) = pkg["records"]
    assert one["ocid"] == ocid and [x["id"] for x in one["releases"]] == [
        x["id"] for x in releases if x["ocid"] == ocid
    ]
    compiled = one["compiledRelease"]
    assert compiled["tag"] == ["compiled"] and compiled["tender"]["status"] == "complete"
    assert compiled["contracts"][0]["id"] == contract["id"] and compiled["contracts"][0]["status"] == "active"
    assert compiled["awards"][0]["value"] == {
        "amount": 120000,
        "currency": "CNY",
    }  # the lottery's contract value
    # dateSigned: the confirmation's instant, not before the award it follows (the signing
    # day's local midnight was); UTC instants compare as strings
    dates = [
        compiled["tender"]["tenderPeriod"]["startDate"],
        compiled["awards"][0]["date"],
        compiled["contracts"][0]["dateSigned"],
    ]
    assert all(d.endswith("Z") for d in dates) and dates == sorted(dates)

    documented = app.openapi_schema.to_schema()["paths"]["/api/v1/ocds/records"]["get"]
    assert {p["name"] for p in documented["parameters"]} >= {"ocid", "hall", "since", "cursor", "limit"}
    assert documented["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "object"

    paged = (await c.get("/api/v1/ocds/records", params={"limit": 1})).json()
    assert len(paged["records"]) == 1 and paged["uri"].startswith(
        "http://testserver.local/api/v1/ocds/records?"
    )
    assert (await c.get("/api/v1/ocds/records", params={"ocid": "ocds-other0-N-000001"})).status_code == 422
    assert (await c.get("/api/v1/ocds/records", params={"ocid": f"{ocid[:-6]}999999"})).json()[
        "records"
    ] == []


async def test_the_bulk_download_is_one_licensed_package_streamed(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, _ = await awarded(app, c, db, staff)
    response = await c.get("/data/ocds/releases.json.gz")
    assert response.status_code == 200 and response.headers["content-type"] == "application/gzip"
    assert "content-length" not in response.headers  # streamed, not built whole
    assert response.headers["link"] == f'<{LICENCE}>; rel="license"'
    pkg = json.loads(gzip.decompress(response.content))
    assert package_errors(pkg) == [] and pkg["license"] == LICENCE
    api = (await c.get("/api/v1/ocds/releases", params={"limit": 100})).json()
    assert [x["id"] for x in pkg["releases"]] == [x["id"] for x in api["releases"]]
    assert any(x["ocid"].endswith(r.notice_id) for x in pkg["releases"])


async def test_the_data_page_states_the_licence(client: AsyncClient) -> None:
    for lang, words in (("zh-CN", "许可"), ("en", "Creative Commons Attribution 4.0")):
        page = (await client.get("/data", headers={"Accept-Language": lang})).text
        assert 'id="licence"' in page and f'href="{LICENCE}" rel="license"' in page
        assert "/data/ocds/releases.json.gz" in page and "/api/v1/ocds/records" in page
        assert words in page or lang == "zh-CN"  # the Chinese text arrives with the lead's merge
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    assert "## Open data licence" in readme and "CC BY 4.0" in readme


async def test_without_a_registered_prefix_nothing_is_published(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(database_url, tmp_path, ocds_prefix=""), database=db)
    async with serve_in_process(app) as c:
        for path in ("/api/v1/ocds/releases", "/api/v1/ocds/records", "/data/ocds/releases.json.gz"):
            response = await c.get(path)
            assert response.status_code == 503, (path, response.text)
            assert "MARKET_OCID_PREFIX" in response.text, (path, response.text[:300])


async def test_a_database_writer_cannot_change_or_remove_a_kept_release(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    """The promise "kept forever" read as the operator who would rewrite history reads it:
    an UPDATE or DELETE on ocds_release is refused by the database itself (migration 0011's
    trigger), whatever code issued it."""
    app, c = quick
    r, _ = await awarded(app, c, db, await admin(c, db))
    async with db.transaction() as session:
        kept = (
            await session.execute(
                sa.text(
                    "SELECT count(*) FROM ocds_release WHERE notice_id = (SELECT id FROM notice WHERE public_id = :n)"
                ),
                {"n": r.notice_id},
            )
        ).scalar_one()
        assert kept > 0
        for statement in (
            "UPDATE ocds_release SET body = '{}' WHERE notice_id = (SELECT id FROM notice WHERE public_id = :n)",
            "DELETE FROM ocds_release WHERE notice_id = (SELECT id FROM notice WHERE public_id = :n)",
        ):
            savepoint = await session.begin_nested()
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                await session.execute(sa.text(statement), {"n": r.notice_id})
            await savepoint.rollback()
        again = (
            await session.execute(
                sa.text(
                    "SELECT count(*) FROM ocds_release WHERE notice_id = (SELECT id FROM notice WHERE public_id = :n)"
                ),
                {"n": r.notice_id},
            )
        ).scalar_one()
        assert again == kept
