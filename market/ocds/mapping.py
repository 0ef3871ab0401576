"""Rows → OCDS 1.1 releases (docs/ocds.md). Pure: no database, no HTTP.

Every published notice is one contracting process (``ocid`` = prefix + notice id). Each
stage (the tender, the award, one per contract) has one release per change: a release's id
ends with the log seq of the event that changed its stage, so an id never comes back with
different content, and every earlier release is kept and served (market/ocds/store.py).
Amendments link each change to the release it amends (``amendsReleaseID``/``releaseID``).

Nothing sealed appears before the bid deadline: no bidders, no prices, no secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from market.protocol import entry_types
from market.selection import rules as selection_rules

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")  # China has one zone and no summer time
VERSION = "1.1"
CURRENCY = "CNY"
LANGUAGE = "zh"
# The data's licence (docs/ocds.md, "Licence"): CC BY 4.0, separate from the code's Apache-2.0.
LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"
POLICY_PATH = "/data#licence"  # publicationPolicy: our open-data page, its licence and policy section
# The 18-character unified social credit code (统一社会信用代码, GB 32100-2015): its first
# character names the registration authority that issued it. org-id.guide lists only the
# enterprise register (CN-SAIC, now SAMR) for China; for every other authority we use a
# scheme of our own, marked ``X-`` as org-id.guide asks (docs/ocds.md, "Parties").
IDENTIFIER_SCHEME = "CN-SAIC"
SCHEME_BY_AUTHORITY = {
    "1": "X-CN-SCOPSR",  # 机构编制: government bodies, public institutions (机关、事业单位)
    "2": "X-CN-MFA",  # 外交: resident foreign news agencies
    "3": "X-CN-MOJ",  # 司法行政: law firms, notaries, arbitration commissions
    "4": "X-CN-MCT-CULTURE",  # 文化: foreign cultural centres
    "5": "X-CN-MCA",  # 民政: social organisations, private non-enterprise units, foundations
    "6": "X-CN-MCT-TOURISM",  # 旅游: foreign tourism offices
    "7": "X-CN-NRAB",  # 宗教: places of religious activity, religious schools
    "8": "X-CN-ACFTU",  # 工会: trade unions
    "9": IDENTIFIER_SCHEME,  # 工商 (市场监管): enterprises, individual businesses, cooperatives
    "A": "X-CN-CMC-ORG",  # 中央军委改革和编制办公室: military public institutions
    "N": "X-CN-MARA",  # 农业农村: rural collective economic organisations
    "Y": "X-CN-USCC",  # 其他: other registration authorities
}
UNKNOWN_SCHEME = "X-CN-USCC"  # a code whose authority we do not recognise
# A hall (交易大厅) as an organisation: its code (GB/T 2260 for the province, prefectures and
# counties; the parent's code and a suffix for a development park) in a scheme of our own,
# since org-id.guide lists no register of them (docs/ocds.md).
HALL_SCHEME = "X-MARKET-HALL"
HALL_PARTY_PREFIX = "HALL-"
CATEGORY_SCHEME = "x_market_category"
EXTENSION_PATH = "/ocds/extension.json"

METHOD_DETAILS = {
    "lottery": "随机抽取 (lottery: random draw among eligible bidders, MSP/1)",
    "lowest_price": "最低价 (lowest price among eligible bidders)",
    "direct": "直接选取 (direct selection of the agency named in the notice)",
}
# awardCriteria is an open codelist with no code for a random draw: the lottery and direct
# selection leave it out rather than claim a criterion that was not used, and say what was
# done in awardCriteriaDetails.
AWARD_CRITERIA = {"lowest_price": "priceOnly"}
AWARD_CRITERIA_DETAILS = {
    "lottery": "随机抽取：在合格投标人中按 MSP/1 公开抽签，无评分，价格不参与 (random draw among eligible bidders under MSP/1; no scoring, price plays no part)",
    "lowest_price": "最低价：合格投标人中报价最低者中选，同价按 MSP/1 抽签顺序 (lowest price among eligible bidders; ties in MSP/1 draw order)",
    "direct": "直接选取：公告中指定的中介机构，理由见 procurementMethodRationale (direct selection of the named agency; see procurementMethodRationale)",
}
TENDER_STATUS = {
    "open": "active",
    "closed": "active",  # closed, waiting for the committed beacon round: still being decided
    "selected": "complete",
    "awarded": "complete",
    "failed": "unsuccessful",
    "cancelled": "cancelled",
}
CONTRACT_STATUS = {
    "proposed": "pending",
    "in_service": "active",
    "completed": "terminated",
    "stopped": "terminated",
    "declined": "cancelled",  # never signed: the agency declined and the award passed on
    "disputed": "pending",  # declined because its terms do not follow the award: a supervisor decides
    "set_aside": "cancelled",  # never signed: its terms did not follow the award, the award stands
}
TENDER_EVENTS = (
    entry_types.NOTICE_PUBLISHED,
    entry_types.NOTICE_AMENDED,
    entry_types.NOTICE_CANCELLED,
    entry_types.BIDDING_CLOSED,
    entry_types.SELECTION_DRAWN,
    entry_types.SELECTION_DIRECT,
    entry_types.SELECTION_FAILED,
)
AWARD_EVENTS = (
    entry_types.SELECTION_DRAWN,
    entry_types.SELECTION_DIRECT,
    entry_types.AWARD_DECLINED,
    entry_types.AWARD_DISQUALIFIED,
    entry_types.AWARD_FINAL,
)


@dataclass(frozen=True)
class Org:
    """A buyer or an agency as published: public id, name, credit code, region."""

    id: str
    name: str
    credit_code: str
    region: str
    region_name: str = ""


@dataclass(frozen=True)
class Hall:
    """The hall (交易大厅) a notice was published in: the procuring entity of its process."""

    code: str
    name_zh: str
    name_en: str = ""


@dataclass(frozen=True)
class Event:
    seq: int
    type: str
    ts: datetime
    contract_id: str | None = None


@dataclass(frozen=True)
class ContractRows:
    contract: Any  # market.contracts.models.Contract
    milestones: Sequence[Any]  # its Milestone rows
    award: Any  # the Award row it follows
    agency: Org


@dataclass
class Process:
    """Everything one notice's releases are made from."""

    notice: Any  # market.notices.models.Notice, published
    category_name: str
    buyer: Org | None
    events: Sequence[Event]
    selection: Any | None = None  # market.selection.models.Selection, after closing
    awards: Sequence[Any] = ()  # Award rows, every one ever made
    agencies: Mapping[str, Org] = field(default_factory=dict)  # by public id: bidders and award holders
    contracts: Sequence[ContractRows] = ()
    revisions: Sequence[Any] = ()  # NoticeRevision rows
    holders: Sequence[str] = ()
    hall: Hall | None = None  # the notice's hall for life (None: none recorded)


