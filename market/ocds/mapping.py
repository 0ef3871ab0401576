"""Rows → OCDS 1.1 releases (docs/ocds.md). Pure: no database, no HTTP.

Every published notice is one contracting process (``ocid`` = prefix + notice id). Each
stage is one release holding that stage's latest state: the tender, the award, and one per
contract. A release's id ends with the log seq of the last event that changed its stage, so
an id never comes back with different content; the history itself is in the log, which
the ``selection`` extension object links to.

Nothing sealed appears before the bid deadline: no bidders, no prices, no secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from market.protocol import entry_types
from market.selection import rules as selection_rules

VERSION = "1.1"
CURRENCY = "CNY"
LANGUAGE = "zh"
# org-id.guide's code for China's national enterprise register (now SAMR); since 2015 the
# identifiers it issues are the 18-character unified social credit codes (统一社会信用代码).
IDENTIFIER_SCHEME = "CN-SAIC"
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
    """UTC, seconds precision: 2026-03-01T09:00:00Z."""
    from datetime import UTC

    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def china_day(value: date, *, end: bool = False) -> str:
    """A China calendar date as an RFC 3339 instant: its start (or its last second)."""
    return f"{value.isoformat()}T{'23:59:59' if end else '00:00:00'}+08:00"


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
        "identifier": {"scheme": IDENTIFIER_SCHEME, "id": org.credit_code, "legalName": org.name},
        "address": address,
        "roles": roles,
    }


def _last(events: Sequence[Event], types: Sequence[str], *, contract_id: str | None = None) -> Event | None:
    found = [e for e in events if e.type in types and (contract_id is None or e.contract_id == contract_id)]
    return max(found, key=lambda e: e.seq) if found else None


def _seqs(events: Sequence[Event], *types: str) -> list[int]:
    return sorted(e.seq for e in events if e.type in types)


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


def _tender(p: Process) -> dict[str, Any]:
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
        tender["amendments"] = [
            {
                "id": str(r.log_seq),
                "date": rfc3339(r.created_at),
                "rationale": r.reason or None,
                "description": "修改 (changed): " + ", ".join(sorted(r.changes)),
            }
            for r in sorted(p.revisions, key=lambda r: r.log_seq)
        ]
        for a in tender["amendments"]:
            if a["rationale"] is None:
                del a["rationale"]
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


def _awards(p: Process) -> list[dict[str, Any]]:
    sel = p.selection
    final = sel is not None and sel.final_seq is not None
    prices = {b["agency_id"]: b.get("price_fen") for b in (sel.bids if sel is not None else [])}
    out = []
    for a in sorted(p.awards, key=lambda a: (a.since_seq, a.slot)):
        org = p.agencies.get(a.agency_public_id)
        item: dict[str, Any] = {
            "id": award_id(p.notice.public_id, a),
            "title": f"{p.notice.title}（第 {a.slot} 名中选 / place {a.slot}）",
            "status": _award_status(a, final),
            "date": rfc3339(a.created_at),
            "suppliers": [org_ref(org)] if org else [{"id": a.agency_public_id}],
        }
        if a.status != "holding":
            item["statusDetails"] = {
                "declined": "放弃 (declined)",
                "disqualified": "异议成立，取消资格 (disqualified after an objection)",
            }.get(a.status, a.status)
        price = prices.get(a.agency_public_id)
        if price is not None:
            item["value"] = money(price)
        out.append(item)
    return out


def _milestone_status(m: Any, contract_status: str) -> str:
    if m.status == "accepted":
        return "met"
    if m.overdue_on is not None or contract_status == "stopped":
        return "notMet"
    return "scheduled"


def _contract(p: Process, rows: ContractRows) -> dict[str, Any]:
    c = rows.contract
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
    if c.status in ("in_service", "completed", "stopped"):
        out["dateSigned"] = china_day(c.signed_on)
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
        "id": f"{process_id}-{stage}-{event.seq}",
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
    release["tender"] = _tender(p)
    release["selection"] = selection_object(p, base_url=base_url)
    out.append(release)

    if p.awards:
        award_event = _last(p.events, AWARD_EVENTS)
        assert award_event is not None
        release = _release(
            p,
            prefix=prefix,
            stage="award",
            event=award_event,
            tag=["award"] if award_event.type.startswith("selection.") else ["awardUpdate"],
        )
        release["parties"] = _parties(p, with_bidders=True, with_suppliers=True)
        release["awards"] = _awards(p)
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
        release["contracts"] = [_contract(p, rows)]
        out.append(release)
    return out


def package(
    releases: list[dict[str, Any]],
    *,
    uri: str,
    published: datetime,
    publisher: str | dict[str, str],
    base_url: str,
    next_url: str | None = None,
) -> dict[str, Any]:
    """A release package. No licence has been chosen for the data yet, so ``license`` is
    left out rather than guessed (the schema does not require it)."""
    body: dict[str, Any] = {
        "uri": uri,
        "version": VERSION,
        "extensions": [f"{base_url}{EXTENSION_PATH}"],
        "publishedDate": rfc3339(published),
        "publisher": {"name": publisher} if isinstance(publisher, str) else publisher,
        "publicationPolicy": f"{base_url}/data",
        "releases": releases,
    }
    if next_url:
        body["links"] = {"next": next_url}
    return body
