"""Issue 19, item 10: names people type are shown to others (supervisors, owners, the
public), so an invisible or direction-changing character in them is refused beside its
field: U+202E RIGHT-TO-LEFT OVERRIDE in an agency's name, in an upload's filename (where
``报告<U+202E>fdp.exe`` shows as ``报告exe.pdf``), a zero-width space that makes a look-alike
of another name. Names are kept in NFC (one spelling per name), not NFKC, which would
fold the full-width brackets of registered Chinese enterprise names into ASCII."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from market.core.db import Database
from tests.helpers import PASSWORD, unique_email
from tests.integration.agencies.test_api import agency_body, agency_user, create, credit_code
from tests.integration.notices.test_api import notice_body, owner_user
from tests.uploads import PDF

HIDDEN = ["\u202e", "\u200b", "\u2066", "\u0007", "\ufeff"]


def field_errors(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["field"] for e in response.json().get("errors", [])]


@pytest.mark.parametrize("char", HIDDEN, ids=["rlo", "zwsp", "lri", "bell", "bom"])
async def test_names_with_invisible_or_direction_changing_characters_are_refused(
    client: AsyncClient, char: str
) -> None:
    agency_h = await agency_user(client)
    response = await client.post(
        "/api/v1/agencies", json=agency_body(name=f"云南绿源{char}环境科技有限公司"), headers=agency_h
    )
    assert response.status_code == 422 and "name" in field_errors(response), response.text
    registered = await client.post(
        "/api/v1/auth/register",
        json={"email": unique_email("n"), "password": PASSWORD, "name": f"张{char}三", "role": "owner"},
    )
    assert registered.status_code == 422 and "name" in field_errors(registered)
    owner = await owner_user(client, org=None)
    org = await client.post(
        "/api/v1/owners/org",
        json={"name": f"昆明市{char}生态环境局", "credit_code": credit_code(), "region": "530100"},
        headers=owner,
    )
    assert org.status_code == 422 and "name" in field_errors(org)
    notice = await client.post(
        "/api/v1/notices", json=notice_body(title=f"环评{char}报告编制"), headers=owner
    )
    assert notice.status_code == 422 and "title" in field_errors(notice)


async def test_an_upload_named_to_pass_an_exe_for_a_pdf_is_refused(client: AsyncClient, db: Database) -> None:
    agency_h = await agency_user(client)
    await create(client, agency_h)
    path = "/api/v1/agencies/mine/documents"
    spoof = await client.post(
        path,
        files={"file": ("报告\u202efdp.exe", PDF, "application/pdf")},
        data={"kind": "licence"},
        headers=agency_h,
    )
    assert spoof.status_code == 422 and "file" in field_errors(spoof), spoof.text
    plain = await client.post(
        path,
        files={"file": ("营业执照.pdf", PDF, "application/pdf")},
        data={"kind": "licence"},
        headers=agency_h,
    )
    assert plain.status_code == 201, plain.text


async def test_a_name_has_one_spelling_and_keeps_its_registered_brackets(client: AsyncClient) -> None:
    agency_h = await agency_user(client)
    agency = await create(client, agency_h, name="Café环境科技（昆明）有限公司")
    assert (
        agency["name"] == "Café环境科技（昆明）有限公司"
    )  # composed; the licence's full-width brackets kept