# -- values --------------------------------------------------------------------------------------


def rfc3339(value: datetime) -> str:
    """UTC, seconds precision: 2026-03-01T09:00:00Z. A naive value is refused: an instant
    with no zone cannot keep the timeline's order."""
    if value.tzinfo is None:
        raise ValueError("a release date must be an aware datetime")
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def china_day(value: date, *, end: bool = False) -> str:
    """A China calendar date (a period's bound, not an event) as the UTC instant of its
    start (or its last second) in Beijing time: 2026-03-02 → 2026-03-01T16:00:00Z."""
    local = datetime.combine(value, time(23, 59, 59) if end else time(0, 0, 0), tzinfo=BEIJING)
    return rfc3339(local)


def identifier_scheme(credit_code: str) -> str:
    """The org-id.guide (or ``X-``) scheme of a unified social credit code, by the
    registration authority its first character names (GB 32100-2015)."""
    code = credit_code.strip().upper()
    if len(code) != 18:
        return UNKNOWN_SCHEME
    return SCHEME_BY_AUTHORITY.get(code[0], UNKNOWN_SCHEME)


def yuan(fen: int) -> int | float:
    """Fen → yuan as a JSON number, exact: whole yuan stay integers; otherwise the float
    whose shortest repr is the two-decimal amount (12345 fen → 123.45)."""
    if fen % 100 == 0:
        return fen // 100
    return float(Decimal(fen) / 100)


