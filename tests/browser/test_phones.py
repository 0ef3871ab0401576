"""Phones and wide screens, in Chromium, on the demo data (issue 22).

At 390 × 844 every main page of every role, visited once, fits the screen: the page never
scrolls sideways (a table that must stay a table scrolls inside its own box), ids and
numbers are never cut across lines, what is tapped is at least 44 px high and forms take
the width. The public notice list is one card per notice, and the header is one row whose
menu opens without script. At 1280 px a staff header keeps to two rows, and ``/stats`` fits
in both languages, its savings bars read against a scale from 0, and a credit history of a
single day is a sentence, not an empty chart.

One live server, one browser context, and every offender reported at once. The roles'
pages alternate between the languages (the public's and the agency's in Chinese, the
owner's and the staff's in English), so that each page is loaded once and both languages
are tried where text is longest.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from playwright.sync_api import Browser, Page, expect

from market.core.db import to_asyncpg_dsn
from market.demo import DEMO_PASSWORD
from tests.browser.test_accessibility import load_demo
from tests.conftest import run_blocking
from tests.live import live_server

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
TAP = 44  # px: the smallest comfortable touch target

# Everything one page is checked for, in one evaluation: sideways scroll (and the elements
# that stick out, outside any scrolling box of their own), ids cut across lines, buttons
# lower than a finger, and, where asked, form fields narrower than the screen.
CHECK_PAGE = """([tap, fields]) => {
  const width = window.innerWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  // checkVisibility: what a closed <details> holds has boxes, but is not shown.
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && el.checkVisibility(); };
  const out = {scroll: document.documentElement.scrollWidth, width, wide: [], cut: [], small: [], narrow: []};
  if (out.scroll > width) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.right <= width + 1 || !r.width) continue;
      let p = el.parentElement, scrolls = false;
      for (; p && p !== document.body; p = p.parentElement) {
        if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) { scrolls = true; break; }
      }
      if (!scrolls) out.wide.push(name(el) + ' to ' + Math.round(r.right) + ' px');
      if (out.wide.length >= 4) break;
    }
  }
  for (const c of document.querySelectorAll('code')) {
    const text = c.textContent.trim();
    if (!/^([A-Z]{1,3}-)?[0-9]{3,}$/.test(text) || !shown(c)) continue;
    const range = document.createRange();
    range.selectNodeContents(c);
    const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
    if (lines.size > 1) out.cut.push(text + ' on ' + lines.size + ' lines');
  }
  for (const b of document.querySelectorAll('main button, main .button, main input[type=submit], header summary')) {
    if (!shown(b)) continue;
    const h = b.getBoundingClientRect().height;
    if (h < tap) out.small.push(name(b) + ' "' + b.textContent.trim().slice(0, 20) + '" ' + Math.round(h) + ' px high');
  }
  if (fields) {
    for (const f of document.querySelectorAll(fields)) {
      if (!shown(f)) continue;
      const w = f.getBoundingClientRect().width;
      if (w < width * 0.75) out.narrow.push(name(f) + ' ' + Math.round(w) + ' px wide');
    }
  }
  return out;
}"""

# The notice list as cards: each notice a box the width of the screen, each figure in a
# cell wide enough to read (a table squeezed them to one character per line).
CHECK_CARDS = """() => {
  const rows = [...document.querySelectorAll('#notice-results table.notices tbody tr:not(#more-row)')];
  const width = window.innerWidth;
  const problems = [];
  if (!rows.length) problems.push('no notice on the list');
  rows.forEach((row, i) => {
    const r = row.getBoundingClientRect();
    if (r.width < width * 0.85) problems.push(`notice ${i + 1} is ${Math.round(r.width)} px wide, not a card across the screen`);
    for (const cell of row.querySelectorAll('td')) {
      const w = cell.getBoundingClientRect().width;
      if (w < 120) problems.push(`notice ${i + 1}: a cell "${cell.textContent.trim().slice(0, 12)}" is ${Math.round(w)} px wide`);
    }
  });
  return problems;
}"""

# How many rows the header's visible items make (items whose tops differ by > 12 px).
HEADER_ROWS = """() => {
  const tops = [...document.querySelectorAll('header.site a, header.site button, header.site summary, header.site li > span')]
    .filter(el => el.checkVisibility()).map(el => el.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0)
    .map(r => r.top).sort((a, b) => a - b);
  let rows = 0, last = -100;
  for (const t of tops) { if (t - last > 12) { rows += 1; last = t; } }
  return rows;
}"""

# /stats at a desktop width: no page-level scroll, each table within its column, and the
# savings chart's scale: tick labels from 0 up to at least the largest saving.
CHECK_STATS = """() => {
  const tables = [...document.querySelectorAll('table.stats')].map(t => ({
    id: t.id, width: Math.round(t.getBoundingClientRect().width), room: t.parentElement.clientWidth}));
  const number = s => parseFloat(s.replace('%', ''));
  const svg = document.querySelector('#t-chart-savings + svg, #t-chart-savings ~ svg');
  return {
    scroll: document.documentElement.scrollWidth, width: window.innerWidth, tables,
    ticks: svg ? [...svg.querySelectorAll('text.tick')].map(t => t.textContent.trim()) : null,
    values: svg ? [...svg.querySelectorAll('text.value')].map(t => number(t.textContent)) : [],
  };
}"""


@dataclass(frozen=True)
class Visit:
    path: str
    fields: str | None = None  # form fields that must take (nearly) the screen's width


def demo_ids(database_url: str) -> dict[str, str]:
    async def query() -> dict[str, str]:
        conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
        try:

            async def one(sql: str) -> str:
                value = await conn.fetchval(sql)
                assert value, f"the demo data has nothing for: {sql}"
                return str(value)

            first = "order by n.id limit 1"
            return {
                "open": await one(f"select n.public_id from notice n where n.status = 'open' {first}"),
                "publicity": await one(
                    f"select n.public_id from notice n where n.status = 'selected' {first}"
                ),
                "awarded": await one(f"select n.public_id from notice n where n.status = 'awarded' {first}"),
                "in_service": await one(
                    "select public_id from contract where status = 'in_service' order by id limit 1"
                ),
                "completed": await one(
                    "select public_id from contract where status = 'completed' order by id limit 1"
                ),
                # The agency that completed a contract: rated, so its credit has a history.
                "winner": await one(
                    "select a.public_id from contract c join agency a on a.id = c.agency_id "
                    "where c.status = 'completed' order by c.id limit 1"
                ),
                "winner_email": await one(
                    "select u.email from contract c join agency a on a.id = c.agency_id join app_user u on u.id = a.owner_id "
                    "where c.status = 'completed' order by c.id limit 1"
                ),
                "entry": await one("select max(seq) from log_entry"),
            }
        finally:
            await conn.close()

    return run_blocking(query())


def visits_by_login(ids: dict[str, str]) -> list[tuple[str | None, str, list[Visit]]]:
    """Who logs in (None: nobody), in which language, and the pages they see."""
    return [
        (
            None,
            "zh_Hans",
            [
                Visit("/"),
                Visit("/notices", fields="#notice-filters input, #notice-filters select"),
                Visit(f"/notices/{ids['open']}"),
                Visit(f"/notices/{ids['publicity']}/draw"),
                Visit(f"/notices/{ids['awarded']}"),
                Visit("/agencies"),
                Visit(f"/agencies/{ids['winner']}"),
                Visit("/stats"),
                Visit("/halls"),
                Visit("/log"),
                Visit(f"/log/entries/{ids['entry']}"),
                Visit("/data"),
                Visit("/login", fields="main form input:not([type=hidden]):not([type=checkbox])"),
                Visit(
                    "/register",
                    fields="main form input:not([type=hidden]):not([type=checkbox]):not([type=radio])",
                ),
            ],
        ),
        (
            "owner@demo.market.cn",
            "en",
            [
                Visit("/dashboard"),
                Visit("/owner"),
                Visit("/owner/notices/new", fields="#notice-form input[type=text], #notice-form select"),
                Visit(f"/contracts/{ids['in_service']}"),
                Visit("/messages"),
            ],
        ),
        (
            ids["winner_email"],
            "zh_Hans",
            [
                Visit("/dashboard"),
                Visit("/agency"),
                Visit("/agency/notices"),
                Visit("/agency/bids"),
                Visit(f"/notices/{ids['open']}"),
                Visit(f"/contracts/{ids['completed']}"),
            ],
        ),
        (
            "supervisor@demo.market.cn",
            "en",
            [
                Visit("/dashboard"),
                Visit("/supervision"),
                Visit(f"/supervision/notices/{ids['publicity']}"),
                Visit(f"/supervision/agencies/{ids['winner']}"),
                Visit("/supervision/flags"),
                Visit("/supervision/objections"),
                Visit("/supervision/board"),
            ],
        ),
        (
            "admin@demo.market.cn",
            "zh_Hans",
            [
                Visit("/dashboard"),
                Visit("/admin/agencies"),
                Visit("/admin/users"),
                Visit("/admin/staff"),
                Visit("/admin/halls"),
            ],
        ),
    ]


def log_in(page: Page, server: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(server + "/login")
    page.fill("#f-email", email)
    page.fill("#f-password", DEMO_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/login"), timeout=15_000)


def choose_language(page: Page, server: str, code: str) -> None:
    """The site's own language switch (a cookie), so one context serves both languages."""
    page.goto(f"{server}/lang/{code}?next=/")


