"""Notifications: what is e-mailed for an inbox message, each user's choices, agencies'
subscriptions, and the fan-out at a notice's publication. Rows are written in the caller's
transaction, so a rollback queues nothing (docs/notifications.md).

Whether e-mail is on is a property of the process (MARKET_SMTP_URL), set once by
create_app through ``configure``: inbox.leave is called from deep inside every service,
none of which holds the settings, as wire_services does for the award hooks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.core.errors import FieldError, Forbidden, InvalidInput
from market.core.i18n import N_, gettext_for
from market.halls.rules import PROVINCE
from market.notices.models import Method, Notice
from market.notify import queries, rules
from market.notify.models import MailOutbox, MailPreference, SubscriptionCategory, SubscriptionRegion
from market.reference import catalogue, regions


@dataclass
class MailSwitch:
    on: bool = False
    base_url: str = ""


MAIL = MailSwitch()


def configure(*, mail: bool, base_url: str) -> None:
    """E-mail is queued only when the process has somewhere to send it (create_app)."""
    MAIL.on, MAIL.base_url = mail, base_url


def _zh(message: str) -> str:
    return str(gettext_for("zh_Hans")[0](message))


# -- an inbox message's e-mail ----------------------------------------------------------------


async def queue_for_message(
    session: AsyncSession, *, user_id: int, kind: str, params: Mapping[str, Any]
) -> bool:
    """Queue the e-mail for a message just left in the inbox, if e-mail is on and the user
    wants this kind; in the caller's transaction. Whether one was queued."""
    if not MAIL.on:
        return False
    row = (
        await session.execute(
            sa.select(col(AppUser.email), col(MailPreference.email))
            .outerjoin(
                MailPreference,
                sa.and_(col(MailPreference.user_id) == col(AppUser.id), col(MailPreference.kind) == kind),
            )
            .where(col(AppUser.id) == user_id, col(AppUser.is_active).is_(True))
        )
    ).one_or_none()
    if row is None:
        return False
    address, choice = row
    if not rules.wants_email(kind, {kind: choice} if choice is not None else {}):
        return False
    subject, body = rules.compose(kind, params, base_url=MAIL.base_url, zh=_zh)
    session.add(MailOutbox(user_id=user_id, to_addr=address, kind=kind, subject=subject, body=body))
    return True


# -- preferences ------------------------------------------------------------------------------


async def preferences(session: AsyncSession, *, user: AppUser) -> dict[str, bool]:
    """Every kind the user's role receives, with its e-mail setting (stored or default)."""
    rows = await session.execute(
        sa.select(col(MailPreference.kind), col(MailPreference.email)).where(
            col(MailPreference.user_id) == user.id
        )
    )
    return rules.choices_for(user.role, {k: e for k, e in rows.all()})


async def save_preferences(
    session: AsyncSession, *, user: AppUser, choices: Mapping[str, Any]
) -> dict[str, bool]:
    """Set e-mail on or off for the kinds named (the others keep theirs). A personal
    setting, not a marketplace state change: not logged, as inbox messages are not."""
    try:
        checked = rules.check_choices(user.role, choices)
    except rules.UnknownKind as exc:
        raise InvalidInput(
            N_("Unknown kind of message."),
            [
                FieldError(
                    str(exc),
                    N_("Your account does not receive messages of this kind: {kind}."),
                    {"kind": str(exc)},
                )
            ],
        ) from None
    except TypeError as exc:
        raise InvalidInput(
            N_("Each kind of message is either true (e-mail) or false (inbox only)."),
            [FieldError(str(exc), N_("Each kind of message is either true (e-mail) or false (inbox only)."))],
        ) from None
    if checked:
        insert = pg_insert(MailPreference).values(
            [{"user_id": user.id, "kind": k, "email": e} for k, e in checked.items()]
        )
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[col(MailPreference.user_id), col(MailPreference.kind)],
                set_={"email": insert.excluded.email},
            )
        )
    return await preferences(session, user=user)


# -- subscriptions ------------------------------------------------------------------------------


@dataclass
class Subscriptions:
    categories: list[str]
    regions: list[str]


def _require_agency(user: AppUser) -> None:
    if user.role != Role.agency:
        raise Forbidden(N_("Only agencies subscribe to new notices."))


async def subscriptions(session: AsyncSession, *, user: AppUser) -> Subscriptions:
    cats = await session.execute(
        sa.select(col(SubscriptionCategory.category))
        .where(col(SubscriptionCategory.user_id) == user.id)
        .order_by(col(SubscriptionCategory.category))
    )
    regs = await session.execute(
        sa.select(col(SubscriptionRegion.region))
        .where(col(SubscriptionRegion.user_id) == user.id)
        .order_by(col(SubscriptionRegion.region))
    )
    return Subscriptions([str(c) for c in cats.scalars()], [str(r) for r in regs.scalars()])