def money(fen: int) -> dict[str, Any]:
    return {"amount": yuan(fen), "currency": CURRENCY}


def ocid(prefix: str, notice_id: str) -> str:
    return f"{prefix}{notice_id}"


def award_id(notice_id: str, award: Any) -> str:
    """Stable and public: the notice, the winner's place, the seq that gave it."""
    return f"{notice_id}-A{award.slot}-{award.since_seq}"


def org_ref(org: Org) -> dict[str, str]:
    return {"id": org.id, "name": org.name}


def hall_name(hall: Hall) -> str:
    """The hall as an organisation: its supermarket (中介超市) of public resource trading."""
    return f"{hall.name_zh}公共资源交易中介超市"


def hall_ref(hall: Hall) -> dict[str, str]:
    return {"id": HALL_PARTY_PREFIX + hall.code, "name": hall_name(hall)}


def hall_party(hall: Hall) -> dict[str, Any]:
    return {
        **hall_ref(hall),
        "identifier": {"scheme": HALL_SCHEME, "id": hall.code, "legalName": hall_name(hall)},
        "address": {"countryName": "中国", "region": hall.name_zh},
        "roles": ["procuringEntity"],
    }


def hall_publisher(hall: Hall, *, base_url: str) -> dict[str, str]:
    """A package's publisher when it holds one hall's processes (rolled up): the hall."""
    return {
        "name": hall_name(hall),
        "scheme": HALL_SCHEME,
        "uid": hall.code,
        "uri": f"{base_url}/halls/{hall.code}",
    }


def party(org: Org, roles: list[str]) -> dict[str, Any]:
    address: dict[str, str] = {"countryName": "中国"}
    if org.region_name:
        address["region"] = org.region_name
    return {
        "id": org.id,
        "name": org.name,
        "identifier": {
            "scheme": identifier_scheme(org.credit_code),
            "id": org.credit_code,
            "legalName": org.name,
        },
        "address": address,
        "roles": roles,
    }


def _last(events: Sequence[Event], types: Sequence[str], *, contract_id: str | None = None) -> Event | None:
    found = [e for e in events if e.type in types and (contract_id is None or e.contract_id == contract_id)]
    return max(found, key=lambda e: e.seq) if found else None


def _seqs(events: Sequence[Event], *types: str) -> list[int]:
    return sorted(e.seq for e in events if e.type in types)


def release_id(process_id: str, stage: str, seq: int) -> str:
    """A stage's release made by the event at ``seq``: one per change, never reused."""
    return f"{process_id}-{stage}-{seq}"


def _before(seqs: Sequence[int], seq: int) -> int | None:
    earlier = [s for s in seqs if s < seq]
    return max(earlier) if earlier else None


def amendment(
    process_id: str, stage: str, seqs: Sequence[int], event: Event, description: str
) -> dict[str, Any] | None:
    """The change made by ``event`` to a stage as an OCDS amendment: the release it amends
    (the stage's release before it) and the release it made. None for a stage's first event."""
    previous = _before(seqs, event.seq)
    if previous is None:
        return None
    return {
        "id": str(event.seq),
        "date": rfc3339(event.ts),
        "description": description,
        "amendsReleaseID": release_id(process_id, stage, previous),
        "releaseID": release_id(process_id, stage, event.seq),
    }


# -- the selection extension ---------------------------------------------------------------------


