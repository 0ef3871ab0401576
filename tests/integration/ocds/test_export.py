"""OCDS releases, the export command and the CSV downloads after real rounds: every package
validates against the OCDS 1.1.5 release package schema and carries the draw."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.app import create_app
from market.core.db import Database
from tests.conftest import make_settings, serve_in_process
from tests.integration.agencies.test_api import admin
from tests.integration.cli.test_cli import market
from tests.integration.contracts.test_api import awarded, headers_of, record
from tests.integration.notices.test_api import owner_user, published
from tests.integration.ocds.libcove import review
from tests.integration.selection.helpers import close, open_round, selection_of
from tests.unit.ocds.schemas import package_errors

EMPTY = ["releases: [] should be non-empty"]  # the only rule an empty page breaks (OCDS asks for one release)


@pytest.fixture
async def quick(
    db: Database, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Litestar, AsyncClient]]:
    app = create_app(make_settings(database_url, tmp_path, publicity_days=0), database=db)
    async with serve_in_process(app) as c:
        yield app, c


async def package(c: AsyncClient, **params: Any) -> dict[str, Any]:
    response = await c.get("/api/v1/ocds/releases", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def of(pkg: dict[str, Any], notice_id: str) -> list[dict[str, Any]]:
    return [r for r in pkg["releases"] if r["ocid"].endswith(notice_id)]


def latest(pkg: dict[str, Any], notice_id: str) -> list[dict[str, Any]]:
    """Each stage's newest release (every earlier one is kept and served too)."""
    stages: dict[str, dict[str, Any]] = {}
    for r in of(pkg, notice_id):
        stage = r["id"][len(r["ocid"]) + 1 :].rsplit("-", 1)[0]
        if stage not in stages or int(r["id"].rsplit("-", 1)[1]) > int(stages[stage]["id"].rsplit("-", 1)[1]):
            stages[stage] = r
    return list(stages.values())


