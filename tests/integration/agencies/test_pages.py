"""The agency pages: onboarding with the live credit-code check, the dashboard, the admins'
review queue, and the public directory and profiles."""

from __future__ import annotations

import html
import itertools
import re
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.accounts.models import Role
from market.agencies import rules
from market.agencies.creditcode import complete_credit_code
from market.core.clock import today_in_china
from market.core.db import Database
from market.core.errors import InvalidInput
from tests.conftest import serve_in_process
from tests.helpers import PASSWORD, create_staff, csrf_from, register
from tests.uploads import PDF, PNG

HTMX = {"HX-Request": "true"}
EN = {"Accept-Language": "en"}
TODAY = today_in_china()
FUTURE = (TODAY + timedelta(days=400)).isoformat()
_codes = itertools.count(1)


def credit_code(division: str = "530100") -> str:
    return complete_credit_code("9", "1", division, f"PG{next(_codes):06d}")


def form(**overrides: Any) -> dict[str, Any]:
    """The onboarding form as a browser sends it: three qualification rows, two blank."""
    data: dict[str, Any] = {
        "name": "昆明春城地质工程有限公司",
        "credit_code": credit_code(),
        "region": "530102",
        "legal_representative": "李四",
        "contact_phone": "0871-66668888",
        "address": "昆明市五华区翠湖南路 2 号",
        "categories": ["GEOHAZARD", "EIA"],
        "q0_category": "GEOHAZARD",
        "q0_level": "A",
        "q0_certificate_no": "DZ-2026-0001",
        "q0_valid_until": FUTURE,
    }
    for i in (1, 2):
        data.update(
            {f"q{i}_category": "", f"q{i}_level": "", f"q{i}_certificate_no": "", f"q{i}_valid_until": ""}
        )
    data.update(overrides)
    return data