def selection_object(p: Process, *, base_url: str) -> dict[str, Any]:
    """The lottery's inputs and result (extension ``selection``), built from the same
    selection record the API publishes, so nothing sealed shows before closing."""
    seqs: dict[str, list[int]] = {}
    for e in p.events:
        seqs.setdefault(e.type, []).append(e.seq)
    record = selection_rules.selection_record(
        notice=p.notice, selection=p.selection, seqs=seqs, holders=list(p.holders), base_url=base_url
    )
    s = record["seqs"]
    log_seqs = {
        "published": s["published"],
        "amended": s["amended"],
        "cancelled": s["cancelled"],
        "bidsAccepted": s["bids_accepted"],
        "bidsWithdrawn": s["bids_withdrawn"],
        "closed": s["closed"],
        "outcome": s["outcome"],
        "awards": s["awards"],
        "objections": s["objections"],
        "final": s["final"],
    }
    log_seqs = {k: v for k, v in log_seqs.items() if v not in (None, [])}
    links: dict[str, str] = {}
    for key, value in log_seqs.items():
        if isinstance(value, int):
            links[key] = f"{base_url}/log/entries/{value}"
    bids = record["bids"]
    out: dict[str, Any] = {
        "method": record["method"],
        "winnersWanted": record["k"],
        "minCandidates": record["min_candidates"],
        "commit": record["commit"],
        "scheme": record["scheme"],
        "termsSha256": record["terms_sha256"],
        "fairness": record["fairness"],
        "fairnessNote": record["fairness_note"],
        "secret": record["secret"],
        "bids": (
            [
                {
                    "bidId": b["bid_id"],
                    "agencyId": b["agency_id"],
                    "priceFen": b.get("price_fen"),
                    "nonce": b.get("nonce"),
                }
                for b in bids
            ]
            if bids is not None
            else None
        ),
        "candidates": record["candidates"],
        "excluded": (
            [{"agencyId": x["agency_id"], "reason": x["reason"]} for x in record["excluded"]]
            if record["excluded"] is not None
            else None
        ),
        "eligible": record["eligible"],
        "attempt": record["attempt"],
        "beacon": record["beacon"],
        "seed": record["seed"],
        "order": record["order"],
        "ranking": record["ranking"],
        "winners": record["winners"],
        "alternates": record["alternates"],
        "holders": record["holders"] if p.selection is not None else None,
        "direct": (
            {"agencyId": record["direct"]["agency_id"], "justification": record["direct"]["justification"]}
            if record["direct"]
            else None
        ),
        "publicityEnds": record["publicity_ends"],
        "failedReason": record["failed_reason"],
        "waitingReason": record["waiting_reason"],
        "logSeqs": log_seqs,
        "logLinks": links,
        "selectionRecord": f"{base_url}/api/v1/notices/{p.notice.public_id}/selection",
        "verifyCommand": record["verify_command"],
    }
    return {k: v for k, v in out.items() if v is not None}


# -- the stages ------------------------------------------------------------------------------------


def _tender_seqs(p: Process) -> list[int]:
    types: tuple[str, ...] = TENDER_EVENTS
    if p.notice.status == "failed":  # see releases(): a failure after the award changes the tender
        types = TENDER_EVENTS + (entry_types.AWARD_DECLINED, entry_types.AWARD_DISQUALIFIED)
    return _seqs(p.events, *types)


