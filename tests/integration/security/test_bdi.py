"""Issue 19, item 10 (the page half): text people type is isolated where pages show it.

A name in a right-to-left script (Hebrew, Arabic) is a legitimate name, and rows stored
before the input check may hold anything; either way its direction must not spill over
the ids, prices and words beside it. Every piece of user text in a page's text is in a
``<bdi>`` of its own (templating.bdi), or, for a block that holds only that text (a
description, an objection's reasons), in an element with ``dir="auto"``. The pages are
parsed, not pattern-matched: every place a name appears in the body's text must be isolated,
on the public pages and on the staff pages (the review queue, the supervision console)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.accounts.models import Role
from market.core.db import Database
from tests.conftest import serve_in_process
from tests.helpers import create_staff
from tests.integration.agencies.test_api import admin, agency_user, create, credit_code
from tests.integration.agencies.test_pages import login
from tests.integration.notices.test_api import approved_agency, owner_user, project_code
from tests.integration.selection.helpers import close, open_round
from tests.uploads import PDF

AGENCY = "שלום הנדסה 123"  # Hebrew, ending in digits: the case that swaps with what follows
FILENAME = "רישיון עסק 2026.pdf"
ORG = "مكتب البيئة 7"
PROJECT = "طريق المطار 5"
TITLE = "تقييم الأثر البيئي 2026"
DESCRIPTION = "وصف المشروع: 3 مراحل"
OBJECTION = "الشركة الفائزة لا تملك الترخيص 12"

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Text here is not laid out as the page's text (or cannot hold markup): not checked.
UNCHECKED = {"head", "title", "option", "textarea", "script", "style", "template"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    parent: Element | None
    children: list[Element | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def ancestors(self) -> list[Element]:
        out, node = [], self
        while node is not None:
            out.append(node)
            node = node.parent
        return out


class Tree(HTMLParser):
    """The page as a tree of elements; end tags close up to the element they name."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.open = self.root
        self.texts: list[tuple[str, Element]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs), self.open)
        self.open.children.append(element)
        if tag not in VOID:
            self.open = element

    def handle_endtag(self, tag: str) -> None:
        for element in self.open.ancestors():
            if element.tag == tag and element.parent is not None:
                self.open = element.parent
                return

    def handle_data(self, data: str) -> None:
        self.open.children.append(data)
        self.texts.append((data, self.open))


def assert_isolated(page: str, text: str, where: str) -> int:
    """Every place ``text`` is in the page's laid-out text is inside a <bdi> that holds
    exactly it, or an element with a ``dir`` that holds only it. Returns how many."""
    tree = Tree(page)
    found = 0
    for data, parent in tree.texts:
        if text not in data or any(a.tag in UNCHECKED for a in parent.ancestors()):
            continue
        found += 1
        isolating = next((a for a in parent.ancestors() if a.tag == "bdi" or "dir" in a.attrs), None)
        assert isolating is not None, (
            f"{where}: {text!r} is shown without isolation, in <{parent.tag}> of <{parent.parent.tag if parent.parent else ''}>"
        )
        assert isolating.text().strip() == text, (
            f"{where}: the isolating <{isolating.tag}> holds {isolating.text()!r}, not just {text!r}"
        )
    assert found, f"{where}: {text!r} is not shown"
    return found


@pytest.fixture
async def pages(app: Litestar) -> AsyncIterator[Callable[[str | None], Awaitable[AsyncClient]]]:
    """Page clients with their own cookies, logged in as the email given (or anonymous)."""
    opened = []

    async def open_client(email: str | None = None) -> AsyncClient:
        cm = serve_in_process(app)
        c = await cm.__aenter__()
        opened.append(cm)
        c.headers["Accept-Language"] = "en"
        if email:
            await login(c, email)
        return c

    yield open_client
    for cm in reversed(opened):
        await cm.__aexit__(None, None, None)