async def login(client: AsyncClient, email: str) -> None:
    token = csrf_from((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"_csrf_token": token, "email": email, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


async def login_agency(client: AsyncClient) -> dict[str, Any]:
    client.cookies.clear()  # log out: the API takes a cookie-less registration without a CSRF token
    user = await register(client, role="agency")
    await login(client, user["email"])
    return user


async def login_staff(client: AsyncClient, db: Database, role: Role = Role.admin) -> str:
    email = await create_staff(db, role=role)
    await login(client, email)
    return email


async def submit(
    client: AsyncClient,
    data: dict[str, Any],
    file: tuple[str, bytes, str] | None = None,
    path: str = "/agency/register",
) -> Any:
    token = csrf_from((await client.get("/agency")).text)
    files = {
        "licence": file or ("", b"", "application/octet-stream")
    }  # an empty file input, as browsers send it
    return await client.post(path, data={"_csrf_token": token, **data}, files=files, follow_redirects=False)


def public_id(page: str) -> str:
    match = re.search(r"<code>(AG-[0-9A-Za-z-]+)</code>", page)
    assert match, "no public id on the page"
    return match.group(1)


async def onboard(client: AsyncClient, **overrides: Any) -> str:
    """A new agency user registers an agency through the form; its public id."""
    await login_agency(client)
    response = await submit(client, form(**overrides))
    assert response.status_code == 303, response.text
    return public_id((await client.get("/agency")).text)


async def decide(admin: AsyncClient, path: str, **fields: str) -> Any:
    token = csrf_from((await admin.get("/admin/agencies")).text)
    return await admin.post(path, data={"_csrf_token": token, **fields}, follow_redirects=False)


@pytest.fixture
async def admin(app: Litestar, db: Database) -> Any:
    """A second browser, logged in as an administrator."""
    async with serve_in_process(app) as other:
        await login_staff(other, db)
        yield other


@pytest.fixture
async def visitor(app: Litestar) -> Any:
    async with serve_in_process(app) as other:
        yield other


# -- onboarding --------------------------------------------------------------------------------


async def test_onboarding_form_submits_and_the_dashboard_shows_pending(client: AsyncClient) -> None:
    await login_agency(client)
    page = (await client.get("/agency")).text
    assert "<h1>登记中介机构</h1>" in page and 'enctype="multipart/form-data"' in page
    for row in range(3):
        assert f'for="f-q{row}_certificate_no"' in page and f'id="f-q{row}_valid_until"' in page
    assert 'hx-get="/agency/check-credit-code"' in page and 'hx-trigger="keyup changed delay:300ms"' in page
    assert "不会出现在公开名录" in page  # the private fields say so
    assert '<option value="530000"' in page and '<option value="530102"' in page and "五华区" in page
    assert '<a href="/agency">我的中介机构</a>' in page

    data = form()
    response = await submit(client, data, ("营业执照.pdf", PDF, "application/pdf"))
    assert response.status_code == 303 and response.headers["location"] == "/agency?done=submitted"
    dashboard = (await client.get("/agency?done=submitted")).text
    assert "待审核" in dashboard and data["name"] in dashboard and data["credit_code"] in dashboard
    assert "已提交" in dashboard  # the done message
    assert "DZ-2026-0001" in dashboard and "地质灾害危险性评估" in dashboard and "甲级" in dashboard
    assert "0871-66668888" in dashboard  # the agency sees its own contact details
    agency = public_id(dashboard)
    link = re.search(
        rf'href="(/api/v1/agencies/{agency}/documents/\d+)"><bdi>营业执照.pdf</bdi></a>', dashboard
    )
    assert link, "the licence is listed"
    document = await client.get(link.group(1))
    assert document.status_code == 200 and document.content == PDF

    again = await submit(client, form())  # one agency per account
    assert again.status_code == 409 and 'role="alert"' in again.text


async def test_credit_code_is_checked_as_it_is_typed(client: AsyncClient) -> None:
    await login_agency(client)
    valid = await client.get(
        "/agency/check-credit-code", params={"credit_code": "91350100M000100Y43"}, headers=HTMX
    )
    assert valid.status_code == 200 and "<html" not in valid.text
    assert 'class="ok"' in valid.text and "通过" in valid.text
    assert (
        await client.get("/agency/check-credit-code", params={"credit_code": " "}, headers=HTMX)
    ).text.strip() == ""

    bad = {
        "length": "9135010",
        "charset": "91350100M000100YO3",
        "authority": "X1350100M000100Y43",
        "division": "91AB0100M000100Y43",
        "org_code_check": "91350100M000100Y53",
        "check_char": "91350100M000100Y44",
    }
    seen = set()
    for kind, code in bad.items():
        with pytest.raises(InvalidInput) as raised:
            rules.check_credit_code(code)
        expected = raised.value.errors[0].text()
        response = await client.get(
            "/agency/check-credit-code", params={"credit_code": code}, headers={**HTMX, **EN}
        )
        assert response.status_code == 200, kind  # htmx swaps only 2xx answers
        assert 'class="error"' in response.text and expected in html.unescape(response.text), kind
        seen.add(expected)
        zh = await client.get("/agency/check-credit-code", params={"credit_code": code}, headers=HTMX)
        assert 'class="error"' in zh.text and expected not in html.unescape(zh.text), kind  # in Chinese
    assert len(seen) == len(bad)  # each check says what failed


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"credit_code": "91350100M000100Y44"}, "credit_code", None),
        ({"region": "539999"}, "region", None),
        ({"q0_valid_until": (TODAY - timedelta(days=1)).isoformat()}, "q0_valid_until", "已过期"),
        ({"q0_category": "EIA", "q0_level": "A"}, "q0_level", None),
        ({"q0_level": "C"}, "q0_level", None),  # GEOHAZARD has 甲级 and 乙级 only
        ({"categories": []}, "categories", None),
        ({"q0_certificate_no": ""}, "q0_certificate_no", None),
        ({"q0_category": "SURVEYING"}, "q0_category", None),  # not one of the chosen categories
    ],
)
async def test_bad_input_is_shown_beside_the_field_and_nothing_is_saved(
    client: AsyncClient, overrides: dict[str, Any], field: str, message: str | None
) -> None:
    await login_agency(client)
    data = form(**overrides)
    response = await submit(client, data)
    assert response.status_code in (409, 422), response.text
    page = response.text
    assert f'id="e-{field}"' in page, page
    assert f'aria-describedby="e-{field}"' in page or f" e-{field}" in page
    if message:
        assert message in page.split(f'id="e-{field}"')[1][:200]
    assert f'value="{data["name"]}"' in page and "0871-66668888" in page  # values kept
    assert "没有保存" in page
    assert (await client.get("/api/v1/agencies/mine")).status_code == 404
    assert "<h1>登记中介机构</h1>" in (await client.get("/agency")).text