def _tender(p: Process, *, process_id: str) -> dict[str, Any]:
    n = p.notice
    tender: dict[str, Any] = {
        "id": n.public_id,
        "title": n.title,
        "description": n.description or None,
        "status": TENDER_STATUS.get(n.status, "active"),
        "procurementMethod": "direct" if n.method == "direct" else "open",
        "procurementMethodDetails": METHOD_DETAILS[n.method],
        "mainProcurementCategory": "services",
        "awardCriteriaDetails": AWARD_CRITERIA_DETAILS[n.method],
        "value": money(n.budget_fen),
        "tenderPeriod": {"startDate": rfc3339(n.published_at), "endDate": rfc3339(n.bid_deadline)},
        "items": [
            {
                "id": "1",
                "description": p.category_name,
                "classification": {
                    "scheme": CATEGORY_SCHEME,
                    "id": n.category,
                    "description": p.category_name,
                },
            }
        ],
    }
    if n.method in AWARD_CRITERIA:
        tender["awardCriteria"] = AWARD_CRITERIA[n.method]
    if n.method == "direct" and n.direct_justification:
        tender["procurementMethodRationale"] = n.direct_justification
    if n.required_level:
        tender["eligibilityCriteria"] = f"资质等级 (qualification level): {n.required_level}"
    if n.service_days:
        tender["contractPeriod"] = {"durationInDays": n.service_days}
    # The buyer pays; the hall the notice was published in manages the procurement.
    if p.hall is not None:
        tender["procuringEntity"] = hall_ref(p.hall)
    elif p.buyer is not None:
        tender["procuringEntity"] = org_ref(p.buyer)
    if p.revisions:
        seqs = _tender_seqs(p)
        tender["amendments"] = []
        for r in sorted(p.revisions, key=lambda r: r.log_seq):
            item: dict[str, Any] = {"id": str(r.log_seq), "date": rfc3339(r.created_at)}
            if r.reason:
                item["rationale"] = r.reason
            item["description"] = "修改 (changed): " + ", ".join(sorted(r.changes))
            previous = _before(seqs, r.log_seq)
            if previous is not None:
                item["amendsReleaseID"] = release_id(process_id, "tender", previous)
            item["releaseID"] = release_id(process_id, "tender", r.log_seq)
            tender["amendments"].append(item)
    if p.selection is not None:  # closed
        # Sealed until the deadline: who bid, and how many.
        bidders = [b["agency_id"] for b in p.selection.bids]
        tender["numberOfTenderers"] = len(bidders)
        tender["tenderers"] = [org_ref(p.agencies[a]) for a in bidders if a in p.agencies]
    if tender["description"] is None:
        del tender["description"]
    return tender


def _award_status(award: Any, final: bool) -> str:
    if award.status != "holding":
        return "cancelled"
    return "active" if final else "pending"


AWARD_CHANGES = {
    entry_types.AWARD_DECLINED: "中选人放弃 (the holder declined)",
    entry_types.AWARD_DISQUALIFIED: "异议成立，取消资格 (disqualified after an objection)",
    entry_types.AWARD_FINAL: "公示期满，中选结果确定 (publicity over: the award is final)",
    entry_types.CONTRACT_SIGNED: "合同签订，中选金额确定 (contract signed: the award's value is known)",
}
SIGNED = ("in_service", "completed", "stopped")
OBJECTION_EVENTS = (
    entry_types.OBJECTION_FILED,
    entry_types.OBJECTION_ANSWERED,
    entry_types.OBJECTION_DECIDED,
)


def award_types(p: Process) -> tuple[str, ...]:
    """The events that change the award stage: everything its release shows. An objection
    changes its ``selection.logSeqs``; for a lottery or a direct selection the signed
    contract gives the award its value."""
    types: tuple[str, ...] = AWARD_EVENTS + OBJECTION_EVENTS
    if p.notice.method != "lowest_price":
        types += (entry_types.CONTRACT_SIGNED,)
    return types


