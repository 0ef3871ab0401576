"""Uploads through the API and the pages are refused by content, not name (422 problem
details; the message beside the file field), and served uploads come with their exact
type, nosniff, a Content-Disposition and a sandboxing policy."""

from __future__ import annotations

from httpx import AsyncClient

from market.core.db import Database
from tests.helpers import csrf_from
from tests.integration.agencies.test_api import admin, agency_user, create
from tests.integration.agencies.test_pages import onboard
from tests.uploads import DISGUISED, REAL


async def test_the_api_refuses_disguised_files_and_polyglots(client: AsyncClient) -> None:
    headers = await agency_user(client)
    await create(client, headers)
    for name, content, why in DISGUISED:
        response = await client.post(
            "/api/v1/agencies/mine/documents",
            files={"file": (name, content, "application/pdf")},
            data={"kind": "licence"},
            headers=headers,
        )
        assert response.status_code in (415, 422), (why, response.status_code)
        assert response.headers["content-type"].startswith("application/problem+json"), why
        assert [e["field"] for e in response.json()["errors"]] == ["file"], why
    listed = (await client.get("/api/v1/agencies/mine", headers=headers)).json()
    assert listed["documents"] == []  # nothing was kept


async def test_real_documents_are_taken_and_served_safely(client: AsyncClient, db: Database) -> None:
    headers = await agency_user(client)
    agency = await create(client, headers)
    staff = await admin(client, db)
    for name, content, content_type in REAL:
        response = await client.post(
            "/api/v1/agencies/mine/documents",
            files={"file": (name, content, "application/octet-stream")},
            data={"kind": "other"},
            headers=headers,
        )
        assert response.status_code == 201, (name, response.text)
        assert response.json()["content_type"] == content_type
        served = await client.get(
            f"/api/v1/agencies/{agency['id']}/documents/{response.json()['id']}", headers=staff
        )
        assert served.status_code == 200 and served.content == content
        assert (
            served.headers["content-type"].split(";")[0] == content_type
        )  # what it is, never what it claimed
        assert served.headers["x-content-type-options"] == "nosniff"
        disposition = served.headers["content-disposition"]
        assert (
            disposition.startswith("inline" if content_type.startswith("image/") else "attachment")
            and "filename" in disposition
        )
        csp = served.headers["content-security-policy"]
        assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
        assert served.headers["cache-control"] == "private, no-store"


async def test_the_page_shows_why_beside_the_file_field(client: AsyncClient) -> None:
    await onboard(client)
    samples = {why: (name, content) for name, content, why in DISGUISED}
    expected = {
        "PDF header on an HTML page": "文件中含有网页标记或脚本",
        "PNG with a ZIP after IEND": "文件已损坏或不完整",
        "Windows executable named .png": "PDF、PNG",
    }
    for why, text in expected.items():
        token = csrf_from((await client.get("/agency")).text)
        response = await client.post(
            "/agency/documents",
            data={"_csrf_token": token, "kind": "certificate"},
            files={"file": samples[why]},
        )
        assert response.status_code == 422, why
        assert 'id="e-file"' in response.text and text in response.text, why