async def test_an_error_in_a_later_row_is_shown_in_that_row(client: AsyncClient) -> None:
    await login_agency(client)
    blank = {"q0_category": "", "q0_level": "", "q0_certificate_no": "", "q0_valid_until": ""}
    row2 = {
        "q2_category": "GEOHAZARD",
        "q2_level": "C",
        "q2_certificate_no": "DZ-9",
        "q2_valid_until": FUTURE,
    }
    response = await submit(client, form(**blank, **row2))
    assert response.status_code == 422
    assert 'id="e-q2_level"' in response.text and 'id="e-q0_level"' not in response.text
    assert 'value="DZ-9"' in response.text


async def test_a_disguised_upload_is_refused_before_anything_is_saved(client: AsyncClient) -> None:
    await login_agency(client)
    response = await submit(client, form(), ("licence.pdf", b"MZ\x90\x00\x03 not a pdf", "application/pdf"))
    assert response.status_code == 422
    assert 'id="e-licence"' in response.text
    assert (await client.get("/api/v1/agencies/mine")).status_code == 404


async def test_a_refusal_after_the_first_writes_leaves_nothing_behind(client: AsyncClient) -> None:
    """The public log refuses an e-mail address in the name only when the agency's rows are
    already written: the savepoint takes them back, and the page says why."""
    await login_agency(client)
    response = await submit(
        client, form(name="联系 boss@example.cn 的公司"), ("licence.pdf", PDF, "application/pdf")
    )
    assert response.status_code == 422 and 'role="alert"' in response.text
    assert (await client.get("/api/v1/agencies/mine")).status_code == 404
    assert "<h1>登记中介机构</h1>" in (await client.get("/agency")).text


async def test_duplicate_credit_code_is_a_conflict_beside_the_field(
    client: AsyncClient, visitor: AsyncClient
) -> None:
    code = credit_code()
    await onboard(client, credit_code=code)
    await login_agency(visitor)
    response = await submit(visitor, form(credit_code=code))
    assert response.status_code == 409
    assert 'id="e-credit_code"' in response.text


# -- the admins' queue ---------------------------------------------------------------------------


async def test_admin_approves_from_the_queue_and_approving_twice_is_a_conflict(
    client: AsyncClient, admin: AsyncClient
) -> None:
    await login_agency(client)
    assert (await submit(client, form(), ("licence.pdf", PDF, "application/pdf"))).status_code == 303
    agency = public_id((await client.get("/agency")).text)

    queue = (await admin.get("/admin/agencies")).text
    assert '<a href="/admin/agencies">中介机构审核</a>' in queue
    assert f'id="agency-{agency}"' in queue and "0871-66668888" in queue and "李四" in queue
    assert f"/api/v1/agencies/{agency}/documents/" in queue
    assert (
        await admin.get(re.search(rf'href="(/api/v1/agencies/{agency}/documents/\d+)"', queue).group(1))
    ).status_code == 200

    response = await decide(admin, f"/admin/agencies/{agency}/review", decision="approve")
    assert response.status_code == 303 and response.headers["location"] == "/admin/agencies?done=approve"
    after = (await admin.get("/admin/agencies?done=approve")).text
    assert f'id="agency-{agency}"' not in after and "公开名录" in after
    again = await decide(admin, f"/admin/agencies/{agency}/review", decision="approve")
    assert again.status_code == 409 and "<html" in again.text and 'role="alert"' in again.text
    assert "已批准" in (await client.get("/agency")).text


