"""The pure rules of notifications: kinds and defaults, retries, subscription regions,
the e-mail's text; the SMTP settings; and every kind of message the services leave known."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from market.core.config import ConfigError, Settings
from market.notify import rules
from market.notify.sender import build
from market.reference.regions import UnknownRegion

ROOT = Path(__file__).resolve().parents[3]


def calls(source: str, opening: str) -> list[str]:
    """The argument text of every call that starts with ``opening`` (parentheses balanced)."""
    found = []
    for start in (m.end() for m in re.finditer(re.escape(opening), source)):
        depth, end = 1, start
        while depth:
            depth += {"(": 1, ")": -1}.get(source[end], 0)
            end += 1
        found.append(source[start : end - 1])
    return found


def test_every_kind_the_services_leave_has_a_label_roles_and_a_default() -> None:
    """Derived from the code: each kind given to inbox.leave (``kind="..."``) or to
    selection's tell_owner, and each alert kind, is one people choose about, and each has
    its text in the inbox (templates/selection/messages.html)."""
    source = "\n".join(p.read_text() for p in (ROOT / "market").rglob("*.py") if "notify" not in p.parts)
    left = {m for call in calls(source, "inbox.leave(") for m in re.findall(r'kind="([a-z_]+)"', call)}
    left |= set(re.findall(r'tell_owner\(\s*session, notice, "([a-z_]+)"', source))
    left |= set(re.findall(r'^[A-Z_]+ = "(alert_[a-z_]+)"', source, re.M))
    left |= {"declined", "disqualified"}  # tell_owner(session, notice, status.value, ...): an award's status
    assert {
        "won",
        "selected",
        "final",
        "objection_filed",
        "alert_red_flag",
        "suspended_automatically",
    } <= left
    assert left <= set(rules.BY_CODE), left - set(rules.BY_CODE)
    messages = (ROOT / "templates" / "selection" / "messages.html").read_text()
    shown = set(re.findall(r'm\.kind == "([a-z_]+)"', messages))
    assert set(rules.BY_CODE) <= shown, set(rules.BY_CODE) - shown
    for kind in rules.KINDS:
        assert kind.roles and kind.label


def test_defaults_and_choices() -> None:
    assert rules.wants_email("won", {}) is True
    assert rules.wants_email("milestone_accepted", {}) is False
    assert rules.wants_email("won", {"won": False}) is False
    assert rules.wants_email("an_unknown_kind", {}) is False
    assert "won" in rules.choices_for("agency", {}) and "won" not in rules.choices_for("owner", {})
    assert rules.check_choices("owner", {"selected": False}) == {"selected": False}
    with pytest.raises(rules.UnknownKind):
        rules.check_choices("owner", {"won": True})
    with pytest.raises(TypeError):
        rules.check_choices("owner", {"selected": "false"})


def test_backoff_doubles_up_to_an_hour_and_gives_up_at_the_limit() -> None:
    assert [rules.backoff(n, 60).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert rules.backoff(30, 60) == timedelta(hours=1)
    assert rules.backoff(3, 0) == timedelta(0)
    assert rules.after_failure(7, 8) == "pending" and rules.after_failure(8, 8) == "failed"


def test_subscription_regions_are_the_provinces_and_match_by_prefix() -> None:
    assert rules.region_prefix("530000", "530000") == "53"
    assert rules.region_prefix("530100", "530000") == "5301"
    assert rules.region_prefix("530102", "530000") == "530102"
    with pytest.raises(rules.OutsideProvince):
        rules.region_prefix("110000", "530000")
    with pytest.raises(UnknownRegion):
        rules.region_prefix("999999", "530000")
    assert rules.matches(category="EIA", region="530102", categories=["EIA"], prefixes=["5301"])
    assert rules.matches(category="EIA", region="530102", categories=["EIA"], prefixes=[])
    assert not rules.matches(category="EIA", region="530302", categories=["EIA"], prefixes=["5301"])
    assert not rules.matches(category="EIA", region="530102", categories=[], prefixes=[])


def test_the_email_text_is_chinese_first_and_a_title_cannot_add_headers() -> None:
    zh = {rules.SITE: "中介超市", rules.BY_CODE["won"].label: "您的机构中选"}.get
    subject, body = rules.compose(
        "won",
        {"title": "某项目\r\nBcc: x@example.cn", "notice_id": "N-000001"},
        base_url="https://zjcs.example.gov.cn",
        zh=lambda m: zh(m) or m,
    )
    assert (
        subject.startswith("【中介超市】您的机构中选：某项目") and "\n" not in subject and "\r" not in subject
    )
    assert body.index("您的机构中选") < body.index("Your agency has won a notice")
    assert "https://zjcs.example.gov.cn/notices/N-000001" in body


@pytest.mark.parametrize(
    "sep", ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\t", "\x00"]
)
def test_any_line_break_or_control_character_in_a_title_leaves_a_subject_a_mail_can_hold(sep: str) -> None:
    subject, _ = rules.compose(
        "won", {"title": f"环评服务{sep}第二标段"}, base_url="https://zjcs.example.gov.cn", zh=lambda m: m
    )
    assert subject.endswith("：环评服务 第二标段") or subject.endswith("：环评服务第二标段")
    row = SimpleNamespace(
        id=1,
        to_addr="a@example.cn",
        subject=subject,
        body="b\n",
        created_at=datetime(2026, 12, 6, tzinfo=UTC),
    )
    parsed = BytesParser(policy=policy.default).parsebytes(bytes(build(row, "noreply@example.cn")))
    assert str(parsed["Subject"]) == subject


def test_the_message_encodes_chinese_headers_and_body_as_utf8() -> None:
    row = SimpleNamespace(
        id=7,
        to_addr="agency@example.cn",
        subject="【中介超市】您的机构中选：某项目",
        body="您的机构中选\n",
        created_at=datetime(2026, 12, 6, 8, 0, tzinfo=UTC),
    )
    raw = bytes(build(row, "中介超市 <noreply@zjcs.example.gov.cn>"))
    head = raw.split(b"\n\n", 1)[0].decode("ascii")  # every header byte is ASCII on the wire
    assert "Subject: =?utf-8?" in head and "From: =?utf-8?" in head
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert str(parsed["Subject"]) == row.subject
    assert parsed.get_content() == row.body
    assert parsed["Message-ID"] == "<outbox-7.1796544000@zjcs.example.gov.cn>"


@pytest.mark.parametrize(
    ("url", "host", "port", "security", "user"),
    [
        ("smtp://mail.example.cn", "mail.example.cn", 25, "plain", ""),
        ("smtp://127.0.0.1:2525", "127.0.0.1", 2525, "plain", ""),
        ("smtps://u%40x.cn:p%3Aw@mail.example.cn", "mail.example.cn", 465, "tls", "u@x.cn"),
        ("smtp+starttls://u:p@mail.example.cn:2587", "mail.example.cn", 2587, "starttls", "u"),
    ],
)
def test_smtp_urls(url: str, host: str, port: int, security: str, user: str) -> None:
    settings = Settings.from_env({"MARKET_SMTP_URL": url, "MARKET_MAIL_FROM": "noreply@example.cn"})
    assert settings.smtp is not None
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security, settings.smtp.username) == (
        host,
        port,
        security,
        user,
    )
    assert "password" not in repr(settings.smtp)  # kept out of logs


def test_no_smtp_url_means_no_email() -> None:
    assert Settings.from_env({}).smtp is None


def test_user_and_password_are_url_decoded() -> None:
    smtp = Settings.from_env(
        {"MARKET_SMTP_URL": "smtps://u%40x.cn:p%3Aw%40@mail.example.cn", "MARKET_MAIL_FROM": "a@example.cn"}
    ).smtp
    assert smtp is not None and (smtp.username, smtp.password) == ("u@x.cn", "p:w@")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"MARKET_SMTP_URL": "http://mail.example.cn"}, "must start with smtp://"),
        ({"MARKET_SMTP_URL": "smtp://"}, "names no host"),
        ({"MARKET_SMTP_URL": "smtp://mail.example.cn:99999"}, "is not a URL"),
        ({"MARKET_SMTP_URL": "smtp://mail.example.cn/path"}, "no path"),
        ({"MARKET_SMTP_URL": "smtp://u:p@mail.example.cn"}, "never sent unencrypted"),
        ({"MARKET_SMTP_URL": "smtps://u@mail.example.cn"}, "both a user and a password"),
        ({"MARKET_SMTP_URL": "smtp://mail.example.cn"}, "MARKET_MAIL_FROM is required"),
        (
            {"MARKET_SMTP_URL": "smtp://mail.example.cn", "MARKET_MAIL_FROM": "not an address"},
            "not an e-mail address",
        ),
    ],
)
def test_bad_smtp_settings_are_refused_with_a_clear_message(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        Settings.from_env(env)
