"""The public (and, for those allowed, private) shape of agencies."""

from __future__ import annotations

from datetime import date
from typing import Any

from market.agencies.models import ReviewStatus
from market.agencies.queries import Profile
from market.core.clock import today_in_china
from market.ratings.service import Standing
from market.reference import regions


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
