"""The authorization matrix's jurisdiction dimension (issue 21): every staff action × a
target in the actor's own hall, below it, above it, beside it and in a park, through the
API and the pages alike.

The rule under test is the power map of docs/halls.md: a staff account's powers reach its
jurisdiction and everything below, nothing beside or above; agency actions go by the
agency's registered region; blacklisting is the province's alone. The expected outcome of
every cell is computed from ``market.halls.rules.covers`` on the actor's and the target's
codes, so the table below lists actions, not outcomes; the positions each actor meets are
listed in jurisdiction_world.py and asserted here, so the test cannot quietly stop asking
one of them.

Every denied cell is asked before any allowed one (an allowed request may change the
object); an allowed cell passes when the answer is neither 401, 403 nor 404 (a 409 after
an earlier allowed request decided the object is allowed), a denied cell when it is a 403.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient, Response
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from market.app import create_app
from market.core.db import Database
from market.halls import rules
from market.security import passwords
from market.security.auth import SESSION_COOKIE
from market.security.csrf import CSRF_COOKIE, CSRF_HEADER
from tests.conftest import make_settings, serve_in_process
from tests.integration.security.jurisdiction_world import (
    HALLS,
    KM,
    PKF,
    PL,
    PWH,
    QJ,
    REASON,
    REGION_HALLS,
    STAFF_AT,
    WH,
    HallWorld,
    P,
    build_hall_world,
)
from tests.integration.security.test_authorization_matrix import page_token

SUPERVISOR, ADMIN, STAFF = ("supervisor",), ("admin",), ("supervisor", "admin")


@dataclass(frozen=True)
class Action:
    name: str
    roles: tuple[str, ...]
    method: str
    path: str  # {object} placeholders are the world's ids of that object in the target hall
    json: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None  # or made for the target hall
    form: dict[str, Any] | None = None
    by_region: bool = False  # targets are the region halls (agencies; parks' parents)
    province_only: bool = False
    # Whether it is allowed, when that is not simply "the actor's jurisdiction covers the target".
    allowed: Callable[[str, str], bool] | None = None


DECIDE = {"decision": "rejected", **REASON}
_grants = itertools.count(1)
# An organisation's move to another hall of its region (to itself where its region has no other).
MOVE_TO = {WH: PWH, PWH: WH, KM: PKF, PKF: KM}


def grant(role: str) -> Callable[[str], dict[str, Any]]:
    def body(hall: str) -> dict[str, Any]:
        return {
            "email": f"granted{next(_grants)}@example.cn",
            "name": "新授权工作人员",
            "role": role,
            "jurisdiction": hall,
        }

    return body


def park(hall: str) -> dict[str, Any]:
    return {
        "parent": hall,
        "code": f"{hall}Z{next(_grants) % 10}",
        "name_zh": "测试园区",
        "name_en": "Test Park",
        "reason": "新设园区",
    }


def org_move(hall: str) -> dict[str, Any]:
    return {"hall": MOVE_TO.get(hall, hall), **REASON}


ACTIONS = (
    # -- notice-bound supervision
    Action(
        "objection",
        SUPERVISOR,
        "POST",
        "/api/v1/notices/{notice:objection}/objections/{objection}/decision",
        json=DECIDE,
    ),
    Action(
        "objection page",
        SUPERVISOR,
        "POST",
        "/notices/{notice:objection}/objections/{objection}/decision",
        form=DECIDE,
    ),
    Action(
        "objection console",
        SUPERVISOR,
        "POST",
        "/supervision/notices/{notice:objection}/objections/{objection}/decision",
        form=DECIDE,
    ),
    Action(
        "cancellation",
        SUPERVISOR,
        "POST",
        "/api/v1/notices/{cancellation}/cancellation",
        json={"consent": False, **REASON},
    ),
    Action("cancellation form", SUPERVISOR, "GET", "/supervision/notices/{cancellation}/cancellation"),
    Action(
        "cancellation page",
        SUPERVISOR,
        "POST",
        "/supervision/notices/{cancellation}/cancellation",
        form={"decision": "refuse", **REASON},
    ),
    Action(
        "dispute",
        SUPERVISOR,
        "POST",
        "/api/v1/contracts/{contract}/dispute/decision",
        json={"decision": "terms_wrong", **REASON},
    ),
    Action(
        "dispute page",
        SUPERVISOR,
        "POST",
        "/supervision/contracts/{contract}/dispute",
        form={"decision": "terms_wrong", **REASON},
    ),
    Action("void", SUPERVISOR, "POST", "/api/v1/ratings/{rating}/void", json=REASON),
    Action("void form", SUPERVISOR, "GET", "/ratings/{rating}/void"),
    Action("void page", SUPERVISOR, "POST", "/ratings/{rating}/void", form=REASON),
    Action("console notice", STAFF, "GET", "/supervision/notices/{close}"),
    Action("console organisation", STAFF, "GET", "/supervision/owners/{org}"),
    # -- administration
    Action("close", ADMIN, "POST", "/api/v1/notices/{close}/close", json={}),
    Action("close page", ADMIN, "POST", "/notices/{close}/close", form={}),
    Action("user", ADMIN, "GET", "/admin/users/{user}"),
    Action("deactivate", ADMIN, "POST", "/api/v1/users/{user}/deactivate", json=REASON),
    Action("deactivate page", ADMIN, "POST", "/admin/users/{user}/deactivate", form=REASON),
    # -- agencies, by their registered region
    Action(
        "review",
        ADMIN,
        "POST",
        "/api/v1/agencies/{agency:review}/review",
        json={"decision": "approve"},
        by_region=True,
    ),
    Action(
        "review page",
        ADMIN,
        "POST",
        "/admin/agencies/{agency:review}/review",
        form={"decision": "approve"},
        by_region=True,
    ),
    Action(
        "suspend", STAFF, "POST", "/api/v1/agencies/{agency:suspend}/suspend", json=REASON, by_region=True
    ),
    Action(
        "suspend page",
        STAFF,
        "POST",
        "/supervision/agencies/{agency:suspend}/suspend",
        form=REASON,
        by_region=True,
    ),
    Action(
        "blacklist",
        ADMIN,
        "POST",
        "/api/v1/agencies/{agency:blacklist}/blacklist",
        json=REASON,
        by_region=True,
        province_only=True,
    ),
    # -- the e-mail queue: every hall's addresses, the province's alone (issue 22)
    Action("mail queue", ADMIN, "GET", "/api/v1/admin/mail", province_only=True),
    Action("mail queue page", ADMIN, "GET", "/admin/mail", province_only=True),
    Action("mail retry", ADMIN, "POST", "/api/v1/admin/mail/retry", json={}, province_only=True),
    Action("mail retry page", ADMIN, "POST", "/admin/mail/retry", form={}, province_only=True),
    # -- the tree and its staff
    Action("grant supervisor", ADMIN, "POST", "/api/v1/staff", json=grant("supervisor")),
    Action("grant admin", ADMIN, "POST", "/api/v1/staff", json=grant("admin"), allowed=rules.strictly_above),
    Action("add park", ADMIN, "POST", "/api/v1/halls", json=park, by_region=True),
    Action(
        "move organisation",
        ADMIN,
        "POST",
        "/api/v1/owners/{org}/hall",
        json=org_move,
        allowed=lambda actor, hall: (
            rules.covers(actor, hall) and rules.covers(actor, MOVE_TO.get(hall, hall))
        ),
    ),
)


def expected_allowed(action: Action, actor_hall: str, target: str) -> bool:
    if action.province_only:
        return actor_hall == rules.PROVINCE
    if action.allowed is not None:
        return action.allowed(actor_hall, target)
    return rules.covers(actor_hall, target)


def test_every_actor_meets_a_target_in_each_position() -> None:
    """Own, below, above, beside and a park, for the county's staff and the prefecture's."""
    positions = {
        WH: {"own": WH, "below": PWH, "above": KM, "beside": PL, "park": PKF},
        KM: {"own": KM, "below": WH, "above": P, "beside": QJ, "park": PKF},
    }
    for actor, where in positions.items():
        assert set(where.values()) <= set(HALLS)
        assert rules.covers(actor, where["own"]) and rules.covers(actor, where["below"])
        assert not rules.covers(actor, where["above"]) and not rules.covers(actor, where["beside"])
    assert not rules.covers(WH, PKF) and rules.covers(KM, PKF)
    assert set(STAFF_AT) == {WH, KM, P}


def _path(action: Action, world: HallWorld, hall: str) -> str:
    return re.sub(r"\{([\w:]+)\}", lambda m: str(world.ids[(m.group(1), hall)]), action.path)


async def _ask(
    client: AsyncClient, csrf: str, token: str, action: Action, path: str, target: str
) -> Response:
    headers: dict[str, str] = {}
    cookies = [f"{CSRF_COOKIE}={csrf}"]
    if path.startswith("/api/"):
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers["Accept"] = "text/html"
        cookies.append(f"{SESSION_COOKIE}={token}")
    if action.method != "GET":
        headers[CSRF_HEADER] = await page_token(client, csrf, token)
    headers["Cookie"] = "; ".join(cookies)
    kwargs: dict[str, Any] = {}
    if action.json is not None:
        kwargs["json"] = action.json(target) if callable(action.json) else action.json
    if action.form is not None:
        kwargs["data"] = action.form
    client.cookies.clear()
    response = await client.request(action.method, path, headers=headers, **kwargs)
    client.cookies.clear()
    return response


@pytest.fixture
async def hall_app(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncClient]:
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    app = create_app(make_settings(database_url, tmp_path, declines_to_suspend=0), database=db)
    async with serve_in_process(app) as c:
        yield c


async def test_staff_powers_reach_down_the_tree_and_nowhere_else(hall_app: AsyncClient, db: Database) -> None:
    client = hall_app
    world = await build_hall_world(client, db)
    csrf = (await client.get("/")).cookies[CSRF_COOKIE]
    client.cookies.clear()
    cells = [
        (action, role, actor_hall, target)
        for action in ACTIONS
        for target in (REGION_HALLS if action.by_region else HALLS)
        for actor_hall in STAFF_AT
        for role in action.roles
    ]
    wrong: list[str] = []
    asked = {True: 0, False: 0}
    # Denied cells first: nothing an allowed request changes can turn a 403 into a 409.
    for allowed_pass in (False, True):
        for action, role, actor_hall, target in cells:
            allowed = expected_allowed(action, actor_hall, target)
            if allowed is not allowed_pass:
                continue
            asked[allowed] += 1
            path = _path(action, world, target)
            answer = await _ask(client, csrf, world.staff[(role, actor_hall)], action, path, target)
            status = answer.status_code
            ok = status < 500 and (status not in (401, 403, 404) if allowed else status == 403)
            if not ok:
                wrong.append(
                    f"{action.name}: {role}@{actor_hall} {action.method} {path} (target {target}) -> {status},"
                    f" expected {'allowed' if allowed else '403'}: {answer.text[:140]!r}"
                )
    assert asked[True] and asked[False]
    assert not wrong, f"{len(wrong)} cells wrong:\n" + "\n".join(wrong)