def _awards(p: Process, *, process_id: str) -> list[dict[str, Any]]:
    sel = p.selection
    final = sel is not None and sel.final_seq is not None
    prices = {b["agency_id"]: b.get("price_fen") for b in (sel.bids if sel is not None else [])}
    # What the marketplace knows of a lottery's or a direct award's value: the amount of
    # the contract recorded under it (a lottery bid carries no price).
    amounts = {
        rows.award.id: rows.contract.amount_fen for rows in p.contracts if rows.contract.status in SIGNED
    }
    award_of_contract = {rows.contract.public_id: rows.award.id for rows in p.contracts}
    types = award_types(p)
    seqs = _seqs(p.events, *types)
    changes = [
        e for e in sorted(p.events, key=lambda e: e.seq) if e.type in AWARD_CHANGES and e.type in types
    ]
    out = []
    for a in sorted(p.awards, key=lambda a: (a.since_seq, a.slot)):
        org = p.agencies.get(a.agency_public_id)
        place = a.slot + 1  # places are numbered from 1 (slots from 0)
        item: dict[str, Any] = {
            "id": award_id(p.notice.public_id, a),
            "title": f"{p.notice.title}（第 {place} 名中选 / place {place}）",
            "status": _award_status(a, final),
            "date": rfc3339(a.created_at),
            "suppliers": [org_ref(org)] if org else [{"id": a.agency_public_id}],
        }
        if a.status != "holding":
            item["statusDetails"] = {
                "declined": "放弃 (declined)",
                "disqualified": "异议成立，取消资格 (disqualified after an objection)",
            }.get(a.status, a.status)
        price = prices.get(a.agency_public_id) if p.notice.method == "lowest_price" else None
        if price is None:
            price = amounts.get(a.id)
        if price is not None:
            item["value"] = money(price)
        amendments = []
        for e in changes:
            if e.type == entry_types.AWARD_FINAL:
                touched = a.since_seq < e.seq
            elif e.type == entry_types.CONTRACT_SIGNED:
                touched = award_of_contract.get(e.contract_id or "") == a.id
            else:
                touched = a.ended_seq == e.seq
            made = amendment(process_id, "award", seqs, e, AWARD_CHANGES[e.type]) if touched else None
            if made is not None:
                amendments.append(made)
        if amendments:
            item["amendments"] = amendments
        out.append(item)
    return out


def _milestone_status(m: Any, contract_status: str) -> str:
    if m.status == "accepted":
        return "met"
    if m.overdue_on is not None or contract_status == "stopped":
        return "notMet"
    return "scheduled"


CONTRACT_STAGE_NOTE = "合同变更 (the contract changed): "


def _contract(p: Process, rows: ContractRows, *, process_id: str) -> dict[str, Any]:
    c = rows.contract
    mine = sorted((e for e in p.events if e.contract_id == c.public_id), key=lambda e: e.seq)
    signed = next((e for e in mine if e.type == entry_types.CONTRACT_SIGNED), None)
    out: dict[str, Any] = {
        "id": c.public_id,
        "awardID": award_id(p.notice.public_id, rows.award),
        "title": p.notice.title,
        "status": CONTRACT_STATUS[c.status],
        "value": money(c.amount_fen),
        "period": {"startDate": china_day(c.start_on), "endDate": china_day(c.due_on, end=True)},
        "implementation": {
            "milestones": [
                {
                    "id": f"{c.public_id}-M{m.position}",
                    "title": m.title,
                    "type": "delivery",
                    "dueDate": china_day(m.due_on, end=True),
                    "status": _milestone_status(m, c.status),
                    **(
                        {"dateMet": rfc3339(m.accepted_at)}
                        if m.status == "accepted" and m.accepted_at
                        else {}
                    ),
                }
                for m in sorted(rows.milestones, key=lambda m: m.position)
            ]
        },
    }
    if c.status in SIGNED:
        # The instant the agency confirmed (the contract.signed entry), not the signing day's
        # local midnight, which falls before the award it follows when both are on one day.
        out["dateSigned"] = rfc3339(signed.ts) if signed is not None else china_day(c.signed_on)
    stage = f"contract-{c.public_id}"
    seqs = [e.seq for e in mine]
    changes = [amendment(process_id, stage, seqs, e, CONTRACT_STAGE_NOTE + e.type) for e in mine]
    if any(changes):
        out["amendments"] = [a for a in changes if a is not None]
    if c.status == "stopped" and c.stop_reason:
        out["statusDetails"] = f"服务中止 (stopped): {c.stop_reason}"
    elif c.status == "completed":
        out["statusDetails"] = "服务完成 (completed)"
    elif c.status == "declined":
        out["statusDetails"] = "中介机构未确认，中选资格顺延 (declined by the agency; the award passed on)"
    elif c.status == "disputed":
        out["statusDetails"] = (
            "合同条款与中选结果不符，待监管人员决定 (declined as not following the award; a supervisor decides)"
        )
    elif c.status == "set_aside":
        out["statusDetails"] = (
            "合同条款与中选结果不符，已撤销，中选结果维持 (set aside: its terms did not follow the award)"
        )
    return out


