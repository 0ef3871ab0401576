"""Pure rules of notifications: no I/O. The kinds of message and who gets each, what a
user receives by e-mail by default, how long to wait before retrying a failed send, the
region scope of a subscription, and the e-mail's text (docs/notifications.md)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from market.core.i18n import N_
from market.reference import regions

OWNER, AGENCY, SUPERVISOR, ADMIN = "owner", "agency", "supervisor", "admin"
STAFF = (SUPERVISOR, ADMIN)
# An agency hears of a new notice that matches its subscriptions (market/notify/service.py).
NOTICE_MATCHED: Final = "notice_matched"


@dataclass(frozen=True)
class Kind:
    """One kind of inbox message: its label (the preferences page and the e-mail's
    subject), the roles that receive it, and whether it is e-mailed unless turned off."""

    code: str
    label: str
    roles: tuple[str, ...]
    email: bool  # the default: on for what asks the reader to act or tells of a decision


# Every kind market/inbox leaves today (grep "inbox.leave" and "tell_owner"), in the order
# the preferences page lists them. Informational steps that need nothing of the reader
# default to no e-mail.
KINDS: Final[tuple[Kind, ...]] = (
    Kind(NOTICE_MATCHED, N_("A new notice matches your subscriptions"), (AGENCY,), True),
    Kind("won", N_("Your agency has won a notice"), (AGENCY,), True),
    Kind("won_as_replacement", N_("Your agency takes a declined place"), (AGENCY,), True),
    Kind("final", N_("An award is final"), (AGENCY, OWNER), True),
    Kind("selected", N_("The result of your notice is out"), (OWNER,), True),
    Kind("failed", N_("The selection of your notice failed"), (OWNER,), True),
    Kind("waiting_for_beacon", N_("Bidding closed, the draw waits for the beacon"), (OWNER,), False),
    Kind("declined", N_("An agency declined your award"), (OWNER,), True),
    Kind("disqualified", N_("An agency was disqualified after an objection"), (OWNER,), True),
    Kind("cancel_requested", N_("An owner asks to cancel a notice"), STAFF, True),
    Kind("cancel_consented", N_("Your notice was cancelled"), (OWNER,), True),
    Kind("cancel_refused", N_("Cancelling your notice was refused"), (OWNER,), True),
    Kind("objection_filed", N_("An objection was filed against your result"), (OWNER,), True),
    Kind("objection_escalated", N_("An objection went up to the hall above"), (OWNER, AGENCY), True),
    Kind("objection_answered", N_("The owner answered your objection"), (AGENCY,), True),
    Kind("objection_decided", N_("An objection was decided"), (OWNER, AGENCY), True),
    Kind("contract_recorded", N_("A contract awaits your confirmation"), (AGENCY,), True),
    Kind("contract_signed", N_("The agency confirmed the contract"), (OWNER,), True),
    Kind("milestone_submitted", N_("A deliverable was handed in"), (OWNER,), True),
    Kind("milestone_accepted", N_("A milestone was accepted"), (AGENCY,), False),
    Kind("milestone_returned", N_("A milestone was returned"), (AGENCY,), True),
    Kind("contract_completed", N_("A contract is completed"), (OWNER, AGENCY), False),
    Kind("contract_stopped", N_("A contract was stopped"), (OWNER, AGENCY), True),
    Kind("contract_disputed", N_("An agency declined a contract's terms"), (OWNER, *STAFF), True),
    Kind("contract_dispute_decided", N_("A contract dispute was decided"), (OWNER, AGENCY), True),
    Kind("suspended_automatically", N_("Your agency was suspended"), (AGENCY,), True),
    Kind("alert_selection_failed", N_("Alert: a selection failed"), STAFF, True),
    Kind("alert_milestone_overdue", N_("Alert: a milestone is overdue"), STAFF, False),
    Kind("alert_red_flag", N_("Alert: a new red flag"), STAFF, True),
    Kind(
        "alert_red_flags_found",
        N_("Alert: the red flags of a jurisdiction, computed for the first time"),
        STAFF,
        True,
    ),
    Kind("alert_objection_filed", N_("Alert: an objection was filed"), STAFF, True),
    Kind("alert_objection_escalated", N_("Alert: an objection came up to your hall"), STAFF, True),
)
BY_CODE: Final[Mapping[str, Kind]] = {k.code: k for k in KINDS}
# A kind not listed above (added to a service but not here) is e-mailed under this label.
OTHER_LABEL: Final = N_("An update on the platform")


def kinds_for(role: str) -> list[Kind]:
    """The kinds a user of ``role`` can receive, for their preferences page."""
    return [k for k in KINDS if role in k.roles]


def wants_email(kind: str, choices: Mapping[str, bool]) -> bool:
    """Whether a message of ``kind`` is e-mailed: the user's choice, else the default."""
    if kind in choices:
        return choices[kind]
    known = BY_CODE.get(kind)
    return known.email if known is not None else False