async def test_releases_after_a_draw_and_a_contract_validate_and_carry_the_draw(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner = rec["winners"][0]
    contract = await record(c, r, winner)
    assert (
        await c.post(f"/api/v1/contracts/{contract['id']}/confirm", headers=headers_of(r, winner))
    ).status_code == 200

    pkg = await package(c, limit=100)
    assert package_errors(pkg) == []
    assert (
        pkg["version"] == "1.1"
        and pkg["extensions"] == ["http://testserver.local/ocds/extension.json"]
        and pkg["license"] == "https://creativecommons.org/licenses/by/4.0/"
    )
    tender, award, signed = latest(pkg, r.notice_id)
    assert tender["ocid"] == f"ocds-mkt000-{r.notice_id}"
    assert tender["tender"]["status"] == "complete" and tender["tender"]["numberOfTenderers"] == 3
    sel = award["selection"]
    for key in ("secret", "eligible", "seed", "order", "ranking", "winners", "alternates", "candidates"):
        assert sel[key] == rec[key], key
    assert sel["commit"] == rec["commit"] and sel["fairness"] == "operator" and sel["holders"] == [winner]
    assert (
        sel["logSeqs"]["closed"] == rec["seqs"]["closed"] and sel["logSeqs"]["final"] == rec["seqs"]["final"]
    )
    assert sel["logLinks"]["outcome"] == f"http://testserver.local/log/entries/{rec['seqs']['outcome']}"
    assert award["awards"][0]["status"] == "active" and award["awards"][0]["suppliers"][0]["id"] == winner
    (c1,) = signed["contracts"]
    assert (
        c1["id"] == contract["id"] and c1["status"] == "active" and c1["awardID"] == award["awards"][0]["id"]
    )
    assert (
        c1["value"] == {"amount": 120000, "currency": "CNY"} and len(c1["implementation"]["milestones"]) == 2
    )

    extension = await c.get("/ocds/extension.json")
    assert extension.status_code == 200 and extension.json()["schemas"] == ["release-schema.json"]
    assert "Selection" in (await c.get("/ocds/release-schema.json")).json()["definitions"]


async def test_an_open_notice_publishes_nothing_sealed(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    r = await open_round(
        client,
        staff,
        bidders=2,
        prices=[9_137_291, 9_562_843],
        method="lowest_price",
        winners=1,
        min_candidates=1,
        due_in=60,
    )
    pkg = await package(client)
    assert package_errors(pkg) == []
    (tender,) = of(pkg, r.notice_id)
    text = json.dumps(tender)
    assert (
        "numberOfTenderers" not in text
        and "secret" not in tender["selection"]
        and "bids" not in tender["selection"]
    )
    for _, agency in r.bidders:
        assert agency["id"] not in text
    # distinctive digits, in fen and in yuan, so a random hex digest cannot match them
    for price in ("9137291", "91372.91", "91,372.91", "9562843", "95628.43"):
        assert price not in text


async def test_pages_follow_links_next_and_an_empty_range_is_an_empty_package(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    owner = await owner_user(c)
    ids = [
        (await published(c, owner, bid_deadline=(datetime.now(UTC) + timedelta(days=5)).isoformat()))["id"]
        for _ in range(3)
    ]
    seen: list[str] = []
    pkg = await package(c, limit=1)
    while True:
        assert package_errors(pkg) in ([], EMPTY)
        seen += [r["tender"]["id"] for r in pkg["releases"]]
        nxt = pkg.get("links", {}).get("next")
        if not nxt:
            break
        response = await c.get(nxt)
        assert response.status_code == 200
        pkg = response.json()
    assert seen[-3:] == ids and len(seen) == len(set(seen))

    later = await package(c, since=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert later["releases"] == [] and "links" not in later and package_errors(later) == EMPTY
    recent = await package(
        c, since=(datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z"), limit=100
    )
    assert set(ids) <= {r["tender"]["id"] for r in recent["releases"]}
    assert (await c.get("/api/v1/ocds/releases", params={"since": "yesterday"})).status_code == 422
    assert (await c.get("/api/v1/ocds/releases", params={"cursor": "nope"})).status_code == 422
    assert (await c.get("/api/v1/ocds/releases", params={"limit": 0})).status_code == 422


async def test_csv_downloads_have_a_bom_and_rows(quick: tuple[Litestar, AsyncClient], db: Database) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    await record(c, r, rec["winners"][0], amount_fen=12_345_67)
    for table, expect in (("notices", r.notice_id), ("awards", rec["winners"][0]), ("contracts", "12345.67")):
        response = await c.get(f"/data/{table}.csv")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert response.content.startswith(b"\xef\xbb\xbf")
        lines = response.content.decode("utf-8-sig").splitlines()
        assert len(lines) >= 2 and lines[0].startswith("ocid,") and expect in response.text
    assert (await c.get("/data/bids.csv")).status_code == 404


async def test_data_page_in_both_languages(client: AsyncClient) -> None:
    zh = await client.get("/data", headers={"Accept-Language": "zh-CN"})
    en = await client.get("/data", headers={"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 200
    assert "开放数据" in zh.text and "Open data" in en.text
    for body in (zh.text, en.text):
        for link in (
            "/data/notices.csv",
            "/data/awards.csv",
            "/data/contracts.csv",
            "/api/v1/ocds/releases",
            "/ocds/extension.json",
        ):
            assert link in body


async def _draw_committed(url: str, tmp_path: Path) -> dict[str, Any]:
    db = Database.from_url(url)
    try:
        app = create_app(make_settings(url, tmp_path), database=db)
        async with serve_in_process(app) as c:
            staff = await admin(c, db)
            r = await open_round(c, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
            await close(c, r)
            return await selection_of(c, r.notice_id)
    finally:
        await db.dispose()


async def test_export_command_writes_one_valid_package_with_the_draw(
    committed_database_url: str, tmp_path: Path
) -> None:
    rec = await _draw_committed(committed_database_url, tmp_path)
    out = tmp_path / "releases.json"
    env = {"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(tmp_path / "data")}
    # No public address: the file would link to the address the server binds to.
    refused = market("ocds", "export", "--out", str(out), env=env)
    assert refused.returncode == 1 and "MARKET_PUBLIC_URL" in refused.stderr and not out.exists()
    env["MARKET_PUBLIC_URL"] = "https://market.example"
    done = market("ocds", "export", "--out", str(out), "--base-url", "https://market.example", env=env)
    assert done.returncode == 0, done.stderr
    pkg = json.loads(out.read_text(encoding="utf-8"))
    assert package_errors(pkg) == []
    award = next(r for r in of(pkg, rec["notice_id"]) if "awards" in r)
    assert award["selection"]["seed"] == rec["seed"] and award["selection"]["winners"] == rec["winners"]
    assert pkg["extensions"] == ["https://market.example/ocds/extension.json"]

    none = market(
        "ocds", "export", "--out", str(tmp_path / "none.json"), "--since", "2999-01-01T00:00:00Z", env=env
    )
    assert none.returncode == 0, none.stderr
    assert package_errors(json.loads((tmp_path / "none.json").read_text())) == EMPTY
    bad = market("ocds", "export", "--out", str(tmp_path / "x.json"), "--since", "soon", env=env)
    assert bad.returncode == 1 and "--since" in bad.stderr
    # One hall (rolled up: Kunming holds the notice's county 530102), published by the hall.
    out = tmp_path / "hall.json"
    hall = market(
        "ocds",
        "export",
        "--out",
        str(out),
        "--hall",
        "530100",
        "--base-url",
        "https://market.example",
        env=env,
    )
    assert hall.returncode == 0, hall.stderr
    pkg = json.loads(out.read_text(encoding="utf-8"))
    assert package_errors(pkg) == [] and of(pkg, rec["notice_id"])
    assert pkg["publisher"]["uid"] == "530100" and pkg["uri"].endswith("?hall=530100")
    other = market("ocds", "export", "--out", str(tmp_path / "o.json"), "--hall", "530300", env=env)
    assert other.returncode == 0 and not of(json.loads((tmp_path / "o.json").read_text()), rec["notice_id"])
    unknown = market("ocds", "export", "--out", str(tmp_path / "x.json"), "--hall", "999999", env=env)
    assert unknown.returncode == 1 and "--hall" in unknown.stderr


def test_the_whole_demo_exports_valid(committed_database_url: str, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": committed_database_url,
        "MARKET_DATA_DIR": str(tmp_path / "data"),
        "MARKET_PUBLIC_URL": "https://market.example",
    }
    loaded = market("demo", env=env)
    assert loaded.returncode == 0, loaded.stderr
    out = tmp_path / "demo.json"
    done = market("ocds", "export", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    pkg = json.loads(out.read_text(encoding="utf-8"))
    assert package_errors(pkg) == []
    # The Data Review Tool's library, offline: no error, no undeclared field, and the
    # spreadsheet conversion works (tests/integration/ocds/libcove.py).
    result = review(pkg, tmp_path)
    assert result["validation_errors"] == [] and result["additional_fields"] == []
    assert result.get("conversion_error") is None and result["conversion"] == "flatten"
    tags = {t for r in pkg["releases"] for t in r["tag"]}
    assert {"tender", "award"} <= tags or {"tenderUpdate", "award"} <= tags or "awardUpdate" in tags
    assert any("seed" in r.get("selection", {}) for r in pkg["releases"])