async def test_admin_rejects_with_a_reason_and_the_agency_corrects_and_resubmits(
    client: AsyncClient, admin: AsyncClient
) -> None:
    agency = await onboard(client)
    no_reason = await decide(admin, f"/admin/agencies/{agency}/review", decision="reject", reason=" ")
    assert no_reason.status_code == 422
    assert f'id="e-reject-{agency}-reason"' in no_reason.text
    with_email = await decide(
        admin, f"/admin/agencies/{agency}/review", decision="reject", reason="请联系 admin@example.cn"
    )
    assert with_email.status_code == 422 and 'role="alert"' in with_email.text  # reasons are published
    assert f'id="agency-{agency}"' in with_email.text  # still pending
    response = await decide(
        admin, f"/admin/agencies/{agency}/review", decision="reject", reason="营业执照扫描件不清晰"
    )
    assert response.status_code == 303

    dashboard = (await client.get("/agency")).text
    assert "已驳回" in dashboard and "营业执照扫描件不清晰" in dashboard
    assert 'action="/agency/resubmit"' in dashboard and 'value="0871-66668888"' in dashboard  # prefilled
    data = form(name="昆明春城地质工程有限公司（更正）")
    data["credit_code"] = re.search(
        r'id="f-credit_code" name="credit_code" type="text" value="([^"]+)"', dashboard
    ).group(1)
    response = await submit(client, data, ("licence.png", PNG, "image/png"), path="/agency/resubmit")
    assert response.status_code == 303 and response.headers["location"] == "/agency?done=resubmitted"
    dashboard = (await client.get("/agency")).text
    assert "待审核" in dashboard and "（更正）" in dashboard and "licence.png" in dashboard


async def test_admin_suspends_reinstates_blacklists_and_lifts(
    client: AsyncClient, admin: AsyncClient, visitor: AsyncClient
) -> None:
    code = credit_code()
    agency = await onboard(client, credit_code=code)
    assert (await decide(admin, f"/admin/agencies/{agency}/review", decision="approve")).status_code == 303

    found = (await admin.get("/admin/agencies", params={"q": code})).text
    assert f'id="found-{agency}"' in found and 'name="action" value="suspend"' in found
    assert 'name="action" value="reinstate"' not in found

    past = (TODAY - timedelta(days=3)).isoformat()
    refused = await decide(
        admin, f"/admin/agencies/{agency}/status", action="suspend", reason="质量问题", until=past, q=code
    )
    assert refused.status_code == 422 and f'id="e-suspend-{agency}-until"' in refused.text
    assert ">质量问题</textarea>" in refused.text  # the reason stays in the form that was sent

    until = (TODAY + timedelta(days=90)).isoformat()
    response = await decide(
        admin,
        f"/admin/agencies/{agency}/status",
        action="suspend",
        reason="报告质量问题",
        until=until,
        q=code,
    )
    assert response.status_code == 303 and "done=suspend" in response.headers["location"]
    profile = (await visitor.get(f"/agencies/{agency}")).text
    assert "已暂停" in profile and "报告质量问题" in profile and until in profile

    assert (
        await decide(admin, f"/admin/agencies/{agency}/status", action="reinstate", reason="整改完成", q=code)
    ).status_code == 303
    assert (
        await decide(
            admin,
            f"/admin/agencies/{agency}/status",
            action="blacklist",
            reason="伪造资质证书",
            until="",
            q=code,
        )
    ).status_code == 303
    profile = (await visitor.get(f"/agencies/{agency}")).text
    assert "已列入黑名单" in profile and "伪造资质证书" in profile and "无截止日期" in profile
    twice = await decide(
        admin, f"/admin/agencies/{agency}/status", action="blacklist", reason="again", q=code
    )
    assert twice.status_code == 409 and 'role="alert"' in twice.text
    assert (
        await decide(
            admin, f"/admin/agencies/{agency}/status", action="lift_blacklist", reason="期满", q=code
        )
    ).status_code == 303
    found = (await admin.get("/admin/agencies", params={"q": code})).text
    assert "已批准" in found.split(f'id="found-{agency}"')[1]


