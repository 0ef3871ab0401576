"""The public (and, for those allowed, private) shape of agencies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser
from market.agencies.models import ReviewStatus
from market.agencies.queries import Profile
from market.contracts.models import Contract
from market.core.clock import CHINA, today_in_china
from market.notices.models import Notice, NoticeStatus, OwnerOrg
from market.ratings.service import Standing
from market.reference import regions
from market.selection.models import Award, AwardStatus


def standing_public(standing: Standing | None, today: date) -> dict[str, Any]:
    """The rating summary and the credit score (market/ratings/rules.py) of one agency."""
    standing = standing or Standing()
    scored = standing.credit(today)
    return {
        "rating": standing.summary(),
        "credit": {
            "score": float(scored.score),
            "version": scored.version,
            "contracts_completed": standing.contracts_completed,
        },
    }


def agency_public(
    profile: Profile, *, private: bool = False, standing: Standing | None = None, today: date | None = None
) -> dict[str, Any]:
    agency = profile.agency
    region = regions.region(agency.region)
    shown = profile.qualifications if private else profile.approved_qualifications
    body: dict[str, Any] = {
        "id": agency.public_id,
        "name": agency.name,
        "credit_code": agency.credit_code,
        "region": agency.region,
        "region_name_zh": region.name_zh,
        "region_name_en": region.name_en,
        "status": agency.status,
        "status_reason": agency.status_reason or None,
        "status_until": agency.status_until.isoformat() if agency.status_until else None,
        "categories": profile.categories,
        "qualifications": [
            {
                "id": q.id,
                "category": q.category,
                "level": q.level,
                "certificate_no": q.certificate_no,
                "valid_until": q.valid_until.isoformat(),
                "status": q.status,
            }
            for q in shown
            if q.status != ReviewStatus.superseded or private
        ],
        # Without a standing (onboarding answers), the zero state: no ratings, the base score.
        **standing_public(standing, today or today_in_china()),
        "registered_at": agency.created_at.isoformat(),
    }
    if private:
        body["legal_representative"] = agency.legal_representative
        body["contact_phone"] = agency.contact_phone
        body["address"] = agency.address
        body["documents"] = [
            {
                "id": d.id,
                "kind": d.kind,
                "filename": d.filename,
                "content_type": d.content_type,
                "size": d.size,
                "sha256": d.sha256,
            }
            for d in profile.documents
        ]
    return body


# -- the awards and contracts an agency's profile lists ------------------------------------------

# An award is public from the draw's publicity (公示) on, and stays listed once final; one
# that the agency declined or lost to a disqualification is not the agency's.
SHOWN_NOTICES = (NoticeStatus.selected.value, NoticeStatus.awarded.value)
AWARDS_SHOWN = 50


@dataclass(frozen=True)
class AwardRow:
    """One award the agency holds, with the contract that followed it (if any)."""

    notice_id: str
    notice_title: str
    notice_status: str
    owner_name: str
    awarded_at: datetime
    contract_id: str | None
    contract_status: str | None
    amount_fen: int | None
    signed_on: date | None

    @property
    def on(self) -> date:
        """The day the row is dated by: the contract's signing, else the award (China time)."""
        return self.signed_on or self.awarded_at.astimezone(CHINA).date()


async def awards_of(session: AsyncSession, agency_id: int, *, limit: int = AWARDS_SHOWN) -> list[AwardRow]:
    """The agency's held awards on published results, newest first, each with the latest
    contract recorded on it (a declined or set-aside one may be followed by another)."""
    latest_contract = (
        sa.select(sa.func.max(col(Contract.id)))
        .where(col(Contract.award_id) == col(Award.id))
        .correlate(Award)
        .scalar_subquery()
    )
    stmt = (
        sa.select(
            col(Notice.public_id),
            col(Notice.title),
            col(Notice.status),
            sa.func.coalesce(col(OwnerOrg.name), col(AppUser.name)),
            col(Award.created_at),
            col(Contract.public_id),
            col(Contract.status),
            col(Contract.amount_fen),
            col(Contract.signed_on),
        )
        .join(Notice, col(Notice.id) == col(Award.notice_id))
        .join(AppUser, col(AppUser.id) == col(Notice.owner_id))
        .outerjoin(OwnerOrg, col(OwnerOrg.id) == col(Notice.org_id))
        .outerjoin(Contract, col(Contract.id) == latest_contract)
        .where(
            col(Award.agency_id) == agency_id,
            col(Award.status) == AwardStatus.holding.value,
            col(Notice.status).in_(SHOWN_NOTICES),
        )
        .order_by(col(Award.created_at).desc(), col(Award.id).desc())
        .limit(limit)
    )
    return [AwardRow(*row) for row in (await session.execute(stmt)).all()]
