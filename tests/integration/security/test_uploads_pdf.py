"""PDF uploads are parsed (pypdf), not pattern-matched: active content is refused wherever
it hides, in a string that fooled the old stream-stripping regex or inside a compressed
object stream; a file the parser cannot read, or that asks too much of it, is refused with
a 422 and a message for the file field; clean PDFs, compressed ones included, are taken."""

from __future__ import annotations

import html

import pytest
from httpx import AsyncClient

from tests import pdfs
from tests.helpers import csrf_from
from tests.integration.agencies.test_api import agency_user, create
from tests.integration.agencies.test_pages import onboard
from tests.uploads import PDF

# (what the file is, its bytes, the English message beside the file field)
REFUSED = [
    (
        "JavaScript after a string holding 'stream' (the reported bypass)",
        pdfs.JS_AFTER_A_STRING,
        "The PDF holds JavaScript",
    ),
    (
        "JavaScript open action inside a compressed object stream",
        pdfs.JS_IN_OBJECT_STREAM,
        "The PDF holds JavaScript",
    ),
    ("JavaScript in a link annotation's action", pdfs.JS_IN_ANNOTATION, "The PDF holds JavaScript"),
    ("document-level JavaScript in the /Names tree", pdfs.JS_IN_NAME_TREE, "The PDF holds JavaScript"),
    ("launch action", pdfs.LAUNCH, "an action that starts a program"),
    ("launch action named through a reference", pdfs.LAUNCH_INDIRECT_NAME, "an action that starts a program"),
    ("embedded file in /EmbeddedFiles", pdfs.EMBEDDED_FILE, "embedded or attached files"),
    ("file attachment annotation", pdfs.ATTACHED_FILE, "embedded or attached files"),
    ("XFA form", pdfs.XFA, "XFA form"),
    ("object stream whose data is destroyed", pdfs.BROKEN_OBJECT_STREAM, "could not be read"),
    ("bytes between a PDF header and %%EOF", pdfs.NOT_A_PDF_BODY, "could not be read"),
    ("a PDF cut in the middle", PDF[:60] + PDF[-40:], "could not be read"),
    ("arrays nested 200 deep", pdfs.TOO_DEEP, "too deep a structure"),
    ("arrays nested 5000 deep", pdfs.FAR_TOO_DEEP, "could not be read"),
    ("12,000 objects in a 100 kB file", pdfs.TOO_MANY_OBJECTS, "too many objects"),
    (
        "encrypted for a password (its objects cannot be checked)",
        pdfs.encrypted("open sesame"),
        "protected by a password",
    ),
]
ACCEPTED = [
    ("the minimal one-page PDF", PDF),
    ("a PDF written by pypdf", pdfs.written_by_pypdf()),
    ("a PDF with a clean compressed object stream", pdfs.CLEAN_OBJECT_STREAM),
    ("a PDF anyone may open, with permissions protected by an owner password", pdfs.encrypted("")),
]


async def test_the_api_refuses_pdfs_with_active_content_or_that_cannot_be_read(client: AsyncClient) -> None:
    headers = await agency_user(client)
    await create(client, headers)
    for why, content, message in REFUSED:
        response = await client.post(
            "/api/v1/agencies/mine/documents",
            files={"file": ("证书.pdf", content, "application/pdf")},
            data={"kind": "certificate"},
            headers={**headers, "Accept-Language": "en"},
        )
        assert response.status_code == 422, (why, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), why
        errors = response.json()["errors"]
        assert [e["field"] for e in errors] == ["file"] and message in errors[0]["message"], (why, errors)
    listed = (await client.get("/api/v1/agencies/mine", headers=headers)).json()
    assert listed["documents"] == []  # nothing was kept


async def test_clean_pdfs_are_still_taken(client: AsyncClient) -> None:
    headers = await agency_user(client)
    await create(client, headers)
    for why, content in ACCEPTED:
        response = await client.post(
            "/api/v1/agencies/mine/documents",
            files={"file": ("营业执照.pdf", content, "application/pdf")},
            data={"kind": "other"},
            headers=headers,
        )
        assert response.status_code == 201, (why, response.text)
        assert response.json()["content_type"] == "application/pdf"


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (pdfs.JS_IN_OBJECT_STREAM, "The PDF holds JavaScript"),
        (pdfs.EMBEDDED_FILE, "embedded or attached files"),
        (pdfs.NOT_A_PDF_BODY, "could not be read"),
    ],
    ids=["javascript", "embedded", "unreadable"],
)
async def test_the_page_says_why_beside_the_file_field(
    client: AsyncClient, content: bytes, text: str
) -> None:
    await onboard(client)
    token = csrf_from((await client.get("/agency")).text)
    response = await client.post(
        "/agency/documents",
        data={"_csrf_token": token, "kind": "certificate"},
        files={"file": ("证书.pdf", content)},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert 'id="e-file"' in response.text
    assert text in html.unescape(response.text)
