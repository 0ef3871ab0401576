"""The public audit-log pages: list and filters, htmx partials, cursor pages, one entry
with its verified inclusion proof, and how to verify."""

from __future__ import annotations

import base64
import html
import re
from typing import Any

from httpx import AsyncClient

from market import protocol
from market.core.db import Database
from market.core.pagination import encode_cursor
from market.log import store
from tests.helpers import register

HTMX = {"HX-Request": "true"}


async def _append(db: Database, type: str, **fields: Any) -> int:
    """An entry of a type that no page can create yet (notices come later)."""
    async with db.sessionmaker() as session:
        appended = await store.append(session, type=type, fields=fields)
        await session.commit()
    return appended.seq


def _seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'href="/log/entries/(\d+)"', page)]


async def test_log_page_lists_registrations_newest_first_with_the_signed_checkpoint(
    client: AsyncClient,
) -> None:
    users = [await register(client, role=role, org=None) for role in ("owner", "agency", "owner")]
    response = await client.get("/log")
    assert response.status_code == 200
    page = response.text
    assert "<title>审计日志" in page and '<a href="/log">审计日志</a>' in page  # title and main navigation
    assert _seqs(page) == [2, 1, 0]
    assert page.count("<code>account.created</code>") == 3
    key = (await client.get("/api/v1/log/key")).text.strip()
    note = html.unescape(
        re.search(r'<pre class="verbatim" id="checkpoint-note">(.*?)</pre>', page, re.S).group(1)
    )
    origin, size, root = protocol.open_checkpoint(note, key)
    assert (origin, size) == ("market.localhost/log", 3)
    assert root.hex() in page and base64.b64encode(root).decode() in page
    assert html.escape(key) in page or key in page
    for user in users:
        assert user["email"] not in page  # the log holds public ids, never e-mail addresses
    assert "@" not in re.sub(r"<footer.*", "", page.split('id="entries"')[1], flags=re.S)


async def test_empty_log_says_so(client: AsyncClient) -> None:
    page = (await client.get("/log")).text
    assert "日志中还没有条目" in page


async def test_filter_by_type_and_by_notice(client: AsyncClient, db: Database) -> None:
    await register(client, org=None)
    published = await _append(db, "notice.published", notice_id="N-000001", scheme="none")
    await _append(db, "notice.cancelled", notice_id="N-000002", reason="budget withdrawn")
    await register(client, org=None)

    page = (await client.get("/log")).text
    options = re.findall(r'<option value="([^"]*)"', page)
    assert options == ["", "account.created", "notice.cancelled", "notice.published"]  # DISTINCT, sorted

    filtered = await client.get("/log", params={"type": "notice.published"})
    assert _seqs(filtered.text) == [published]
    assert '<option value="notice.published" selected>' in filtered.text

    by_notice = await client.get("/log", params={"notice_id": " N-000002 "})
    assert _seqs(by_notice.text) == [published + 1]
    assert 'value="N-000002"' in by_notice.text

    none = await client.get("/log", params={"type": "account.created", "notice_id": "N-000001"})
    assert _seqs(none.text) == [] and "没有符合筛选条件的条目" in none.text