def check_page(page: Page, server: str, visit: Visit, where: str, problems: list[str]) -> None:
    response = page.goto(server + visit.path)
    if response is None or response.status != 200:
        problems.append(f"{where}: answered {response and response.status}")
        return
    found: dict[str, Any] = page.evaluate(CHECK_PAGE, [TAP, visit.fields])
    if found["scroll"] > found["width"]:
        problems.append(
            f"{where}: the page is {found['scroll']} px wide in a {found['width']} px screen: "
            + ", ".join(found["wide"] or ["(no single element found)"])
        )
    problems.extend(f"{where}: id cut across lines: {c}" for c in found["cut"])
    problems.extend(f"{where}: too small to tap: {s}" for s in found["small"])
    problems.extend(f"{where}: form field not full width: {n}" for n in found["narrow"])


def check_phone_extras(page: Page, server: str, problems: list[str]) -> None:
    """As the supervisor, at 390 px: the notice list's cards, and a one-row header whose
    menu opens (a <details>: no script) onto every staff link."""
    page.goto(server + "/notices")
    problems.extend(f"390 px /notices: {p}" for p in page.evaluate(CHECK_CARDS))
    header = page.locator("header.site").bounding_box()
    assert header is not None
    if header["height"] > 2 * TAP + 24:
        problems.append(
            f"390 px staff header is {header['height']:.0f} px high: more than one row of brand and menu"
        )
    console = page.locator("header.site a[href='/supervision']")
    if console.is_visible():
        problems.append("390 px staff header shows its links before the menu is opened")
    page.locator("details.menu > summary").click()
    if not console.is_visible():
        problems.append("390 px: the opened menu does not show the console link")
    page.locator("details.dropdown > summary").click()
    if not page.locator("header.site a[href='/supervision/flags']").is_visible():
        problems.append("390 px: the staff section of the menu does not open onto the red flags")


