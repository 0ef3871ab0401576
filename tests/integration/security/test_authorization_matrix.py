"""The authorization matrix (issue 9, item 2): every route of the app × seven callers.

How it works
- The routes come from the app itself (``app.routes``): every path template and method,
  API and pages, the OpenAPI pages included. Left out: the static files, and the OPTIONS
  answers Litestar generates (no code of ours runs there; ``test_options_answers_run_no_handler``
  holds them to that).
- ``MATRIX`` below is the one table of expected outcomes: for each (method, path template)
  seven outcomes, in the order of ``ROLES``: anonymous, owner, other_owner, agency,
  other_agency, supervisor, admin. ``test_every_route_has_a_row`` fails for a route without
  a row and for a row whose route is gone. A route may have a tuple of rows when one object
  does not show everything (a draft and a published notice).
- "The owner" and "the agency" own every object the paths name (their notices, bids,
  contracts, milestones, ratings, documents, organisation, project); "other owner" and
  "other agency" have the same roles and no claim on them. ``authz_world.build_world`` makes
  these objects once, through the API, in the test's rolled-back transaction.

Outcomes
- ``A``: allowed: neither 401 nor 403 nor 404. A 409 or 422 after the guard and the
  ownership check counts as allowed: the request got past authorization and was refused for
  its state or input. Each route that changes what it touches (publish, cancel, close,
  decline, confirm, accept, void, suspend...) gets objects of its own, named by the row's
  ``use``, so the first allowed caller's request really succeeds and later ones may meet a
  409; bodies are valid, so a refusal for bad input cannot hide a missing ownership check.
- ``P``: allowed, but the row's ``private`` parts must not be in the answer (a list without
  another owner's draft, an agency without its phone number); an ``A`` cell of such a row
  must show them all, so the check can fail.
- ``401``, ``403``, ``404``: exactly that status (404 where the object is hidden from the
  caller: another owner's draft, another agency's bid, whose existence is sealed).
- ``L``: a page sends the logged-out caller to ``/login?next=...`` (303).
- Any 5xx fails its cell, whatever it expected.

Denied callers are asked before allowed ones, so that a successful request cannot turn a
later 403 into a 409. API calls carry Bearer tokens (CSRF-exempt); pages carry the session
cookie and, for unsafe methods, the CSRF cookie and the token a page gives that caller
(it is bound to the session), so what is tested is authorization, never CSRF. A row that
``renews`` ends the caller's sessions (log-out); the caller logs in again after it.

Adding a route: add its row to MATRIX (the test names the route that has none); if it takes
an object that changes, add one for it in ``authz_world`` under the name the row ``use``s.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient, Response
from litestar import Litestar
from litestar.routes import HTTPRoute
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from market.app import create_app
from market.core.db import Database
from market.security import passwords
from market.security.auth import SESSION_COOKIE
from market.security.csrf import CSRF_COOKIE, CSRF_HEADER
from tests.conftest import make_settings, serve_in_process
from tests.helpers import token_for
from tests.integration.agencies.test_api import PDF, agency_body
from tests.integration.security.authz_world import (
    PRIVATE_FILE,
    PRIVATE_NOTE,
    ROLES,
    World,
    build_world,
    contract_body,
    notice_body,
)

# -- the table ---------------------------------------------------------------------------------------


def contract_form(world: World) -> dict[str, str]:
    body = contract_body(world.ids["agency"])
    dates = {k: body[k] for k in ("signed_on", "start_on", "due_on")}
    return {
        "agency_id": body["agency_id"],
        "amount": "120000",
        **dates,
        "m1_title": "成果报告",
        "m1_due_on": body["due_on"],
    }


PUBLIC = "A A A A A A A"
LOGGED_IN = "401 A A A A A A"
LOGGED_IN_PAGE = "L A A A A A A"
OWNERS = "401 A A 403 403 403 403"  # any owner, acting on their own things
OWNERS_PAGE = "L A A 403 403 403 403"
THE_OWNER = "401 A 403 403 403 403 403"  # only the owner of the object named
THE_OWNER_PAGE = "L A 403 403 403 403 403"
AGENCIES = "401 403 403 A A 403 403"
AGENCIES_PAGE = "L 403 403 A A 403 403"
THE_AGENCY = "401 403 403 A 403 403 403"
THE_AGENCY_PAGE = "L 403 403 A 403 403 403"
STAFF = "401 403 403 403 403 A A"  # supervisors and administrators
STAFF_PAGE = "L 403 403 403 403 A A"
SUPERVISOR = "401 403 403 403 403 A 403"
SUPERVISOR_PAGE = "L 403 403 403 403 A 403"
ADMIN = "401 403 403 403 403 403 A"
PARTIES = "401 A 403 A 403 A A"  # the contract's owner and agency, and staff
PARTIES_TO_THE_NOTICE = "401 A 403 A 403 403 403"  # the notice's owner and its bidders
PARTIES_PAGE = "L A 403 A 403 A A"
DRAFT = "404 A 404 404 404 A A"  # a draft: its owner and staff see it, for the rest it does not exist
OWN_DRAFT = "401 A 404 403 403 403 403"  # acting on a draft: another owner cannot tell it from no notice
OWN_DRAFT_PAGE = "L A 404 403 403 403 403"

CONTACT_PHONE = agency_body()["contact_phone"]
REASON = {"reason": "依据有关规定作出的处理说明"}
RATING = {"quality": 5, "timeliness": 4, "attitude": 5, "fees": 4, "compliance": 5, "comment": "按期完成"}
UPLOAD = {"file": ("report.pdf", PDF, "application/pdf")}


@dataclass(frozen=True)
class Row:
    """Seven outcomes, and what the request needs: ``use`` names the world's objects
    (``notice:<use>``, ``contract:<use>``... where they exist, else the defaults)."""

    expect: str
    use: str = ""
    json: Any = None  # a body, or a function of the World giving one
    form: Any = None
    files: dict[str, Any] | None = None
    query: Any = field(default_factory=dict)  # a dict, or a function of the World giving one
    params: dict[str, Any] = field(default_factory=dict)
    # What only some callers may see: literal text, or "id:<world name>". Each "A" cell's
    # answer must contain all of it (so the check can fail), each "P" cell's none of it.
    private: tuple[str, ...] = ()
    # The request ends every session of the caller's account (a log-out): the caller logs
    # in again before the next row.
    renews: bool = False


def R(expect: str, use: str = "", **kw: Any) -> Row:
    return Row(expect, use, **kw)


# A route may have several rows (a tuple) when one object is not enough to show who may
# do what: a draft and a published notice, say.
MATRIX: dict[tuple[str, str], Row | tuple[Row, ...]] = {
    # -- site, accounts
    ("GET", "/"): R(PUBLIC),
    ("GET", "/lang/{code:str}"): R(PUBLIC),
    ("GET", "/favicon.ico"): R(PUBLIC),
    ("GET", "/healthz"): R(PUBLIC),
    ("GET", "/account"): R(LOGGED_IN_PAGE),
    ("GET", "/dashboard"): R(LOGGED_IN_PAGE),  # each role's own work (market/dashboards)
    ("GET", "/login"): R(PUBLIC),
    ("POST", "/login"): R(
        PUBLIC, form=lambda w: w.ids["login"]
    ),  # the owner's e-mail and password: 303 for anyone
    ("POST", "/logout"): R(PUBLIC, form={}, renews=True),
    ("POST", "/api/v1/auth/logout"): R(LOGGED_IN, renews=True),
    # A wrong current password: past the guard, refused for its input (nothing changes).
    ("GET", "/account/password"): R(LOGGED_IN_PAGE),
    ("POST", "/account/password"): R(
        LOGGED_IN, form={"current_password": "not the password", "new_password": "irrelevant passphrase"}
    ),
    ("POST", "/api/v1/me/password"): R(
        LOGGED_IN, json={"current_password": "not the password", "new_password": "irrelevant passphrase"}
    ),
    # A reset link's page is for whoever holds the link; an unknown token is refused (422).
    ("GET", "/password-reset"): R(PUBLIC, query=lambda w: {"token": w.ids["reset_token"]}),
    ("POST", "/password-reset"): R(
        PUBLIC, form={"token": "not-a-token", "new_password": "irrelevant passphrase"}
    ),
    ("POST", "/api/v1/auth/password-reset"): R(
        PUBLIC, json={"token": "not-a-token", "new_password": "irrelevant passphrase"}
    ),
    ("GET", "/admin/users/{user_id:str}"): R("L 403 403 403 403 403 A"),
    ("POST", "/admin/users/{user_id:str}/deactivate"): R(
        ADMIN, "deactivate_page", form={"reason": "本人申请停用账户"}
    ),
    ("POST", "/admin/users/{user_id:str}/reactivate"): R(
        ADMIN, "reactivate_page", form={"reason": "核实后恢复账户"}
    ),
    ("POST", "/admin/users/{user_id:str}/reset-link"): R(
        ADMIN, "reset_link_page", form={"reason": "本人来电，忘记密码"}
    ),
    ("POST", "/api/v1/users/{user_id:str}/deactivate"): R(
        ADMIN, "deactivate", json={"reason": "本人申请停用账户"}
    ),
    ("POST", "/api/v1/users/{user_id:str}/reactivate"): R(
        ADMIN, "reactivate", json={"reason": "核实后恢复账户"}
    ),
    ("POST", "/api/v1/users/{user_id:str}/reset-link"): R(
        ADMIN, "reset_link", json={"reason": "本人来电，忘记密码"}
    ),
    # Staff grants, moves and revocations (issue 21); the world's admin is province-level.
    ("GET", "/api/v1/staff"): R(STAFF),
    ("POST", "/api/v1/staff"): R(
        ADMIN,
        json={
            "email": "matrix.grant@km.gov.cn",
            "name": "新任监管",
            "role": "supervisor",
            "jurisdiction": "530102",
        },
    ),
    ("POST", "/api/v1/staff/{user_id:str}/move"): R(ADMIN, "move", json={"jurisdiction": "530103", **REASON}),
    ("POST", "/api/v1/staff/{user_id:str}/revoke"): R(ADMIN, "revoke", json=REASON),
    ("GET", "/admin/staff"): R(STAFF_PAGE),
    ("POST", "/admin/staff"): R(
        ADMIN,
        form={
            "email": "matrix.page@km.gov.cn",
            "name": "新任监管",
            "role": "supervisor",
            "jurisdiction": "530102",
        },
    ),
    ("POST", "/admin/staff/{user_id:str}/move"): R(
        ADMIN, "move_page", form={"jurisdiction": "530103", **REASON}
    ),
    ("POST", "/admin/staff/{user_id:str}/revoke"): R(ADMIN, "revoke_page", form=REASON),
    ("GET", "/register"): R(PUBLIC),
    ("POST", "/register"): R(PUBLIC, form={"email": "not-an-email"}),
    ("GET", "/admin/users"): R(STAFF_PAGE),
    ("GET", "/api/v1/me"): R(LOGGED_IN),
    ("POST", "/api/v1/auth/register"): R(PUBLIC, json={}),
    ("POST", "/api/v1/auth/token"): R(PUBLIC, json={}),
    # The owner is told of the objection to its notice, and so is the (province-level)
    # supervisor, whose hall watches the notice's county (issue 21: an alert); no one else.
    ("GET", "/api/v1/me/messages"): R("401 A P P P A P", private=("id:objection:objection",)),
    ("GET", "/messages"): R("L A P P P A P", private=("id:objection:objection",)),
    # -- the log
    ("GET", "/api/v1/log/checkpoint"): R(PUBLIC),
    ("GET", "/api/v1/log/proof/consistency"): R(PUBLIC, query={"first": 1, "second": 2}),
    ("GET", "/api/v1/log/proof/inclusion"): R(PUBLIC, query={"index": 0, "size": 2}),
    ("GET", "/api/v1/log/cosignatures"): R(PUBLIC),
    ("POST", "/api/v1/log/cosignatures"): R(PUBLIC, json={}),
    ("GET", "/api/v1/log/cosigners"): R(PUBLIC),
    ("POST", "/api/v1/log/cosigners"): R(SUPERVISOR, json={}),
    ("GET", "/api/v1/log/entries"): R(PUBLIC, query={"start": 0, "end": 2}),
    ("GET", "/api/v1/log/key"): R(PUBLIC),
    ("GET", "/api/v1/log/receipt-key"): R(PUBLIC),
    ("GET", "/log"): R(PUBLIC),
    ("GET", "/log/entries/{seq:int}"): R(PUBLIC),
    ("GET", "/log/witness"): R(PUBLIC),
    ("POST", "/log/witness"): R("401 403 403 403 403 A 403", form={}),
    ("GET", "/log/verify"): R(PUBLIC),
    # -- reference data, agencies
    ("GET", "/api/v1/categories"): R(PUBLIC),
    ("GET", "/api/v1/regions"): R(PUBLIC),
    ("GET", "/api/v1/agencies"): R("P P P P P P P", private=("id:agency:pending",)),
    ("POST", "/api/v1/agencies"): R(AGENCIES, json=agency_body()),
    ("GET", "/api/v1/agencies/mine"): R("401 403 403 A P 403 403", private=("id:agency",)),
    ("GET", "/api/v1/agencies/{agency_id:str}"): (
        R("P P P A P A A", private=(CONTACT_PHONE,)),
        R("404 404 404 404 404 A A", "pending"),  # not yet approved: its own account and staff only
    ),
    ("GET", "/api/v1/agencies/{agency_id:str}/documents/{document_id:int}"): (
        R("401 403 403 A 403 A A"),
        R(
            "401 403 403 403 404 404 404", params={"agency_id": "id:other_agency"}
        ),  # the first agency's document under the other's id
    ),
    ("POST", "/api/v1/agencies/mine/documents"): R(AGENCIES, files=UPLOAD, form={"kind": "licence"}),
    ("POST", "/api/v1/agencies/mine/qualifications"): R(
        AGENCIES,
        json={"category": "EIA", "level": None, "certificate_no": "HP-2026-009", "valid_until": "2030-01-01"},
    ),
    ("POST", "/api/v1/agencies/{agency_id:str}/review"): R(ADMIN, "review", json={"decision": "approve"}),
    ("POST", "/api/v1/agencies/{agency_id:str}/qualifications/{qualification_id:int}/review"): R(
        ADMIN, "qualification", json={"decision": "approve"}
    ),
    ("POST", "/api/v1/agencies/{agency_id:str}/suspend"): R(STAFF, "suspend", json=REASON),
    ("POST", "/api/v1/agencies/{agency_id:str}/links"): R(
        ADMIN, "link", json=lambda w: {"org_id": w.ids["other_org"], **REASON}
    ),
    ("POST", "/api/v1/agencies/{agency_id:str}/reinstate"): R(ADMIN, "reinstate", json=REASON),
    ("POST", "/api/v1/agencies/{agency_id:str}/blacklist"): R(ADMIN, "blacklist", json=REASON),
    ("POST", "/api/v1/agencies/{agency_id:str}/lift-blacklist"): R(ADMIN, "lift_blacklist", json=REASON),
    ("GET", "/api/v1/agencies/{agency_id:str}/ratings"): R(PUBLIC),
    ("GET", "/api/v1/agencies/{agency_id:str}/credit"): R(PUBLIC),
    ("GET", "/agencies"): R("P P P P P P P", private=("id:agency:pending",)),
    ("GET", "/agencies/{agency_id:str}"): (
        R("P P P A P A A", private=(CONTACT_PHONE,)),
        R("404 404 404 404 404 A A", "pending"),
    ),
    ("GET", "/agency"): R("L 403 403 A P 403 403", private=("id:agency",)),
    ("GET", "/agency/check-credit-code"): R(AGENCIES_PAGE, query={"credit_code": "91530100MA00000001"}),
    ("GET", "/agency/levels"): R(AGENCIES_PAGE, query={"category": "EIA"}),
    ("POST", "/agency/register"): R(AGENCIES, form={}),
    ("POST", "/agency/resubmit"): R(AGENCIES, form={}),
    ("POST", "/agency/documents"): R(AGENCIES, files=UPLOAD, form={"kind": "licence"}),
    ("POST", "/agency/qualifications"): R(AGENCIES, form={}),
    ("GET", "/admin/agencies"): R(STAFF_PAGE),
    ("POST", "/admin/agencies/{agency_id:str}/review"): R(ADMIN, "review_page", form={"decision": "approve"}),
    ("POST", "/admin/agencies/{agency_id:str}/qualifications/{qualification_id:int}/review"): R(
        ADMIN, "qualification_page", form={"decision": "approve"}
    ),
    ("POST", "/admin/agencies/{agency_id:str}/status"): R(
        ADMIN, "status_page", form={"action": "suspend", **REASON}
    ),
    ("POST", "/admin/agencies/{agency_id:str}/link"): R(
        ADMIN, "link_page", form=lambda w: {"org_id": w.ids["other_org"], **REASON}
    ),
    # -- owners and notices (API)
    ("GET", "/api/v1/owners/org"): R("401 A P 403 403 403 403", private=("id:org",)),
    ("POST", "/api/v1/owners/org"): R(
        OWNERS, json={"name": "某某单位", "credit_code": "x", "region": "530100"}
    ),
    ("GET", "/api/v1/owners/projects"): R("401 A P 403 403 403 403", private=("id:project",)),
    ("POST", "/api/v1/owners/projects"): R(OWNERS, json={"name": "某某项目", "code": "x"}),
    ("GET", "/api/v1/notices"): R("P P P P P P P", private=("id:notice:draft",)),
    ("POST", "/api/v1/notices"): R(OWNERS, json=notice_body()),
    ("GET", "/api/v1/notices/mine"): R("401 A P 403 403 403 403", private=("id:notice:draft",)),
    ("GET", "/api/v1/notices/{notice_id:str}"): (
        R(DRAFT, "draft"),
        R("P P P P P P P", private=("id:bid:open",)),
    ),  # never any bid
    ("PUT", "/api/v1/notices/{notice_id:str}"): R(OWN_DRAFT, "draft", json=notice_body()),
    ("DELETE", "/api/v1/notices/{notice_id:str}"): R(OWN_DRAFT, "delete"),
    ("POST", "/api/v1/notices/{notice_id:str}/publish"): R(OWN_DRAFT, "publish"),
    ("GET", "/api/v1/notices/{notice_id:str}/terms"): (
        R(PUBLIC),
        R("404 404 404 404 404 404 404", "draft"),
    ),  # a draft has no terms yet
    ("POST", "/api/v1/notices/{notice_id:str}/amend"): R(
        THE_OWNER, json={"description": "补充说明：须提交电子版成果", "reason": "补充成果形式要求"}
    ),
    ("POST", "/api/v1/notices/{notice_id:str}/cancel"): R(THE_OWNER, "cancel", json=REASON),
    ("POST", "/api/v1/notices/{notice_id:str}/cancellation"): R(
        SUPERVISOR, "cancellation", json={"consent": False, **REASON}
    ),
    ("POST", "/api/v1/notices/{notice_id:str}/bids"): (
        R(AGENCIES, json={}),
        R("401 403 403 404 404 403 403", "draft", json={}),
    ),
    ("GET", "/api/v1/notices/{notice_id:str}/bids/mine"): R(
        "401 403 403 A P 403 403", private=("id:bid:open",)
    ),
    ("DELETE", "/api/v1/notices/{notice_id:str}/bids/{bid_id:str}"): R(
        "401 403 403 A 404 403 403", "withdraw"
    ),
    ("GET", "/api/v1/notices/{notice_id:str}/bids/{bid_id:str}/receipt"): R("401 403 403 A 404 403 403"),
    # -- selection (API)
    ("POST", "/api/v1/notices/{notice_id:str}/close"): R("401 A 403 403 403 403 A", "close"),
    ("GET", "/api/v1/notices/{notice_id:str}/selection"): (R(PUBLIC, "selected"), R(DRAFT, "draft")),
    ("POST", "/api/v1/notices/{notice_id:str}/decline"): R(THE_AGENCY, "decline", json=REASON),
    ("GET", "/api/v1/notices/{notice_id:str}/objections"): (R(PUBLIC, "selected"), R(DRAFT, "draft")),
    # Only the notice's owner and its bidders (here the agency, which holds the award and
    # so may object to no one: 422) have standing (issue 19).
    ("POST", "/api/v1/notices/{notice_id:str}/objections"): R(
        PARTIES_TO_THE_NOTICE, "selected", json={"reasons": "中选机构的业绩材料存在疑点，请予核查"}
    ),
    ("POST", "/api/v1/notices/{notice_id:str}/objections/{objection_id:str}/answer"): R(
        THE_OWNER, "answer", json={"answer": "经核查，资质证书在有效期内"}
    ),
    ("POST", "/api/v1/notices/{notice_id:str}/objections/{objection_id:str}/decision"): R(
        SUPERVISOR, "decision", json={"decision": "rejected", **REASON}
    ),
    # -- owners and notices (pages)
    ("GET", "/owner"): R("L A P 403 403 403 403", private=("id:notice:draft",)),
    ("POST", "/owner/org"): R(OWNERS, form={}),
    ("POST", "/owner/projects"): R(OWNERS, form={}),
    ("GET", "/owner/notices/new"): R(OWNERS_PAGE),
    ("POST", "/owner/notices"): R(OWNERS, form={}),
    ("POST", "/owner/notices/validate"): R(OWNERS, form={}),
    ("GET", "/owner/notices/levels"): R(OWNERS_PAGE, query={"category": "EIA"}),
    ("GET", "/owner/notices/{notice_id:str}/edit"): R(OWN_DRAFT_PAGE, "draft"),
    ("POST", "/owner/notices/{notice_id:str}/edit"): R(OWN_DRAFT, "draft", form={}),
    ("POST", "/owner/notices/{notice_id:str}/delete"): R(OWN_DRAFT, "delete_page", form={}),
    # Re-issuing a failed notice (issue 22); the open notice here makes the owner's a 409.
    ("POST", "/owner/notices/{notice_id:str}/reissue"): R(THE_OWNER, form={}),
    ("GET", "/owner/notices/{notice_id:str}/publish"): R(OWN_DRAFT_PAGE, "publish_page"),
    ("POST", "/owner/notices/{notice_id:str}/publish"): R(OWN_DRAFT, "publish_page", form={}),
    ("GET", "/owner/notices/{notice_id:str}/amend"): R(THE_OWNER_PAGE),
    ("POST", "/owner/notices/{notice_id:str}/amend"): R(
        THE_OWNER, form={"description": "补充说明：须提交纸质版成果", "reason": "补充成果形式要求"}
    ),
    ("GET", "/owner/notices/{notice_id:str}/cancel"): R(THE_OWNER_PAGE, "cancel_page"),
    ("POST", "/owner/notices/{notice_id:str}/cancel"): R(THE_OWNER, "cancel_page", form=REASON),
    ("GET", "/supervision/notices/{notice_id:str}/cancellation"): R(SUPERVISOR_PAGE, "cancellation_page"),
    ("POST", "/supervision/notices/{notice_id:str}/cancellation"): R(
        SUPERVISOR, "cancellation_page", form={"decision": "refuse", **REASON}
    ),
    ("GET", "/notices"): R("P P P P P P P", private=("id:notice:draft",)),
    ("GET", "/notices/{notice_id:str}"): (
        R(DRAFT, "draft"),
        R("P P P A P P P", private=("id:bid:open",)),
    ),  # the bidder sees its receipt
    ("POST", "/notices/{notice_id:str}/bids"): R(AGENCIES, form={}),
    ("POST", "/notices/{notice_id:str}/bids/{bid_id:str}/withdraw"): R(
        "401 403 403 A 404 403 403", "withdraw_page", form={}
    ),
    ("GET", "/notices/{notice_id:str}/bids/{bid_id:str}/receipt.json"): R("L 403 403 A 404 403 403"),
    ("GET", "/agency/bids"): R("L 403 403 A P 403 403", private=("id:bid:open",)),
    ("GET", "/agency/notices"): R(AGENCIES_PAGE),
    # -- selection (pages)
    ("GET", "/notices/{notice_id:str}/draw"): (
        R(PUBLIC, "selected"),
        R("404 404 404 404 404 404 404", "draft"),
    ),  # a draft has no draw, not even for its owner
    ("GET", "/notices/{notice_id:str}/draw/events"): (
        R(PUBLIC, "selected"),
        R("404 404 404 404 404 404 404", "draft"),
    ),
    ("POST", "/notices/{notice_id:str}/close"): R("401 A 403 403 403 403 A", "close_page", form={}),
    ("POST", "/notices/{notice_id:str}/decline"): R(THE_AGENCY, "decline_page", form=REASON),
    ("POST", "/notices/{notice_id:str}/objections"): R(
        PARTIES_TO_THE_NOTICE, "selected", form={"reasons": "中选机构的业绩材料存在疑点，请予核查"}
    ),
    ("POST", "/notices/{notice_id:str}/objections/{objection_id:str}/answer"): R(
        THE_OWNER, "answer_page", form={"answer": "经核查，资质证书在有效期内"}
    ),
    ("POST", "/notices/{notice_id:str}/objections/{objection_id:str}/decision"): R(
        SUPERVISOR, "decision_page", form={"decision": "rejected", **REASON}
    ),
    ("GET", "/supervision/objections"): R(SUPERVISOR_PAGE),
    # -- contracts
    ("GET", "/api/v1/contracts"): R("P A P A P A A", private=(PRIVATE_NOTE, PRIVATE_FILE)),
    ("GET", "/api/v1/contracts/{contract_id:str}"): R("P A P A P A A", private=(PRIVATE_NOTE, PRIVATE_FILE)),
    ("POST", "/api/v1/notices/{notice_id:str}/contracts"): R(
        THE_OWNER, "record", json=lambda w: contract_body(w.ids["agency"])
    ),
    ("POST", "/api/v1/contracts/{contract_id:str}/confirm"): R(THE_AGENCY, "confirm"),
    ("POST", "/api/v1/contracts/{contract_id:str}/decline"): R(THE_AGENCY, "contract_decline", json=REASON),
    ("POST", "/api/v1/contracts/{contract_id:str}/dispute/decision"): R(
        SUPERVISOR, "dispute", json={"decision": "terms_wrong", **REASON}
    ),
    ("POST", "/api/v1/contracts/{contract_id:str}/milestones/{position:int}/submit"): R(
        THE_AGENCY, "service", files=UPLOAD, form={"note": "终稿已完成"}, params={"position": 2}
    ),
    ("GET", "/api/v1/contracts/{contract_id:str}/milestones/{position:int}/deliverable"): R(
        PARTIES, "service"
    ),
    ("POST", "/api/v1/contracts/{contract_id:str}/milestones/{position:int}/accept"): R(THE_OWNER, "accept"),
    ("POST", "/api/v1/contracts/{contract_id:str}/milestones/{position:int}/return"): R(
        THE_OWNER, "return", json=REASON
    ),
    ("POST", "/api/v1/contracts/{contract_id:str}/stop"): R(THE_OWNER, "stop", json=REASON),
    ("GET", "/contracts/{contract_id:str}"): R("P A P A P A A", private=(PRIVATE_NOTE, PRIVATE_FILE)),
    ("GET", "/notices/{notice_id:str}/contract"): R("L A 404 403 403 403 403", "record_page"),
    ("POST", "/notices/{notice_id:str}/contract"): R(THE_OWNER, "record_page", form=contract_form),
    ("POST", "/contracts/{contract_id:str}/confirm"): R(THE_AGENCY, "confirm_page", form={}),
    ("POST", "/contracts/{contract_id:str}/decline"): R(THE_AGENCY, "contract_decline_page", form=REASON),
    ("POST", "/contracts/{contract_id:str}/milestones/{position:int}/submit"): R(
        THE_AGENCY, "service", files=UPLOAD, form={"note": "终稿已完成"}, params={"position": 2}
    ),
    ("GET", "/contracts/{contract_id:str}/milestones/{position:int}/deliverable"): R(PARTIES_PAGE, "service"),
    ("POST", "/contracts/{contract_id:str}/milestones/{position:int}/accept"): R(
        THE_OWNER, "accept_page", form={}
    ),
    ("POST", "/contracts/{contract_id:str}/milestones/{position:int}/return"): R(
        THE_OWNER, "return_page", form=REASON
    ),
    ("POST", "/contracts/{contract_id:str}/stop"): R(THE_OWNER, "stop_page", form=REASON),
    ("GET", "/supervision/contracts"): R(STAFF_PAGE),
    ("POST", "/supervision/contracts/{contract_id:str}/dispute"): R(
        SUPERVISOR, "dispute_page", form={"decision": "terms_wrong", **REASON}
    ),
    # -- ratings and credit
    ("POST", "/api/v1/contracts/{contract_id:str}/rating"): R(THE_OWNER, "rate", json=RATING),
    ("POST", "/api/v1/ratings/{rating_id:str}/reply"): R(
        THE_AGENCY, "rated_reply", json={"reply": "感谢评价"}
    ),
    ("POST", "/api/v1/ratings/{rating_id:str}/void"): R(SUPERVISOR, "rated_void", json=REASON),
    ("GET", "/credit"): R(PUBLIC),
    ("GET", "/contracts/{contract_id:str}/rating"): R(THE_OWNER_PAGE, "rate_page"),
    ("POST", "/contracts/{contract_id:str}/rating"): R(
        THE_OWNER, "rate_page", form={k: str(v) for k, v in RATING.items()}
    ),
    ("GET", "/ratings/{rating_id:str}/reply"): R(THE_AGENCY_PAGE, "rated_reply"),
    ("POST", "/ratings/{rating_id:str}/reply"): R(THE_AGENCY, "rated_reply", form={"reply": "感谢评价"}),
    ("GET", "/ratings/{rating_id:str}/void"): R(SUPERVISOR_PAGE, "rated_void"),
    ("POST", "/ratings/{rating_id:str}/void"): R(SUPERVISOR, "rated_void", form=REASON),
    # -- statistics, open data
    ("GET", "/api/v1/stats"): R(PUBLIC),
    ("GET", "/stats"): R(PUBLIC),
    ("GET", "/stats/{filename:str}"): R(PUBLIC, params={"filename": "summary.csv"}),
    ("GET", "/api/v1/ocds/releases"): R("P P P P P P P", private=("id:notice:draft",)),
    ("GET", "/api/v1/ocds/records"): R("P P P P P P P", private=("id:notice:draft",)),
    ("GET", "/data/ocds/releases.json.gz"): R(PUBLIC),
    ("GET", "/ocds/extension.json"): R(PUBLIC),
    ("GET", "/ocds/release-schema.json"): R(PUBLIC),
    ("GET", "/data"): R(PUBLIC),
    ("GET", "/data/{filename:str}"): R(
        "P P P P P P P", params={"filename": "notices.csv"}, private=("id:notice:draft",)
    ),
    # -- halls (issue 21): public pages and API; the admins add parks and set contact lines
    ("GET", "/halls"): R(PUBLIC),
    ("GET", "/halls/{code:str}"): R(PUBLIC, params={"code": "530100"}),
    ("GET", "/api/v1/halls"): R(PUBLIC),
    ("GET", "/api/v1/halls/{code:str}"): R(PUBLIC, params={"code": "530100"}),
    ("GET", "/admin/halls"): R("L 403 403 403 403 403 A"),
    ("POST", "/admin/halls"): R(
        ADMIN, form={"parent": "530100", "code": "530100KA", "name_zh": "测试园区", "name_en": "Test Park"}
    ),
    ("POST", "/admin/halls/contact"): R(ADMIN, form={"hall": "530100", "phone": "0871-12345678"}),
    ("POST", "/api/v1/halls"): R(
        ADMIN, json={"parent": "530102", "code": "530102KB", "name_zh": "测试园区", "name_en": "Test Park"}
    ),
    ("PUT", "/api/v1/halls/{code:str}/contact"): R(
        ADMIN, params={"code": "530102"}, json={"phone": "0871-87654321"}
    ),
    # -- notifications (issue 22): each user's choices, agencies' subscriptions, the e-mail
    # queue for admins, the public Atom feed (drafts never in it)
    ("GET", "/account/notifications"): R(LOGGED_IN_PAGE),
    ("POST", "/account/notifications"): R(LOGGED_IN, form={"email": "won"}),
    ("GET", "/api/v1/me/notifications"): R(LOGGED_IN),
    ("PUT", "/api/v1/me/notifications"): R(LOGGED_IN, json={"email": {}}),
    ("GET", "/api/v1/me/subscriptions"): R(AGENCIES),
    ("PUT", "/api/v1/me/subscriptions"): R(AGENCIES, json={"categories": ["EIA"], "regions": ["530100"]}),
    ("GET", "/admin/mail"): R("L 403 403 403 403 403 A"),
    ("POST", "/admin/mail/retry"): R(ADMIN, form={}),
    ("GET", "/api/v1/admin/mail"): R(ADMIN),
    ("POST", "/api/v1/admin/mail/retry"): R(ADMIN),
    ("GET", "/feeds/notices.atom"): R("P P P P P P P", private=("id:notice:draft",)),
    # -- supervision
    ("GET", "/supervision"): R(STAFF_PAGE),
    ("GET", "/supervision/flags"): R(STAFF_PAGE),
    ("GET", "/supervision/live"): R(STAFF),  # an events stream: 401, never a redirect
    ("GET", "/supervision/board"): R(STAFF_PAGE),
    ("GET", "/supervision/board/events"): R(STAFF),
    ("GET", "/supervision/flags/{kind:str}"): R(STAFF_PAGE, params={"kind": "win_share"}),
    ("GET", "/api/v1/supervision/flags"): R(STAFF),
    ("GET", "/supervision/agencies/{agency_id:str}"): R(STAFF_PAGE),
    ("GET", "/supervision/notices/{notice_id:str}"): R(STAFF_PAGE),
    ("GET", "/supervision/owners/{org_id:str}"): R(STAFF_PAGE),
    # The organisation's hall is already 530100: past the guard and the reach, a 409.
    ("POST", "/supervision/owners/{org_id:str}/hall"): R(ADMIN, form={"hall": "530100", **REASON}),
    ("POST", "/api/v1/owners/{org_id:str}/hall"): R(ADMIN, json={"hall": "530100", **REASON}),
    ("POST", "/supervision/agencies/{agency_id:str}/suspend"): R(STAFF, "suspend_page", form=REASON),
    ("POST", "/supervision/agencies/{agency_id:str}/ratings/{rating_id:str}/void"): R(
        SUPERVISOR, "rated_void", form=REASON
    ),
    ("POST", "/supervision/notices/{notice_id:str}/objections/{objection_id:str}/decision"): R(
        SUPERVISOR, "decision_supervision", form={"decision": "rejected", **REASON}
    ),
    # -- the OpenAPI schema and its pages
    ("GET", "/schema"): R(PUBLIC),
    ("GET", "/schema/openapi.json"): R(PUBLIC),
    ("GET", "/schema/oauth2-redirect.html"): R(PUBLIC),
    ("GET", "/schema/{path:str}"): R(
        "404 404 404 404 404 404 404", params={"path": "redoc"}
    ),  # only Swagger UI is served
}

# Path parameters that no row's ``use`` names: the first owner's and first agency's things.
DEFAULTS = {
    "notice_id": "notice:open",
    "bid_id": "bid:open",
    "contract_id": "contract:service",
    "rating_id": "rating:rated_reply",
    "objection_id": "objection:objection",
    "agency_id": "agency",
    "qualification_id": "qualification:qualification",
    "document_id": "document",
    "org_id": "org",
    "user_id": "user",
}
FIXED = {"position": 1, "seq": 1, "code": "en"}


# -- the routes ----------------------------------------------------------------------------------------


def is_excluded(path: str, handler_name: str, method: str) -> bool:
    return path.startswith("/static/") or (method == "OPTIONS" and handler_name == "options_handler")


def route_table(app: Litestar) -> set[tuple[str, str]]:
    table = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if not is_excluded(route.path, handler.handler_name, method):
                    table.add((method, route.path))
    return table


def test_every_route_has_a_row(tmp_path: Path) -> None:
    app = create_app(make_settings("postgresql+asyncpg://unused@127.0.0.1/unused", tmp_path))
    routes = route_table(app)
    missing = sorted(routes - MATRIX.keys())
    gone = sorted(MATRIX.keys() - routes)
    assert not missing, (
        "routes without a row in MATRIX (add one, with the outcome for each of the seven callers): "
        + ", ".join(f"{m} {p}" for m, p in missing)
    )
    assert not gone, "rows in MATRIX for routes that no longer exist: " + ", ".join(
        f"{m} {p}" for m, p in gone
    )


def rows_of(value: Row | tuple[Row, ...]) -> tuple[Row, ...]:
    return value if isinstance(value, tuple) else (value,)


def test_every_row_names_seven_known_outcomes() -> None:
    for key, value in MATRIX.items():
        for row in rows_of(value):
            outcomes = row.expect.split()
            assert len(outcomes) == len(ROLES), (key, row.expect)
            assert set(outcomes) <= {"A", "P", "L", "401", "403", "404"}, (key, row.expect)
            assert ("P" in outcomes) == bool(row.private), (
                f"{key}: a row with private parts has P cells, and only such a row"
            )
            if key[0] != "GET":
                assert "L" not in outcomes, f"{key}: only GET pages redirect to the log-in page"


async def test_options_answers_run_no_handler(client: AsyncClient) -> None:
    """The OPTIONS answers Litestar makes for every path have no rows: they run no code of
    ours. This holds them to that: for an anonymous caller, an empty 204 naming the methods,
    or the refusal of a guard set on a whole controller; never content, never a 5xx."""
    for template in sorted({path for _, path in MATRIX}):
        path = re.sub(r"\{(\w+):\w+\}", "1", template)
        response = await client.options(path)
        if response.status_code == 204:
            assert not response.content and response.headers.get("allow"), template
        else:
            assert response.status_code in (401, 403), (template, response.status_code, response.text[:200])


# -- asking ------------------------------------------------------------------------------------------


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/healthz", "/schema"))


def concrete(path: str, row: Row, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in row.params:
            given = str(row.params[name])
            return str(world.ids[given.removeprefix("id:")]) if given.startswith("id:") else given
        if name in FIXED:
            return str(FIXED[name])
        default = DEFAULTS[name]
        kind = default.split(":")[0]
        if row.use and f"{kind}:{row.use}" in world.ids:
            return str(world.ids[f"{kind}:{row.use}"])
        return str(world.ids[default])

    return re.sub(r"\{(\w+):\w+\}", value, path)


_page_tokens: dict[tuple[str, str | None], str] = {}


async def page_token(client: AsyncClient, csrf: str, session: str | None) -> str:
    """The CSRF token a page gives this caller: it is bound to the caller's session (or,
    logged out, to the CSRF cookie), so each caller needs its own."""
    if (csrf, session) not in _page_tokens:
        cookies = f"{CSRF_COOKIE}={csrf}" + (f"; {SESSION_COOKIE}={session}" if session else "")
        client.cookies.clear()
        page = await client.get("/login", headers={"Cookie": cookies})
        client.cookies.clear()
        _page_tokens[(csrf, session)] = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return _page_tokens[(csrf, session)]


async def ask(
    client: AsyncClient,
    app: Litestar,
    world: World,
    csrf: str,
    method: str,
    template: str,
    row: Row,
    role: str,
) -> Response | int:
    path = concrete(template, row, world)
    token = world.tokens[role]
    headers: dict[str, str] = {}
    cookies = [f"{CSRF_COOKIE}={csrf}"]
    if _is_api(path):
        if token:
            headers["Authorization"] = f"Bearer {token}"
    else:
        headers["Accept"] = "text/html"
        if token:
            cookies.append(f"{SESSION_COOKIE}={token}")
    if method not in ("GET", "HEAD"):
        headers[CSRF_HEADER] = await page_token(client, csrf, token)
    headers["Cookie"] = "; ".join(cookies)
    kwargs: dict[str, Any] = {"params": row.query(world) if callable(row.query) else row.query}
    json, form = (b(world) if callable(b) else b for b in (row.json, row.form))
    if json is not None:
        kwargs["json"] = json
    if row.files is not None:
        kwargs["files"], kwargs["data"] = row.files, form or {}
    elif form is not None:
        kwargs["data"] = form
    if template.endswith(("/draw/events", "/supervision/live", "/supervision/board/events")):
        return await stream_status(app, path, headers)
    client.cookies.clear()
    response = await client.request(method, path, headers=headers, **kwargs)
    client.cookies.clear()
    return response


async def stream_status(app: Litestar, path: str, headers: dict[str, str]) -> int:
    """The status of a Server-Sent Events answer: the stream is cut once it has started."""
    started: dict[str, Any] = {}
    begun = asyncio.Event()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await begun.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
            begun.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver.local"),
            (b"accept", b"text/event-stream"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=10)  # type: ignore[arg-type]
    return int(started["status"])


def verdict(expected: str, answer: Response | int, private: list[str]) -> str | None:
    """None when the answer matches the expected outcome, else what was wrong."""
    status = answer if isinstance(answer, int) else answer.status_code
    if status >= 500:
        return f"{status} (a server error)"
    if expected in ("A", "P"):
        if status in (401, 403, 404):
            return f"{status}, expected to be allowed"
        text = "" if isinstance(answer, int) else answer.text
        if expected == "A" and (absent := [p for p in private if p not in text]):
            return f"{status} without {absent}, which this caller may see"
        if expected == "P" and (shown := [p for p in private if p in text]):
            return f"{status} showing {shown}, which this caller may not see"
        return None
    if expected == "L":
        location = "" if isinstance(answer, int) else answer.headers.get("location", "")
        return (
            None
            if status == 303 and location.startswith("/login?next=")
            else f"{status} {location}, expected a redirect to the log-in page"
        )
    return None if status == int(expected) else f"{status}, expected {expected}"


def order(outcomes: list[str]) -> list[int]:
    """Denied callers first, then the allowed ones (their requests may change things)."""
    return sorted(range(len(outcomes)), key=lambda i: outcomes[i] == "A")


@pytest.fixture
async def matrix_app(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Litestar, AsyncClient]]:
    # The world has some twenty accounts and the matrix logs in seven times: argon2 at its
    # cheapest keeps that from dominating the run (hashing has tests of its own).
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    # Four declines by the first agency within the matrix must not suspend it mid-way.
    app = create_app(make_settings(database_url, tmp_path, declines_to_suspend=0), database=db)
    async with serve_in_process(app) as c:
        yield app, c


async def test_authorization_matrix(matrix_app: tuple[Litestar, AsyncClient], db: Database) -> None:
    app, client = matrix_app
    world = await build_world(client, db)
    csrf = (await client.get("/")).cookies[CSRF_COOKIE]
    client.cookies.clear()
    wrong: list[str] = []
    for (method, template), value in MATRIX.items():
        for row in rows_of(value):
            outcomes = row.expect.split()
            private = [
                str(world.ids[p.removeprefix("id:")]) if p.startswith("id:") else p for p in row.private
            ]
            for i in order(outcomes):
                answer = await ask(client, app, world, csrf, method, template, row, ROLES[i])
                if problem := verdict(outcomes[i], answer, private):
                    detail = "" if isinstance(answer, int) else " " + answer.text[:160].replace("\n", " ")
                    wrong.append(
                        f"{method} {template} as {ROLES[i]} ({concrete(template, row, world)}): {problem}{detail}"
                    )
                if row.renews and world.tokens[ROLES[i]]:
                    client.cookies.clear()
                    world.tokens[ROLES[i]] = await token_for(client, world.emails[ROLES[i]])
                    client.cookies.clear()
    assert not wrong, f"{len(wrong)} cells differ from MATRIX:\n" + "\n".join(wrong)
