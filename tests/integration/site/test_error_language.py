"""Issue 22, item 12: an error answer speaks the reader's language, title and detail.

A Chinese reader got "Not Found" on the 404 page and "The cursor is not valid" from the API:
Litestar's own words, and our messages the problem details never translated. Walked here:
the 404 page and problem, a bad cursor (API and page), a 405, a validation failure (422)
and a 401, each asked for in Chinese (Accept-Language, then the site's language switch),
looking for any English sentence in what a person reads."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from httpx import AsyncClient

from market.core.i18n import LANG_COOKIE

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
# Two English words in a row: a sentence or a title ("Not Found", "cursor is not valid").
# Ids, paths and codes are one word each (N-999999, /api/v1/notices, U+0000).
ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,;:]+[A-Za-z]{2,}")

ASKED = [
    ("GET", "/api/v1/no/such/thing", {}, 404),
    ("GET", "/api/v1/notices/N-999999", {}, 404),
    ("GET", "/api/v1/notices?cursor=bm90LWEtY3Vyc29y", {}, 422),
    ("GET", "/api/v1/notices?limit=1000", {}, 422),
    ("DELETE", "/api/v1/categories", {}, 405),
    ("POST", "/api/v1/auth/token", {"json": {"email": ["x"], "password": {"a": 1}}}, 422),
    ("POST", "/api/v1/auth/register", {"json": {"email": "x@example.cn"}}, 422),
    ("GET", "/api/v1/me", {}, 401),
    ("GET", "/no/such/page", {"headers": {"Accept": "text/html"}}, 404),
    ("GET", "/notices/N-999999", {"headers": {"Accept": "text/html"}}, 404),
    ("GET", "/agencies?cursor=bm90LWEtY3Vyc29y", {"headers": {"Accept": "text/html"}}, 422),
    ("PATCH", "/login", {"headers": {"Accept": "text/html"}}, 405),
]


class _Text(HTMLParser):
    """The text a person reads in the page's <main>."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "main":
            self.depth += 1
        if tag in ("code", "script", "style"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self.depth -= 1
        if tag in ("code", "script", "style"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip:
            self.parts.append(data)


def _read(response: Any) -> list[str]:
    if response.headers["content-type"].startswith("application/problem+json"):
        body = response.json()
        return [body["title"], body["detail"], *(e["message"] for e in body.get("errors", []))]
    parser = _Text()
    parser.feed(response.text)
    return [" ".join(" ".join(parser.parts).split())]


def _english(texts: list[str]) -> list[str]:
    return [t for t in texts if ENGLISH.search(t)]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"), ASKED, ids=[f"{m} {p}" for m, p, _, _ in ASKED]
)
async def test_error_answers_asked_for_in_chinese_have_no_english(
    client: AsyncClient, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    kwargs = json.loads(json.dumps(kwargs))
    kwargs["headers"] = {**kwargs.get("headers", {}), **ZH}
    response = await client.request(method, path, **kwargs)
    assert response.status_code == status, response.text[:300]
    texts = _read(response)
    assert _english(texts) == [], texts
    assert any(re.search(r"[\u4e00-\u9fff]", t) for t in texts), texts


async def test_the_language_switch_sets_the_problems_language_too(client: AsyncClient) -> None:
    client.cookies.set(LANG_COOKIE, "zh_Hans")
    try:
        problem = await client.get("/api/v1/notices?cursor=bm90LWEtY3Vyc29y")
    finally:
        client.cookies.delete(LANG_COOKIE)
    assert problem.status_code == 422 and problem.headers["content-language"] == "zh-Hans"
    assert _english(_read(problem)) == [], problem.json()


async def test_a_client_that_asks_no_language_keeps_english_problems(client: AsyncClient) -> None:
    missing = await client.get("/api/v1/no/such/thing")
    body = missing.json()
    assert body["title"] == "Not found" and body["detail"] == "There is nothing at this address."
    assert missing.headers["content-language"] == "en"
    english = await client.get("/api/v1/notices?cursor=bm90LWEtY3Vyc29y", headers={"Accept-Language": "en"})
    assert english.json()["detail"] == "The cursor is not valid"