async def test_htmx_filter_returns_only_the_results(client: AsyncClient) -> None:
    for _ in range(2):
        await register(client, org=None)
    response = await client.get("/log", params={"type": "account.created", "notice_id": ""}, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text and "<table" in response.text
    assert _seqs(response.text) == [1, 0]
    assert "HX-Request" in response.headers["vary"]
    # History restore without a snapshot wants the whole page.
    restore = await client.get("/log", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


async def test_show_more_continues_below_the_last_seq_shown(client: AsyncClient) -> None:
    for _ in range(5):
        await register(client, org=None)
    first = (await client.get("/log", params={"limit": 2})).text
    assert _seqs(first) == [4, 3]
    more = html.unescape(re.search(r'<a href="([^"]+)" hx-get="[^"]+" hx-target="#more-row"', first).group(1))
    assert more == f"/log?limit=2&cursor={encode_cursor(3)}"

    rows = await client.get(more, headers=HTMX)
    assert "<html" not in rows.text and "<table" not in rows.text and "<tr" in rows.text
    assert _seqs(rows.text) == [2, 1]
    last = html.unescape(re.search(r'hx-get="([^"]+)"', rows.text).group(1))
    final = await client.get(last, headers=HTMX)
    assert _seqs(final.text) == [0] and "more-row" not in final.text

    without_js = await client.get(more)  # the same link as a plain page
    assert "<html" in without_js.text and _seqs(without_js.text) == [2, 1]


async def test_bad_cursor_or_limit_is_a_422_page_not_a_500(client: AsyncClient) -> None:
    for params in ({"cursor": "not-a-cursor"}, {"cursor": encode_cursor(-5)}, {"limit": 0}, {"limit": 101}):
        response = await client.get("/log", params=params, headers={"Accept": "text/html"})
        assert response.status_code == 422, params
        assert "text/html" in response.headers["content-type"] and "<html" in response.text
    not_a_number = await client.get("/log", params={"limit": "many"}, headers={"Accept": "text/html"})
    assert not_a_number.status_code in (400, 422) and "<html" in not_a_number.text  # a malformed parameter
    assert "链接无效" in (await client.get("/log", params={"cursor": "xyz"})).text
    huge = await client.get("/log", params={"cursor": encode_cursor(2**70)})
    assert huge.status_code == 200


async def test_entry_page_shows_the_exact_bytes_and_a_verified_proof(client: AsyncClient) -> None:
    for _ in range(3):
        await register(client, org=None)
    entries = (await client.get("/api/v1/log/entries?start=0&end=3")).content.split(b"\n")
    response = await client.get("/log/entries/1")
    assert response.status_code == 200
    page = response.text
    exact = html.unescape(
        re.search(r'<pre class="verbatim" id="exact-bytes">(.*?)</pre>', page, re.S).group(1)
    )
    assert exact.encode("utf-8") == entries[1]
    assert protocol.leaf_hash(entries[1]).hex() in page
    assert "已验证" in page and "未通过验证" not in page
    assert "/api/v1/log/proof/inclusion?index=1&amp;size=3" in page
    assert "/api/v1/log/entries?start=1&amp;end=2" in page
    proof = (await client.get("/api/v1/log/proof/inclusion?index=1&size=3")).json()
    for h in proof["hashes"]:
        assert h in page


async def test_entry_with_scheme_none_says_the_draw_is_only_as_fair_as_the_operator(
    client: AsyncClient, db: Database
) -> None:
    seq = await _append(db, "notice.published", notice_id="N-000009", scheme="none")
    page = (await client.get(f"/log/entries/{seq}")).text
    assert "只取决于运营方是否公正" in page and "已验证" in page


async def test_unknown_entry_is_a_friendly_404(client: AsyncClient) -> None:
    await register(client, org=None)
    for path in ("/log/entries/1", "/log/entries/99999999999999999999999"):
        response = await client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404, path
        assert "返回首页" in response.text


async def test_verify_page_shows_the_commands_with_this_servers_address(client: AsyncClient) -> None:
    response = await client.get("/log/verify", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    page = html.unescape(response.text)
    base = "http://testserver.local"
    for command in (
        "market log verify",
        f"market log verify --url {base}",
        "pip install cryptography",
        f"python3 ops/verify_log.py --url {base}",
        f"python3 ops/verify_log.py --url {base} --since old-checkpoint.txt",
        f"python3 ops/verify_log.py --url {base} --json",
        f"curl -s {base}/api/v1/log/checkpoint",
        f"curl -s {base}/api/v1/log/key",
        f"curl -s '{base}/api/v1/log/entries?start=0&end=1000'",
        f"curl -s '{base}/api/v1/log/proof/inclusion?index=I&size=N'",
        f"curl -s '{base}/api/v1/log/proof/consistency?first=M&second=N'",
    ):
        assert command in page, command
    assert "only as fair as the operator" in page
    zh = (await client.get("/log/verify")).text
    assert "如何验证" in zh and "只取决于运营方是否公正" in zh


async def test_verify_page_does_not_echo_a_strange_host_into_shell_commands(client: AsyncClient) -> None:
    # The commands use MARKET_PUBLIC_URL; a Host this site does not serve is refused outright.
    response = await client.get("/log/verify", headers={"Host": "x';$(reboot);'"})
    assert response.status_code == 400
    assert "reboot" not in html.unescape(response.text)