def _contract_tag(c: Any, events: Sequence[Event]) -> list[str]:
    if c.status in ("completed", "stopped"):
        return ["contractTermination"]
    if c.status == "proposed":
        return ["contract"]
    tags = ["contractUpdate"]
    if any(e.type.startswith("milestone.") for e in events):
        tags.append("implementationUpdate")
    return tags


def _parties(p: Process, *, with_bidders: bool, with_suppliers: bool) -> list[dict[str, Any]]:
    roles: dict[str, list[str]] = {}
    if with_bidders and p.selection is not None:
        for b in p.selection.bids:
            roles.setdefault(b["agency_id"], []).append("tenderer")
    if with_suppliers:
        for a in p.awards:
            got = roles.setdefault(a.agency_public_id, [])
            if "supplier" not in got:
                got.insert(0, "supplier")
            if "tenderer" not in got:
                got.append("tenderer")
    out = []
    if p.buyer is not None:
        out.append(party(p.buyer, ["buyer"] if p.hall is not None else ["buyer", "procuringEntity"]))
    if p.hall is not None:
        out.append(hall_party(p.hall))
    out += [party(p.agencies[a], r) for a, r in roles.items() if a in p.agencies]
    return out


def _release(p: Process, *, prefix: str, stage: str, event: Event, tag: list[str]) -> dict[str, Any]:
    process_id = ocid(prefix, p.notice.public_id)
    release: dict[str, Any] = {
        "ocid": process_id,
        "id": release_id(process_id, stage, event.seq),
        "date": rfc3339(event.ts),
        "tag": tag,
        "initiationType": "tender",
        "language": LANGUAGE,
    }
    if p.buyer is not None:
        release["buyer"] = org_ref(p.buyer)
    return release


def releases(p: Process, *, prefix: str, base_url: str = "") -> list[dict[str, Any]]:
    """The process's releases, oldest first: tender, award (after a draw or direct
    selection), one per contract. A notice never published has none."""
    n = p.notice
    if n.published_at is None or not any(e.type == entry_types.NOTICE_PUBLISHED for e in p.events):
        return []
    out = []
    closed = p.selection is not None
    tender_event = _last(p.events, TENDER_EVENTS)
    if n.status == "failed":  # a failure after the award: the last winner declined or was disqualified
        tender_event = _last(
            p.events, TENDER_EVENTS + (entry_types.AWARD_DECLINED, entry_types.AWARD_DISQUALIFIED)
        )
    assert tender_event is not None
    if n.status == "cancelled":
        tag = ["tenderCancellation"]
    elif closed:
        tag = ["tenderUpdate"]
    elif p.revisions:
        tag = ["tenderAmendment"]
    else:
        tag = ["tender"]
    release = _release(p, prefix=prefix, stage="tender", event=tender_event, tag=tag)
    release["parties"] = _parties(p, with_bidders=closed, with_suppliers=False)
    release["tender"] = _tender(p, process_id=release["ocid"])
    release["selection"] = selection_object(p, base_url=base_url)
    out.append(release)

    if p.awards:
        award_event = _last(p.events, award_types(p))
        assert award_event is not None
        release = _release(
            p,
            prefix=prefix,
            stage="award",
            event=award_event,
            tag=["award"] if award_event.type.startswith("selection.") else ["awardUpdate"],
        )
        release["parties"] = _parties(p, with_bidders=True, with_suppliers=True)
        release["awards"] = _awards(p, process_id=release["ocid"])
        release["selection"] = selection_object(p, base_url=base_url)
        out.append(release)

    for rows in sorted(p.contracts, key=lambda r: r.contract.recorded_seq):
        c = rows.contract
        mine = [e for e in p.events if e.contract_id == c.public_id]
        event = max(mine, key=lambda e: e.seq) if mine else None
        if event is None:
            continue
        release = _release(
            p, prefix=prefix, stage=f"contract-{c.public_id}", event=event, tag=_contract_tag(c, mine)
        )
        release["parties"] = _parties(p, with_bidders=False, with_suppliers=True)
        release["contracts"] = [_contract(p, rows, process_id=release["ocid"])]
        out.append(release)
    return out