async def test_right_to_left_names_are_isolated_on_public_and_staff_pages(
    client: AsyncClient, db: Database, pages: Callable[[str | None], Awaitable[AsyncClient]]
) -> None:
    staff = await admin(client, db)
    chief = await pages(await create_staff(db, role=Role.supervisor))
    public = await pages(None)

    # An agency with a Hebrew name and a Hebrew-named licence waits in the review queue.
    agency_h = await agency_user(client)
    agency = await create(client, agency_h, name=AGENCY)
    uploaded = await client.post(
        "/api/v1/agencies/mine/documents",
        files={"file": (FILENAME, PDF, "application/pdf")},
        data={"kind": "licence"},
        headers=agency_h,
    )
    assert uploaded.status_code == 201, uploaded.text
    queue = (await chief.get("/admin/agencies")).text
    assert_isolated(queue, AGENCY, "review queue")
    assert_isolated(queue, FILENAME, "review queue")
    review = await client.post(
        f"/api/v1/agencies/{agency['id']}/review", json={"decision": "approve"}, headers=staff
    )
    assert review.status_code == 200, review.text
    assert_isolated((await public.get("/agencies")).text, AGENCY, "directory")
    assert_isolated((await public.get(f"/agencies/{agency['id']}")).text, AGENCY, "agency profile")

    # An owner with an Arabic name, project and notice; the agency bids, the draw is made,
    # and a losing bidder objects in Arabic.
    owner = await owner_user(client, org=None)
    org = await client.post(
        "/api/v1/owners/org",
        json={"name": ORG, "credit_code": credit_code(), "region": "530100"},
        headers=owner,
    )
    assert org.status_code == 201, org.text
    project = await client.post(
        "/api/v1/owners/projects", json={"name": PROJECT, "code": project_code()}, headers=owner
    )
    assert project.status_code == 201, project.text
    bidders = [(agency_h, agency), await approved_agency(client, staff), await approved_agency(client, staff)]
    r = await open_round(
        client,
        staff,
        bidders=bidders,
        owner=owner,
        title=TITLE,
        description=DESCRIPTION,
        project_id=project.json()["id"],
        method="lottery",
        winners=1,
        min_candidates=3,
    )
    record = await close(client, r)
    assert record["status"] == "selected", record
    winner = record["winners"][0]
    loser_h = next(h for h, a in bidders if a["id"] != winner)
    objected = await client.post(
        f"/api/v1/notices/{r.notice_id}/objections",
        json={"reasons": OBJECTION, "agency_id": winner},
        headers=loser_h,
    )
    assert objected.status_code == 201, objected.text

    assert_isolated((await public.get("/notices")).text, TITLE, "notice list")
    detail = (await public.get(f"/notices/{r.notice_id}")).text
    for text in (TITLE, ORG, PROJECT, DESCRIPTION):
        assert_isolated(detail, text, "notice page")
    draw = (await public.get(f"/notices/{r.notice_id}/draw")).text
    for text in (TITLE, ORG, AGENCY, OBJECTION):
        assert_isolated(draw, text, "draw page")

    # The supervision console: search, the notice's timeline, the owner's and the agency's.
    found = (await chief.get("/supervision", params={"q": AGENCY})).text
    assert assert_isolated(found, AGENCY, "console search") >= 2  # the result and the query echoed
    timeline = (await chief.get(f"/supervision/notices/{r.notice_id}")).text
    for text in (TITLE, ORG, AGENCY, OBJECTION):
        assert_isolated(timeline, text, "console notice")
    owner_page = (await chief.get(f"/supervision/owners/{org.json()['id']}")).text
    assert assert_isolated(owner_page, ORG, "console owner") >= 2  # the heading and the log's registration
    assert_isolated(owner_page, TITLE, "console owner")
    agency_page = (await chief.get(f"/supervision/agencies/{agency['id']}")).text
    assert assert_isolated(agency_page, AGENCY, "console agency") >= 2  # the heading and the log's submission
    assert_isolated((await chief.get("/supervision/objections")).text, TITLE, "objections to decide")


def test_the_isolation_check_itself_tells_isolated_from_bare_text() -> None:
    """The checker above must fail on the markup that was there before."""
    assert_isolated(f'<p><a href="/x"><bdi>{AGENCY}</bdi></a> <code>AG-1</code></p>', AGENCY, "bdi")
    assert_isolated(f'<div class="description" dir="auto">{DESCRIPTION}</div>', DESCRIPTION, "dir")
    assert_isolated(
        f"<title>{AGENCY}</title><option>{AGENCY}</option><p><bdi>{AGENCY}</bdi></p>",
        AGENCY,
        "only the body text counts",
    )
    for bare in (
        f'<p><a href="/x">{AGENCY}</a> <code>AG-1</code></p>',
        f"<p><bdi>{AGENCY} · AG-1</bdi></p>",
        f"<title>{AGENCY}</title>",
    ):
        with pytest.raises(AssertionError):
            assert_isolated(bare, AGENCY, "bare")