def choices_for(role: str, stored: Mapping[str, bool]) -> dict[str, bool]:
    """Every kind of ``role`` with its current setting (stored or default)."""
    return {k.code: wants_email(k.code, stored) for k in kinds_for(role)}


class UnknownKind(ValueError):
    """A kind the user's role does not receive."""


def check_choices(role: str, choices: Mapping[str, Any]) -> dict[str, bool]:
    """A preferences update: only kinds of the role, each true or false."""
    allowed = {k.code for k in kinds_for(role)}
    checked: dict[str, bool] = {}
    for code, value in choices.items():
        if code not in allowed:
            raise UnknownKind(code)
        if not isinstance(value, bool):
            raise TypeError(code)
        checked[code] = value
    return checked


# -- retries ------------------------------------------------------------------------------

MAX_BACKOFF: Final = timedelta(hours=1)


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """The wait after the ``attempts``-th failure: base, 2 x base, 4 x base... at most an hour."""
    if attempts < 1:
        return timedelta(0)
    return min(timedelta(seconds=base_seconds * 2 ** min(attempts - 1, 16)), MAX_BACKOFF)


def after_failure(attempts: int, max_attempts: int) -> str:
    """The row's status once its ``attempts``-th try has failed."""
    return "failed" if attempts >= max_attempts else "pending"


# -- subscriptions ---------------------------------------------------------------------------


class OutsideProvince(ValueError):
    """A region outside the province this deployment serves."""


def region_prefix(code: str, province: str) -> str:
    """A subscription region's significant digits, for ``LIKE prefix || '%'``; only the
    province and the regions inside it (an agency hears of this platform's notices)."""
    region = regions.region(code)  # UnknownRegion for a code not held
    prefix = regions.scope_prefix(region.code)
    if not prefix.startswith(regions.scope_prefix(province)):
        raise OutsideProvince(code)
    return prefix


def matches(*, category: str, region: str, categories: Iterable[str], prefixes: Iterable[str]) -> bool:
    """Whether a notice of ``category`` in ``region`` matches a subscription: one of its
    categories, and one of its regions (none: anywhere). The SQL in queries.SUBSCRIBERS
    says the same; a test holds them equal."""
    wanted = set(categories)
    if category not in wanted:
        return False
    scopes = list(prefixes)
    return not scopes or any(region.startswith(p) for p in scopes)


# -- the e-mail's text ---------------------------------------------------------------------------

SITE: Final = N_("Intermediary services supermarket")


def header_text(text: str) -> str:
    """``text`` fit for one line of a mail header: every line break Python knows (CR, LF,
    VT, FF, FS/GS/RS, NEL, U+2028/9, which ``EmailMessage`` refuses in a header) becomes a
    space and other control characters go. A title passes the notice's own checks with
    any of them, and a header the email package refuses would stop the message for good."""
    joined = " ".join(text.replace("\t", " ").splitlines())
    return "".join(c for c in joined if unicodedata.category(c) != "Cc").strip()


def label_of(kind: str) -> str:
    known = BY_CODE.get(kind)
    return known.label if known is not None else OTHER_LABEL


def compose(
    kind: str,
    params: Mapping[str, Any],
    *,
    base_url: str,
    zh: Callable[[str], str],
) -> tuple[str, str]:
    """An e-mail's subject and plain-text body: Chinese first, English below (one text for
    every reader, as the platform's notices are), pointing to the message in the inbox.
    ``zh`` is the Chinese catalogue's gettext."""
    label = label_of(kind)
    title = header_text(str(params.get("title") or ""))
    notice = str(params.get("notice_id") or "")
    subject = f"【{zh(SITE)}】{zh(label)}" + (f"：{title}" if title else "")
    link = f"{base_url}/notices/{notice}" if notice else f"{base_url}/messages"
    lines = [zh(label) + (f"：{title}（{notice}）" if title else "")]
    lines += [
        f"{zh(N_('See it on the platform'))}：{link}",
        f"{zh(N_('Your messages'))}：{base_url}/messages",
        "",
    ]
    lines += [
        label + (f": {title} ({notice})" if title else ""),
        f"{N_('See it on the platform')}: {link}",
        "",
    ]
    lines += [
        "—",
        zh(N_("You receive this e-mail because of your notification settings; change them at"))
        + f" {base_url}/account/notifications",
        N_("You receive this e-mail because of your notification settings; change them at")
        + f" {base_url}/account/notifications",
    ]
    return subject, "\n".join(lines) + "\n"