async def test_qualification_changes_go_through_review_and_expiry_is_warned(
    client: AsyncClient, admin: AsyncClient
) -> None:
    soon = (TODAY + timedelta(days=10)).isoformat()
    agency = await onboard(client, q0_valid_until=soon)
    await decide(admin, f"/admin/agencies/{agency}/review", decision="approve")
    dashboard = (await client.get("/agency")).text
    assert "30 天内到期" in dashboard and soon in dashboard

    token = csrf_from(dashboard)
    wrong = await client.post(
        "/agency/qualifications",
        data={
            "_csrf_token": token,
            "category": "GEOHAZARD",
            "level": "C",
            "certificate_no": "DZ-2",
            "valid_until": FUTURE,
        },
    )
    assert wrong.status_code == 422 and 'id="e-level"' in wrong.text and 'value="DZ-2"' in wrong.text
    old = re.search(r'<option value="(\d+)"\s*>替换', dashboard)
    response = await client.post(
        "/agency/qualifications",
        data={
            "_csrf_token": token,
            "category": "GEOHAZARD",
            "level": "A",
            "certificate_no": "DZ-2027-0002",
            "valid_until": FUTURE,
            "replaces": old.group(1),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "待审核" in (await client.get("/agency")).text

    queue = (await admin.get("/admin/agencies")).text
    change = re.search(rf'action="(/admin/agencies/{agency}/qualifications/\d+/review)"', queue)
    assert change and "DZ-2027-0002" in queue and "DZ-2026-0001" in queue  # with the one it replaces
    assert (await decide(admin, change.group(1), decision="approve")).status_code == 303
    dashboard = (await client.get("/agency")).text
    assert "30 天内到期" not in dashboard and "DZ-2026-0001" not in dashboard

    bad = await client.post(
        "/agency/documents",
        data={"_csrf_token": token, "kind": "certificate"},
        files={"file": ("cert.jpg", b"%PDF-1.4 really", "image/jpeg")},
    )
    assert bad.status_code == 422 and 'id="e-file"' in bad.text


# -- the public directory and profiles -----------------------------------------------------------


async def approved(client: AsyncClient, admin: AsyncClient, **overrides: Any) -> str:
    agency = await onboard(client, **overrides)
    assert (await decide(admin, f"/admin/agencies/{agency}/review", decision="approve")).status_code == 303
    return agency


def _ids(page: str) -> list[str]:
    return re.findall(r'<td><a href="/agencies/(AG-[0-9A-Za-z-]+)">', page)


async def test_directory_searches_filters_and_pages(
    client: AsyncClient, admin: AsyncClient, visitor: AsyncClient
) -> None:
    empty = (await visitor.get("/agencies")).text
    assert "还没有" in empty and '<a href="/agencies">中介机构库</a>' in empty

    kunming = await approved(client, admin, name="昆明甲级地质有限公司")
    dali_code = credit_code("532901")
    dali = await approved(
        client, admin, name="大理乙级地质有限公司", credit_code=dali_code, region="532901", q0_level="B"
    )
    survey = await approved(
        client,
        admin,
        name="玉溪测绘有限公司",
        region="530400",
        categories=["SURVEYING"],
        q0_category="SURVEYING",
        q0_level="A",
    )
    await onboard(client, name="待审核的公司")  # pending: not listed

    page = (await visitor.get("/agencies")).text
    assert _ids(page) == [survey, dali, kunming] and "待审核的公司" not in page
    assert "地质灾害危险性评估 甲级" in page and "大理市" in page

    assert _ids((await visitor.get("/agencies", params={"q": "大理"})).text) == [dali]
    assert _ids((await visitor.get("/agencies", params={"q": dali_code.lower()})).text) == [dali]
    assert _ids((await visitor.get("/agencies", params={"category": "GEOHAZARD"})).text) == [dali, kunming]
    grade_a = (await visitor.get("/agencies", params={"category": "GEOHAZARD", "level": "A"})).text
    assert _ids(grade_a) == [kunming] and '<option value="A" selected>' in grade_a
    assert _ids((await visitor.get("/agencies", params={"category": "GEOHAZARD", "level": "B"})).text) == [
        dali,
        kunming,
    ]
    assert _ids((await visitor.get("/agencies", params={"region": "532900"})).text) == [dali]
    assert _ids((await visitor.get("/agencies", params={"region": "530000"})).text) == [survey, dali, kunming]
    stale = await visitor.get("/agencies", params={"category": "EIA", "level": "A"})  # EIA has no levels
    assert stale.status_code == 200 and _ids(stale.text) == [dali, kunming]
    none = (await visitor.get("/agencies", params={"q": "不存在的公司"})).text
    assert _ids(none) == [] and "没有符合" in none

    partial = await visitor.get(
        "/agencies", params={"category": "GEOHAZARD", "level": "", "q": ""}, headers=HTMX
    )
    assert partial.status_code == 200 and "<html" not in partial.text
    assert _ids(partial.text) == [dali, kunming]
    assert 'id="level-field" hx-swap-oob="true"' in partial.text and '<option value="B"' in partial.text
    assert "HX-Request" in partial.headers["vary"]

    first = (await visitor.get("/agencies", params={"limit": 2})).text
    assert _ids(first) == [survey, dali]
    more = html.unescape(re.search(r'<a href="([^"]+)" hx-get="[^"]+" hx-target="#more-row"', first).group(1))
    rows = await visitor.get(more, headers=HTMX)
    assert "<html" not in rows.text and "<table" not in rows.text and _ids(rows.text) == [kunming]
    assert "more-row" not in rows.text
    without_js = (await visitor.get(more)).text
    assert "<html" in without_js and _ids(without_js) == [kunming] and "回到第一页" in without_js

    bad = await visitor.get("/agencies", params={"cursor": "garbage!!"})
    assert bad.status_code == 422 and "<html" in bad.text


async def test_profile_shows_contact_details_only_to_those_allowed(
    client: AsyncClient, admin: AsyncClient, visitor: AsyncClient
) -> None:
    pending = await onboard(client, name="尚未审核的公司")
    assert (await visitor.get(f"/agencies/{pending}")).status_code == 404
    assert (await admin.get(f"/agencies/{pending}")).status_code == 200
    own = (await client.get(f"/agencies/{pending}")).text
    assert "0871-66668888" in own

    agency = await approved(client, admin)
    public = await visitor.get(f"/agencies/{agency}")
    assert public.status_code == 200
    page = public.text
    assert "0871-66668888" not in page and "李四" not in page and "翠湖南路" not in page
    assert "/documents/" not in page
    assert "暂无中标记录" in page and "暂无评价" in page
    assert "DZ-2026-0001" in page and "地质灾害危险性评估" in page

    staff = (await admin.get(f"/agencies/{agency}")).text
    assert "0871-66668888" in staff and "李四" in staff and "翠湖南路" in staff
    assert (await visitor.get("/agencies/AG-999999")).status_code == 404


async def test_each_role_reaches_only_its_own_pages(
    client: AsyncClient, db: Database, visitor: AsyncClient
) -> None:
    logged_out = await visitor.get("/agency", follow_redirects=False)
    assert logged_out.status_code == 303 and logged_out.headers["location"] == "/login?next=%2Fagency"

    client.cookies.clear()
    owner = await register(client, role="owner")
    await login(client, owner["email"])
    for path in ("/agency", "/admin/agencies"):
        response = await client.get(path)
        assert response.status_code == 403 and "无权" in response.text, path
    assert "我的中介机构" not in (await client.get("/agencies")).text

    await login_agency(client)
    assert (await client.get("/admin/agencies")).status_code == 403
    token = csrf_from((await client.get("/agency")).text)
    forged = await client.post(
        "/admin/agencies/AG-000001/review", data={"_csrf_token": token, "decision": "approve"}
    )
    assert forged.status_code == 403

    pending = await onboard(visitor)
    await login_staff(client, db, Role.supervisor)
    queue = await client.get("/admin/agencies")
    assert queue.status_code == 200 and f'id="agency-{pending}"' in queue.text  # supervisors see the queue
    assert (
        "/review" not in queue.text and '<form method="post" action="/admin' not in queue.text
    )  # but take no decisions
    assert (await client.get("/agency")).status_code == 403
    token = csrf_from(queue.text)
    response = await client.post(
        f"/admin/agencies/{pending}/review", data={"_csrf_token": token, "decision": "approve"}
    )
    assert response.status_code == 403


async def test_the_directory_page_lists_what_the_api_lists(
    client: AsyncClient, admin: AsyncClient, visitor: AsyncClient
) -> None:
    """The page reads the directory in one hand-written statement (queries.directory_page),
    the API through the ORM (queries.directory): the same filters give the same agencies in
    the same order, page by page."""
    made = [
        await approved(client, admin, name="昆明甲级地质有限公司"),
        await approved(
            client,
            admin,
            name="大理乙级地质有限公司",
            credit_code=credit_code("532901"),
            region="532901",
            q0_level="B",
        ),
        await approved(
            client,
            admin,
            name="玉溪测绘有限公司",
            region="530400",
            categories=["SURVEYING"],
            q0_category="SURVEYING",
            q0_level="A",
        ),
        await approved(client, admin, name="100%_地质公司", region="530102"),
    ]
    suspended = await approved(client, admin, name="暂停中的地质公司")
    until = (TODAY + timedelta(days=30)).isoformat()
    assert (
        await decide(
            admin, f"/admin/agencies/{suspended}/status", action="suspend", reason="报告质量问题", until=until
        )
    ).status_code == 303
    filters: list[dict[str, str]] = [
        {},
        {"q": "地质"},
        {"q": "100%_"},
        {"q": "%"},
        {"category": "GEOHAZARD"},
        {"category": "GEOHAZARD", "level": "A"},
        {"category": "GEOHAZARD", "level": "B"},
        {"region": "530100"},
        {"region": "532900"},
        {"region": "530000", "category": "SURVEYING"},
        {"status": "suspended"},
        {"status": "blacklisted"},
    ]
    for params in filters:
        api_ids: list[str] = []
        cursor: str | None = None
        while True:
            page = (
                await visitor.get(
                    "/api/v1/agencies",
                    params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})},
                )
            ).json()
            api_ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        page_ids: list[str] = []
        url: str | None = "/agencies"
        query: dict[str, Any] | None = {**params, "limit": 2}
        while url:
            text = (await visitor.get(url, params=query)).text
            page_ids += _ids(text)
            more = re.search(r'<a href="([^"]+)" hx-get="[^"]+" hx-target="#more-row"', text)
            url, query = (html.unescape(more.group(1)), None) if more else (None, None)
        assert page_ids == api_ids, params
        assert set(api_ids) <= {*made, suspended}
    shown = (await visitor.get("/agencies", params={"status": "suspended"})).text
    assert _ids(shown) == [suspended] and 'class="status status-suspended"' in shown
    assert _ids((await visitor.get("/agencies", params={"q": "100%_"})).text) == [
        made[3]
    ]  # wildcards are literal
    assert "&lt;" not in shown and "100%_地质公司" in (await visitor.get("/agencies")).text


async def test_the_queue_shows_the_oldest_and_counts_them_all(
    client: AsyncClient, admin: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review page reads the oldest REVIEW_LIMIT of each queue (each shown agency costs
    its profile's reads, and a national market's queue is long), says how many wait in all,
    and a searched agency beyond them is not sent to a card the page does not hold."""
    from market.agencies import queries
    from tests.integration.agencies.test_api import agency_user, create

    monkeypatch.setattr(queries, "REVIEW_LIMIT", 2)
    made = [(await create(client, await agency_user(client), name=f"排队机构{i}"))["id"] for i in range(3)]
    queue = (await admin.get("/admin/agencies", headers={"Accept-Language": "en"})).text
    assert "Agencies waiting for review (3)" in queue
    assert "The oldest 2 are shown; the others follow as these are decided." in queue
    assert [f'id="agency-{a}"' in queue for a in made] == [True, True, False]
    # Found by a search, it is listed with its actions, never linked to a card not on the page.
    found = (
        await admin.get("/admin/agencies", params={"q": made[2]}, headers={"Accept-Language": "en"})
    ).text
    assert f'id="found-{made[2]}"' in found and f'href="#agency-{made[2]}"' not in found
