"""The fixture world of the authorization matrix: seven callers and, for every kind of
object a route names, real objects belonging to the first owner and the first agency.

Everything is made through the public API, as the people concerned would make it, except
what only the clock would do: bid deadlines are a few seconds away (one wait, while the rest
is made), and publicity is ended by setting ``publicity_ends`` and calling
``selection.finalize``, as the demo data does.

Routes that change what they touch (publish, cancel, close, decline, confirm, accept, void,
suspend...) get objects of their own, named after the route (``"cancel"``, ``"cancel_page"``),
so that one row's successful request cannot change what another row sees.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient

from market.accounts.models import Role
from market.core.clock import today_in_china, utcnow
from market.core.db import Database
from market.notices.models import Notice
from market.selection import service as selection
from market.selection.models import Selection
from tests.helpers import ORG_REGION, PASSWORD, create_staff, register, token_for
from tests.integration.agencies.test_api import PDF, agency_body, credit_code
from tests.integration.notices.test_api import notice_body

ROLES = ("anonymous", "owner", "other_owner", "agency", "other_agency", "supervisor", "admin")
DUE_IN = 5.0  # seconds from drafting a due notice to its deadline: ample to publish it and bid, even on a loaded machine; the rest of the world is made meanwhile
JUSTIFICATION = "全省唯一具备该项甲级资质的机构，且须在汛期前完成评估"
PRIVATE_NOTE = "初稿已完成，请审阅：第三章数据待甲方确认"
PRIVATE_FILE = "draft-for-the-owner-only.pdf"
_serials = itertools.count(1)


@dataclass
class World:
    tokens: dict[str, str | None]  # role -> JWT (None for the anonymous caller)
    ids: dict[str, Any] = field(default_factory=dict)  # name -> public id (or number)
    emails: dict[str, str] = field(
        default_factory=dict
    )  # role -> e-mail, to log in again after a log-out row


def _day(offset: int) -> str:
    return (today_in_china() + timedelta(days=offset)).isoformat()


def contract_body(agency_id: str, milestones: int = 1) -> dict[str, Any]:
    return {
        "agency_id": agency_id,
        "amount_fen": 12_000_000,
        "signed_on": _day(0),
        "start_on": _day(1),
        "due_on": _day(60),
        "milestones": [
            {"title": f"成果报告第{i + 1}部分", "due_on": _day(30 + i)} for i in range(milestones)
        ],
    }


class _Builder:
    def __init__(self, client: AsyncClient, db: Database) -> None:
        self.c = client
        self.db = db
        self.emails: list[str] = []
        self.email_of: dict[str, str] = {}  # token -> e-mail

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, token: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.c.request(method, path, headers=self.auth(token), **kwargs)
        assert response.status_code == expect, (
            f"world set-up: {method} {path} -> {response.status_code} {response.text[:500]}"
        )
        return (
            response.json()
            if response.content and "json" in response.headers.get("content-type", "")
            else None
        )

    async def user(self, role: str, *, org: str | None = ORG_REGION) -> str:
        account = await register(self.c, role=role, org=org)
        self.emails.append(account["email"])
        token = await token_for(self.c, account["email"])
        self.email_of[token] = account["email"]
        return token

    async def staff(self, role: Role) -> str:
        email = await create_staff(self.db, role=role)
        token = await token_for(self.c, email)
        self.email_of[token] = email
        return token

    async def agency(
        self, admin: str, *, approve: bool = True, name: str = "云南绿源环境科技有限公司"
    ) -> tuple[str, str]:
        token = await self.user("agency")
        body = await self.call("POST", "/api/v1/agencies", token, 201, json=agency_body(name=name))
        if approve:
            await self.call(
                "POST", f"/api/v1/agencies/{body['id']}/review", admin, json={"decision": "approve"}
            )
        return token, body["id"]

    async def draft(self, owner: str, **overrides: Any) -> str:
        return str(
            (await self.call("POST", "/api/v1/notices", owner, 201, json=notice_body(**overrides)))["id"]
        )

    async def publish(self, owner: str, notice_id: str) -> datetime:
        published = await self.call("POST", f"/api/v1/notices/{notice_id}/publish", owner)
        return datetime.fromisoformat(published["bid_deadline"])

    async def bid(self, agency: str, notice_id: str) -> str:
        return str(
            (await self.call("POST", f"/api/v1/notices/{notice_id}/bids", agency, 201, json={}))["bid_id"]
        )

    async def finalize(self, notice_id: str) -> None:
        """Publicity over without objection: the award becomes final (as the scheduler does)."""
        async with self.db.transaction() as session:
            notice = (
                await session.execute(sa.select(Notice).where(Notice.public_id == notice_id))
            ).scalar_one()
            sel = await session.get(Selection, notice.id)
            assert sel is not None
            sel.publicity_ends = utcnow() - timedelta(seconds=1)
            await selection.finalize(session, notice)


# Due notices: each a direct selection of the first agency, which bids on it; what happens
# after the deadline is listed by name. "selected": closed, in publicity; "awarded": final,
# no contract; a contract name: final, with a contract taken to that state.
SELECTED = ("selected", "decline", "decline_page")
# In publicity, each with one objection of the owner's pending (a party has one at a time).
OBJECTED = ("objection", "answer", "answer_page", "decision", "decision_page", "decision_supervision")
AWARDED = ("record", "record_page")
CONTRACTS = {
    "confirm": "proposed",
    "confirm_page": "proposed",
    "contract_decline": "proposed",
    "contract_decline_page": "proposed",
    "service": "in_service",
    "accept": "submitted",
    "accept_page": "submitted",
    "return": "submitted",
    "return_page": "submitted",
    "stop": "in_service",
    "stop_page": "in_service",
    "rate": "completed",
    "rate_page": "completed",
    "rated_reply": "rated",
    "rated_void": "rated",
    "dispute": "disputed",
    "dispute_page": "disputed",
}
UNCLOSED = ("close", "close_page")


async def build_world(client: AsyncClient, db: Database) -> World:
    b = _Builder(client, db)
    admin = await b.staff(Role.admin)
    supervisor = await b.staff(Role.supervisor)
    # The owners register their organisations below (a notice is published in its hall).
    owner = await b.user("owner", org=None)
    login = {"email": b.emails[-1], "password": PASSWORD}
    other_owner = await b.user("owner", org=None)
    agency, agency_id = await b.agency(admin)
    other_agency, other_agency_id = await b.agency(admin, name="昆明博远工程咨询有限公司")
    world = World(
        tokens={
            "anonymous": None,
            "owner": owner,
            "other_owner": other_owner,
            "agency": agency,
            "other_agency": other_agency,
            "supervisor": supervisor,
            "admin": admin,
        }
    )
    world.emails = {role: b.email_of[token] for role, token in world.tokens.items() if token}
    ids = world.ids
    ids.update(agency=agency_id, other_agency=other_agency_id, login=login)
    # Accounts an administrator acts on (deactivate, reactivate, a reset link), and a reset
    # link's token for its page.
    for name in (
        "user",
        "deactivate",
        "deactivate_page",
        "reactivate",
        "reactivate_page",
        "reset_link",
        "reset_link_page",
    ):
        ids["user" if name == "user" else f"user:{name}"] = (await register(client))["id"]
    for name in ("reactivate", "reactivate_page"):
        await b.call(
            "POST",
            f"/api/v1/users/{ids[f'user:{name}']}/deactivate",
            admin,
            json={"reason": "本人申请停用账户"},
        )
    # Staff accounts an administrator moves or revokes (issue 21): county supervisors.
    for name in ("move", "move_page", "revoke", "revoke_page"):
        token = await token_for(client, await create_staff(db, role=Role.supervisor, jurisdiction="530102"))
        ids[f"user:{name}"] = (await b.call("GET", "/api/v1/me", token))["id"]
    reset = await b.call(
        "POST", f"/api/v1/users/{ids['user']}/reset-link", admin, 201, json={"reason": "本人来电，忘记密码"}
    )
    ids["reset_token"] = reset["token"]

    # Organisations of each owner, before anything is published.
    for token, key in ((owner, "org"), (other_owner, "other_org")):
        org = await b.call(
            "POST",
            "/api/v1/owners/org",
            token,
            201,
            json={
                "name": "昆明市生态环境局" if key == "org" else "曲靖市住房和城乡建设局",
                "credit_code": credit_code(),
                "region": "530100",
            },
        )
        ids[key] = org["id"]

    # The due notices first, each drafted, published and bid on within its own short
    # window; the rest of the world is made while the last windows run out.
    due: dict[str, str] = {}
    deadline = datetime.now(UTC)
    for name in (*SELECTED, *OBJECTED, *AWARDED, *CONTRACTS, *UNCLOSED):
        window = (datetime.now(UTC) + timedelta(seconds=DUE_IN)).isoformat()
        due[name] = await b.draft(
            owner,
            method="direct",
            winners=1,
            min_candidates=1,
            direct_agency_id=agency_id,
            direct_justification=JUSTIFICATION,
            bid_deadline=window,
        )
        deadline = await b.publish(owner, due[name])
        if name not in UNCLOSED:
            await b.bid(agency, due[name])
    ids.update({f"notice:{name}": notice_id for name, notice_id in due.items()})

    project = await b.call(
        "POST",
        "/api/v1/owners/projects",
        owner,
        201,
        json={
            "name": "滇池治理工程",
            "code": f"{today_in_china().year}-530102-48-01-{next(_serials) + 900000:06d}",
        },
    )
    ids["project"] = project["id"]

    # Drafts of the first owner: one to read and edit, one for each route that consumes one.
    for name in ("draft", "publish", "publish_page", "delete", "delete_page"):
        ids[f"notice:{name}"] = await b.draft(owner)
    # Open notices (deadline in hours): one to read, amend and bid on (the first agency has
    # bid), and one for each route that ends a notice or withdraws a bid.
    for name in (
        "open",
        "cancel",
        "cancel_page",
        "withdraw",
        "withdraw_page",
        "cancellation",
        "cancellation_page",
    ):
        notice_id = await b.draft(owner)
        await b.publish(owner, notice_id)
        ids[f"notice:{name}"] = notice_id
        ids[f"bid:{name}"] = await b.bid(agency, notice_id)
    # Cancellations the owner has asked for, for a supervisor to decide (issue 19).
    for name in ("cancellation", "cancellation_page"):
        await b.call(
            "POST",
            f"/api/v1/notices/{ids[f'notice:{name}']}/cancel",
            owner,
            202,
            json={"reason": "项目资金未落实"},
        )

    # The first agency's private papers: a document and a qualification waiting for review.
    doc = await b.call(
        "POST",
        "/api/v1/agencies/mine/documents",
        agency,
        201,
        files={"file": ("licence.pdf", PDF, "application/pdf")},
        data={"kind": "licence"},
    )
    ids["document"] = doc["id"]
    for name in ("qualification", "qualification_page"):
        qual = await b.call(
            "POST",
            "/api/v1/agencies/mine/qualifications",
            agency,
            201,
            json={
                "category": "GEOHAZARD",
                "level": "A",
                "certificate_no": f"DZ-A-{next(_serials):03d}",
                "valid_until": _day(400),
            },
        )
        ids[f"qualification:{name}"] = qual["id"]
    # Agencies that administrators and supervisors act on (never the first two).
    for name in ("review", "review_page", "pending"):
        _, ids[f"agency:{name}"] = await b.agency(admin, approve=False)
    for name in ("suspend", "suspend_page", "status_page", "blacklist", "link", "link_page"):
        _, ids[f"agency:{name}"] = await b.agency(admin)
    for name, action in (("reinstate", "suspend"), ("lift_blacklist", "blacklist")):
        _, ids[f"agency:{name}"] = await b.agency(admin)
        await b.call(
            "POST",
            f"/api/v1/agencies/{ids[f'agency:{name}']}/{action}",
            admin,
            json={"reason": "资质证书过期未及时更新"},
        )

    await asyncio.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.05)
    for name in (*SELECTED, *OBJECTED, *AWARDED, *CONTRACTS):
        await b.call("POST", f"/api/v1/notices/{due[name]}/close", owner)
    # Objections to the result in publicity, filed by the owner (a party with standing, one
    # pending per notice): one per route that answers or decides one.
    for name in OBJECTED:
        filed = await b.call(
            "POST",
            f"/api/v1/notices/{due[name]}/objections",
            owner,
            201,
            json={"reasons": "中选机构的资质证书已过期，不符合公告要求"},
        )
        ids[f"objection:{name}"] = filed["id"]
    for name in (*AWARDED, *CONTRACTS):
        await b.finalize(due[name])
    for name, state in CONTRACTS.items():
        contract = await b.call(
            "POST",
            f"/api/v1/notices/{due[name]}/contracts",
            owner,
            201,
            json=contract_body(agency_id, milestones=2 if name == "service" else 1),
        )
        contract_id = ids[f"contract:{name}"] = contract["id"]
        if state == "proposed":
            continue
        if state == "disputed":  # declined because the terms do not follow the award
            await b.call(
                "POST",
                f"/api/v1/contracts/{contract_id}/decline",
                agency,
                json={"reason": "合同条款与中选结果不符", "terms_mismatch": True},
            )
            continue
        await b.call("POST", f"/api/v1/contracts/{contract_id}/confirm", agency)
        if state == "in_service":
            if name == "service":
                # The note and the file name are for the parties and staff only (PRIVATE_NOTE).
                await b.call(
                    "POST",
                    f"/api/v1/contracts/{contract_id}/milestones/1/submit",
                    agency,
                    files={"file": (PRIVATE_FILE, PDF, "application/pdf")},
                    data={"note": PRIVATE_NOTE},
                )
            continue
        await b.call(
            "POST",
            f"/api/v1/contracts/{contract_id}/milestones/1/submit",
            agency,
            files={"file": ("report.pdf", PDF, "application/pdf")},
            data={"note": "成果已完成，请审阅"},
        )
        if state == "submitted":
            continue
        await b.call("POST", f"/api/v1/contracts/{contract_id}/milestones/1/accept", owner)
        if state == "rated":
            rating = await b.call(
                "POST",
                f"/api/v1/contracts/{contract_id}/rating",
                owner,
                201,
                json={
                    "quality": 5,
                    "timeliness": 4,
                    "attitude": 5,
                    "fees": 4,
                    "compliance": 5,
                    "comment": "按期完成，质量较好",
                },
            )
            ids[f"rating:{name}"] = rating["id"]
    return world