def check_desktop(page: Page, server: str, ids: dict[str, str], problems: list[str]) -> None:
    """At 1280 px, as the supervisor (the longest header), in both languages."""
    page.set_viewport_size(DESKTOP)
    for code in ("en", "zh_Hans"):
        choose_language(page, server, code)
        page.goto(server + "/supervision")
        rows = page.evaluate(HEADER_ROWS)
        if rows > 2:
            problems.append(f"1280 px {code}: the staff header wraps to {rows} rows")
        page.goto(server + "/stats")
        stats: dict[str, Any] = page.evaluate(CHECK_STATS)
        if stats["scroll"] > stats["width"]:
            problems.append(f"1280 px {code} /stats: the page scrolls sideways ({stats['scroll']} px)")
        for t in stats["tables"]:
            if t["width"] > t["room"]:
                problems.append(
                    f"1280 px {code} /stats: table {t['id']} is {t['width']} px wide in {t['room']} px"
                )
        ticks = stats["ticks"]
        if not ticks or len(ticks) < 3:
            problems.append(f"1280 px {code} /stats: the savings bars have no scale (tick labels: {ticks})")
        else:
            values = [float(t.rstrip("%")) for t in ticks]
            if values[0] != 0 or values != sorted(values) or values[-1] < max(stats["values"], default=0):
                problems.append(
                    f"1280 px {code} /stats: the savings scale {ticks} does not run from 0 past {stats['values']}"
                )
    # The rated agency's credit changed on one day only (the demo's): a sentence, or a chart
    # whose points stand on different days, never dots piled on the left edge of a box.
    page.goto(f"{server}/agencies/{ids['winner']}")
    chart = page.locator("svg.credit-chart")
    if chart.count():
        xs = set(chart.locator("circle").evaluate_all("cs => cs.map(c => c.getAttribute('cx'))"))
        if len(xs) < 2:
            problems.append(f"/agencies/{ids['winner']}: a credit chart with all its points at x = {xs}")
    elif not page.locator(".credit-single").count():
        problems.append(f"/agencies/{ids['winner']}: no credit chart and no sentence saying the score")


def test_every_page_fits_a_phone_and_stats_fit_a_desktop(
    browser: Browser, committed_database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    started = time.monotonic()
    load_demo(committed_database_url, data)
    ids = demo_ids(committed_database_url)
    loaded = time.monotonic()
    problems: list[str] = []
    pages = 0
    with live_server(committed_database_url, data, MARKET_AUTH_RATE_LIMIT="100000") as server:
        serving = time.monotonic()
        context = browser.new_context(locale="zh-CN", viewport=PHONE)
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            for email, language, visits in visits_by_login(ids):
                if email:
                    log_in(page, server, email)
                else:
                    page.context.clear_cookies()
                choose_language(page, server, language)
                for visit in visits:
                    check_page(
                        page,
                        server,
                        visit,
                        f"390 px {language} as {email or 'anonymous'}: {visit.path}",
                        problems,
                    )
                    pages += 1
            walked = time.monotonic()
            # The header and the list as the staff see them, then the wide screen.
            log_in(page, server, "supervisor@demo.market.cn")
            check_phone_extras(page, server, problems)
            check_desktop(page, server, ids, problems)
        finally:
            context.close()
    print(
        f"demo data {loaded - started:.1f} s, server start {serving - loaded:.1f} s, "
        f"{pages} pages at 390 px {walked - serving:.1f} s, the rest {time.monotonic() - walked:.1f} s"
    )
    assert pages == sum(len(v) for _, _, v in visits_by_login(ids))
    assert not problems, f"{len(problems)} problems on {pages} pages:\n" + "\n".join(problems)