def _package_head(
    *, uri: str, published: str | datetime, publisher: str | dict[str, str], base_url: str
) -> dict[str, Any]:
    return {
        "uri": uri,
        "version": VERSION,
        "extensions": [f"{base_url}{EXTENSION_PATH}"],
        "publishedDate": rfc3339(published) if isinstance(published, datetime) else published,
        "publisher": {"name": publisher} if isinstance(publisher, str) else publisher,
        "license": LICENSE_URL,
        "publicationPolicy": f"{base_url}{POLICY_PATH}",
    }


def package(
    releases: list[dict[str, Any]],
    *,
    uri: str,
    published: str | datetime,
    publisher: str | dict[str, str],
    base_url: str,
    next_url: str | None = None,
) -> dict[str, Any]:
    """A release package under the data's licence (CC BY 4.0). ``published`` is the date of
    the data it holds (the log's last entry), not of the request: the same data gives the
    same bytes."""
    body = _package_head(uri=uri, published=published, publisher=publisher, base_url=base_url)
    body["releases"] = releases
    if next_url:
        body["links"] = {"next": next_url}
    return body


def merge(target: Any, update: Any) -> Any:
    """OCDS's merge of one release into the compiled one: objects field by field, arrays of
    objects with ``id`` item by item (identifier merge), any other value replaced; ``None``
    is never published, so nothing is removed."""
    if isinstance(target, dict) and isinstance(update, dict):
        out = dict(target)
        for key, value in update.items():
            out[key] = merge(out.get(key), value)
        return out
    if (
        isinstance(target, list)
        and isinstance(update, list)
        and all(isinstance(x, dict) and "id" in x for x in target + update)
    ):
        merged = {x["id"]: x for x in target}
        for x in update:
            merged[x["id"]] = merge(merged.get(x["id"]), x)
        return list(merged.values())
    return update


def _oldest_first(releases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A process's releases by date, then by the log seq that ends each release id."""
    return sorted(releases, key=lambda r: (r["date"], int(r["id"].rsplit("-", 1)[1])))


def compiled_release(releases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The process's current state: its releases merged oldest first (by date, then id seq)."""
    ordered = _oldest_first(releases)
    out: dict[str, Any] = {}
    for r in ordered:
        out = merge(out, {k: v for k, v in r.items() if k not in ("id", "tag")})
    last = ordered[-1]
    return {"id": f"{last['ocid']}-compiled-{last['id'].rsplit('-', 1)[1]}", "tag": ["compiled"], **out}


def record(releases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One process's record: every release it ever had (embedded) and the compiled release."""
    ordered = _oldest_first(releases)
    return {
        "ocid": ordered[0]["ocid"],
        "releases": list(ordered),
        "compiledRelease": compiled_release(ordered),
    }


def record_package(
    records: list[dict[str, Any]],
    *,
    uri: str,
    published: str | datetime,
    publisher: str | dict[str, str],
    base_url: str,
    next_url: str | None = None,
) -> dict[str, Any]:
    """A record package under the data's licence, like :func:`package`."""
    body = _package_head(uri=uri, published=published, publisher=publisher, base_url=base_url)
    body["records"] = records
    if next_url:
        body["links"] = {"next": next_url}
    return body