def check_subscriptions(categories: Sequence[str], region_codes: Sequence[str]) -> dict[str, str]:
    """The categories known, the regions inside the province: {region: prefix}."""
    errors: list[FieldError] = []
    for code in categories:
        try:
            catalogue.category(code)
        except catalogue.UnknownCategory:
            errors.append(FieldError("categories", N_("Unknown service category: {code}."), {"code": code}))
    prefixes: dict[str, str] = {}
    for code in region_codes:
        try:
            prefixes[code] = rules.region_prefix(code, PROVINCE)
        except regions.UnknownRegion:
            errors.append(FieldError("regions", N_("Choose a region from the list (GB/T 2260 code).")))
        except rules.OutsideProvince:
            errors.append(
                FieldError(
                    "regions", N_("Choose a region of this province: {code} is outside it."), {"code": code}
                )
            )
    if errors:
        raise InvalidInput(errors[0].message, errors, params=errors[0].params)
    return prefixes


async def save_subscriptions(
    session: AsyncSession, *, user: AppUser, categories: Sequence[str], region_codes: Sequence[str]
) -> Subscriptions:
    """Replace the agency user's subscriptions. No category: it hears of nothing."""
    _require_agency(user)
    categories = list(dict.fromkeys(c.strip() for c in categories if c.strip()))
    prefixes = check_subscriptions(
        categories, list(dict.fromkeys(r.strip() for r in region_codes if r.strip()))
    )
    await session.execute(sa.delete(SubscriptionCategory).where(col(SubscriptionCategory.user_id) == user.id))
    await session.execute(sa.delete(SubscriptionRegion).where(col(SubscriptionRegion.user_id) == user.id))
    assert user.id is not None
    session.add_all([SubscriptionCategory(user_id=user.id, category=c) for c in categories])
    session.add_all([SubscriptionRegion(user_id=user.id, region=r, prefix=p) for r, p in prefixes.items()])
    await session.flush()
    return await subscriptions(session, user=user)


async def save_settings(
    session: AsyncSession,
    *,
    user: AppUser,
    email_on: Sequence[str],
    categories: Sequence[str] = (),
    region_codes: Sequence[str] = (),
) -> None:
    """The preferences page in one go: e-mail on for the kinds in ``email_on`` and off for
    the role's other kinds; for an agency, its subscriptions replaced too. Both are checked
    before either is written, so a refusal changes nothing."""
    on = set(email_on)
    choices = {k.code: k.code in on for k in rules.kinds_for(user.role)}
    unknown = on - set(choices)
    if unknown:
        await save_preferences(
            session, user=user, choices={sorted(unknown)[0]: True}
        )  # raises: not the role's
    if user.role == Role.agency:
        await save_subscriptions(session, user=user, categories=categories, region_codes=region_codes)
    await save_preferences(session, user=user, choices=choices)


async def on_published(session: AsyncSession, *, notice: Notice) -> tuple[int, int]:
    """Tell the agencies subscribed to a just-published notice's category and region, in
    the publication's transaction: one statement, whatever the number of agencies.
    A direct selection names its agency and is open to no other: nobody is told.
    (messages left, e-mails queued)."""
    if notice.method == Method.direct or notice.id is None:
        return 0, 0
    params = {
        "notice_id": notice.public_id,
        "title": notice.title,
        "category": notice.category,
        "region": notice.region,
    }
    subject, body = rules.compose(rules.NOTICE_MATCHED, params, base_url=MAIL.base_url, zh=_zh)
    return await queries.tell_subscribers(
        session,
        notice_id=notice.id,
        category=notice.category,
        region=notice.region,
        kind=rules.NOTICE_MATCHED,
        params=json.dumps(params, ensure_ascii=False),
        email_default=rules.BY_CODE[rules.NOTICE_MATCHED].email,
        mail=MAIL.on,
        subject=subject,
        body=body,
    )


# -- the queue, for administrators ------------------------------------------------------------------


@dataclass
class OutboxState:
    counts: dict[str, int]
    failed: list[Any]


# The queue holds every hall's addresses and errors (last_error names other recipients):
# the province's administrators only, as blacklisting is (docs/halls.md: staff reach one
# jurisdiction each, and the mail server is the whole deployment's).
OUTSIDE = N_("This is outside your jurisdiction.")


def may_manage_mail(actor: AppUser) -> bool:
    return actor.role == Role.admin and actor.jurisdiction == PROVINCE


def _require_province(actor: AppUser) -> None:
    if not may_manage_mail(actor):
        raise Forbidden(OUTSIDE)


async def outbox_state(session: AsyncSession, *, actor: AppUser, limit: int = 50) -> OutboxState:
    _require_province(actor)
    return OutboxState(await queries.status_counts(session), await queries.failed_rows(session, limit))


async def retry_failed(session: AsyncSession, *, actor: AppUser) -> int:
    """Put every failed e-mail back in the queue, its attempts counted afresh (a province
    administrator, once the mail server is mended). How many."""
    _require_province(actor)
    result = await session.execute(
        sa.update(MailOutbox)
        .where(col(MailOutbox.status) == "failed")
        .values(status="pending", attempts=0, next_attempt_at=sa.func.now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
