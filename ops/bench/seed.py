#!/usr/bin/env python3
"""A provincial-scale data set for the benchmarks (issue 10, item 1), loaded with COPY.

    .venv/bin/python ops/bench/seed.py                        # DATABASE_URL's database
    .venv/bin/python ops/bench/seed.py --scale 0.01           # a hundredth of everything
    .venv/bin/python ops/bench/seed.py --scratch --keep       # a fresh database, left in place
    .venv/bin/python ops/bench/seed.py --agencies 40 --notices 300 --bids 2000 --log-entries 2000

By default: 10,000 agencies, 100,000 notices, 1,000,000 bids and a log of 1,000,000
entries, with everything around them that the application holds: staff, owner and agency
accounts (one password for all, printed), owner organisations and projects, agencies in
every status with their categories, qualifications (pending, approved, rejected and
superseded ones), documents and review history; notices in every status across the
catalogue and Yunnan's 16 prefectures, some amended, some with an avoidance list, direct
selections naming their agency; bids standing and withdrawn; for every closed notice its
selection (the openings, candidates, exclusions, the draw re-derived with
market.selection.rules), awards
(held, declined, disqualified), objections in every status, messages, and for final awards
contracts in every status with milestones, deliverables and ratings. The database must be
migrated and empty. Rows go in with asyncpg's COPY on one connection in one transaction,
which also holds the log's append lock; log_subtree is built from the entries in SQL. For a
superuser the row-by-row foreign-key checks are off during the load and every foreign key
is checked afterwards with one anti-join each, and indexes that no constraint owns are
dropped and rebuilt (each rebuild of a unique one checks it). Public-id and serial
sequences are then set past the seeded ids so the application carries on numbering, and
the database is vacuumed and analysed. Timings per table are printed.

MSP/2 throughout (docs/protocol/msp.md): every published notice is protocol 2 with
``sealing`` "server", and every entry is v 2. A bid row keeps no price, document, nonce or
receipt in the clear (the ck_bid_protocol_columns constraint holds): its ``commitment``,
and in ``sealed`` the canonical JSON {"document", "receipt", "salt"} sealed with the data
dir's seal key (SecretSealer: AES-256-GCM, label "bid/<bid id>"), and for a withdrawal its
``withdrawal_seq`` and the withdrawal's salt in ``withdrawal_sealed`` ("bid/<bid id>/
withdrawal"): what place_bid and withdraw_bid store, so the server opens them when it
closes or cancels a seeded notice. A bid released by its notice's cancellation has no
withdrawal entry (the cancellation opens it standing). Salts are 32 random bytes each,
from os.urandom. Every ended notice has ``opened_seq``, and every closed one its
selection's ``openings`` (every bid placed, sorted by bid id).

The log, and what in it agrees with the tables. The log has exactly ``log_entries``
entries, in two parts:

1. The logged part, at the end: the true story of every live notice (open, waiting for the
   beacon, in publicity, or failed among them) and of the notices cancelled in the last
   weeks, built with market.log.store.build_entry from the very rows seeded:
   notice.published (with ``sealing``; and notice.amended) with the notices' commitments
   and terms hashes, a bid.sealed entry for each bid and each withdrawal (its commitment
   alone; log_entry.notice_id NULL), bidding.closed with the ``openings`` of every bid and
   the outcome with the selection's values, or notice.cancelled with the openings,
   objection.filed and objection.answered. Those bids' seq and leaf_hash name their
   sealed entries, and their receipts (v2 claims, inside the sealed material) are ES256
   signatures under the data dir's receipt key. So the application can carry on from the
   seed (bids on open notices, closing, cancelling, drawing, final awards) and ``market
   log verify`` still passes, every sealed entry opened once or still open.
2. The history before it, from the platform's first day: ops/bench/synthetic_log.py's
   marketplace (the one ops/bench/log_verify.py times; MSP/2, its bids sealed entries too),
   with the seeded agencies as bidders, its clock stretched over the seeded rows' time and
   placed by a dry run of the generator (made in another process while the plan is, for a
   long one) so that it ends a day before the logged part begins. Its notices still open
   where it ends never close: the verifier accepts their sealed entries while they are
   within 97 days (the longest bid window and the opening grace) of the log's time, that is
   for about two months after the anchor. It does NOT tell the finished seeded
   notices' story (a million bids cannot each have an entry in a million-entry log that also
   holds everything else): its notices are HN-000001... with bids HB-..., which no table
   holds, and the finished seeded notices have no entries of their own. What the tables say
   of them points into the history by time: the seqs of their bids, selections, awards,
   revisions, contracts and ratings, and of the agencies' reviews, are of the entry logged
   at about the row's time (so dates read back from the log, such as a final award's,
   are about right), and their bids' leaf hashes are those of the bid.sealed entry the
   bid would have had at that seq (a withdrawal's seq likewise, after its bid's). Their
   receipts are unsigned JWS (alg "none") over the same claims, since no entry exists for a
   signature to vouch for; their selections' openings name those seqs. Pages that read a
   notice's own entries (its draw record's seqs, the audit log filtered by notice, OCDS
   releases, which are made from them) show nothing of the log for finished notices.

If the log is too small for every live notice's story, the earliest live notices are told
and the rest are treated like finished ones (a later bid on one of those would fail
verification).

Deterministic: the same sizes, ``rng_seed`` and ``now`` (default: the current time rounded
down to the hour; it anchors every date) give the same rows, except the random salts of
the bids and withdrawals and of the objectors' commitments (and so their commitments, leaf hashes and receipts, and the
openings), the random nonces of the sealed secrets and bids (AES-GCM) and of the ES256
receipt and checkpoint signatures.
Uploaded files (agency documents, deliverables) are rows only: opening one answers 404
("the stored file is missing"). Witness tables are left empty.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import concurrent.futures
import gc
import hashlib
import json
import math
import multiprocessing
import os
import random
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Run as a script, Python puts this directory first on the path; the project root takes its
# place, so that the modules here are imported as ops.bench.* like everywhere else.
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from market import protocol  # noqa: E402
from market.agencies import rules as agency_rules  # noqa: E402
from market.agencies.creditcode import complete_credit_code  # noqa: E402
from market.agencies.demo import KINDS, PLACES, TRADE_NAMES  # noqa: E402
from market.agencies.rules import automatic_reason  # noqa: E402
from market.agencies.service import AGENCY_ID_SEQUENCE  # noqa: E402
from market.bids.models import SealedBid, bid_label, withdrawal_label  # noqa: E402
from market.bids.receipts import ReceiptSigner, claims_of  # noqa: E402
from market.core.clock import CHINA  # noqa: E402
from market.core.config import Settings, normalize_database_url  # noqa: E402
from market.core.db import to_asyncpg_dsn  # noqa: E402
from market.core.ids import format_public_id  # noqa: E402
from market.log import store  # noqa: E402
from market.log.signer import LogSigner  # noqa: E402
from market.notices import rules as notice_rules  # noqa: E402
from market.notices.secrets import SecretSealer  # noqa: E402
from market.objections.service import objector_commitment  # noqa: E402
from market.protocol import entry_types  # noqa: E402
from market.reference import catalogue, regions  # noqa: E402
from market.security.passwords import hash_password  # noqa: E402
from market.selection import rules as selection_rules  # noqa: E402
from market.selection.beacon import emitted_at  # noqa: E402
from ops.bench.synthetic_log import START, every_for, synthetic_log  # noqa: E402

PASSWORD = "seed-password-2026"
DEFAULTS = {"agencies": 10_000, "notices": 100_000, "bids": 1_000_000, "log_entries": 1_000_000}
APPEND_LOCK = store.APPEND_LOCK
PROVINCE = "530000"
PUBLICITY = timedelta(days=3)  # Settings.publicity_days' default
# Finished notices were published this long before the anchor; live ones within the last weeks.
HISTORIC_SPAN = (timedelta(days=400), timedelta(days=60))

AGENCY_STATUSES = {
    "approved": 0.86,
    "pending": 0.05,
    "rejected": 0.02,
    "suspended": 0.04,
    "blacklisted": 0.03,
}
NOTICE_STATUSES = {
    "draft": 0.04,
    "open": 0.12,
    "closed": 0.002,
    "selected": 0.05,
    "failed": 0.07,
    "cancelled": 0.08,
    "awarded": 0.638,
}
LIVE = ("open", "closed", "selected")
RECENTLY_CANCELLED = 0.2  # of the cancelled notices: told in the log (published in the last weeks)
METHODS = (("lottery", 0.68), ("lowest_price", 0.27), ("direct", 0.05))
# Where agencies and owners are: Kunming first, as on the provincial platform.
PREFECTURE_WEIGHTS = {
    "530100": 26,
    "530300": 8,
    "530400": 5,
    "530500": 5,
    "530600": 7,
    "530700": 3,
    "530800": 4,
    "530900": 4,
    "532300": 5,
    "532500": 8,
    "532600": 6,
    "532800": 3,
    "532900": 7,
    "533100": 3,
    "533300": 1,
    "533400": 1,
}
AREA_CODES = {
    "530100": "0871",
    "530300": "0874",
    "530400": "0877",
    "530500": "0875",
    "530600": "0870",
    "530700": "0888",
    "530800": "0879",
    "530900": "0883",
    "532300": "0878",
    "532500": "0873",
    "532600": "0876",
    "532800": "0691",
    "532900": "0872",
    "533100": "0692",
    "533300": "0886",
    "533400": "0887",
}
# How often owners buy each service (the provincial platforms' statistics, roughly).
CATEGORY_WEIGHTS = {
    "EIA": 14,
    "SOIL_WATER": 7,
    "GEOHAZARD": 7,
    "SAFETY_ASSESSMENT": 6,
    "ENERGY_SAVING": 4,
    "SOCIAL_RISK": 5,
    "ENG_INVESTIGATION": 9,
    "ENG_DESIGN": 8,
    "DRAWING_REVIEW": 6,
    "COST_CONSULTING": 12,
    "ENG_SUPERVISION": 7,
    "SURVEYING": 6,
    "FEASIBILITY": 8,
    "SEISMIC_SAFETY": 2,
    "FLOOD_CONTROL": 3,
    "TENDER_AGENCY": 6,
}
DEPARTMENTS = [
    "生态环境局",
    "住房和城乡建设局",
    "交通运输局",
    "水务局",
    "自然资源局",
    "发展和改革局",
    "教育体育局",
    "卫生健康局",
    "农业农村局",
    "工业和信息化局",
    "应急管理局",
    "城市管理局",
    "文化和旅游局",
    "林业和草原局",
    "公路管理局",
    "人民医院",
    "城市投资建设集团有限公司",
    "水利水电投资有限公司",
    "交通投资建设有限公司",
    "产业园区管理委员会",
    "第一中学",
    "供排水有限公司",
    "国有资产经营有限公司",
    "乡村振兴局",
]
PROJECT_KINDS = [
    "老旧小区改造项目",
    "市政道路新建工程",
    "污水处理厂提标改造工程",
    "中小学校舍新建项目",
    "水库除险加固工程",
    "高标准农田建设项目",
    "产业园区基础设施项目",
    "人民医院门诊综合楼建设项目",
    "城市供水管网改造工程",
    "河道综合治理工程",
    "乡村振兴示范村建设项目",
    "农村公路提升改造工程",
    "保障性住房建设项目",
    "生活垃圾焚烧发电项目",
    "文化体育中心建设项目",
    "矿山生态修复工程",
    "旅游公路建设项目",
    "物流园区建设项目",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗段杨普李字"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "涛",
    "明",
    "超",
    "秀英",
    "春华",
    "建国",
    "云峰",
    "海燕",
    "志刚",
]
ROADS = [
    "人民路",
    "北京路",
    "滇池路",
    "环城南路",
    "学府路",
    "春城路",
    "建设路",
    "翠湖路",
    "民族路",
    "世纪大道",
    "迎宾路",
    "南屏街",
]
MILESTONE_TITLES = [
    ["工作方案"],
    ["工作方案及初步成果", "最终成果报告"],
    ["工作大纲", "中期成果", "成果报告及专家评审"],
]
TEXTS = {
    "reject": ["营业执照与资质证书名称不一致，请核实后重新提交", "未上传有效的资质证书扫描件"],
    "suspend": ["报告质量抽查不合格，责令整改", "未按合同约定期限提交成果，经核实属实"],
    "reinstate": ["整改完成，经复核恢复执业"],
    "blacklist": ["出具虚假评估报告", "以不正当手段承接业务，经调查属实"],
    "cancel": ["项目调整，暂停采购", "项目资金未落实，取消本次选取", "采购需求变更，重新发布公告"],
    "amend": ["补充地勘资料，延长投标截止时间", "根据答疑情况调整截止时间"],
    "avoid": ["与项目单位存在关联关系", "曾参与本项目前期咨询工作"],
    "direct": [
        "涉密项目，经主管部门批准，直接选取具备相应资质的机构承担。",
        "抢险救灾应急项目，经批准直接选取。",
    ],
    "decline": ["项目负责人调离，无法按期履约", "现有业务饱和，无法保证服务质量"],
    "objection": [
        "中选机构近一年内曾因报告质量问题被通报，请核实其执业情况。",
        "中选机构的资质等级与公告要求不符，请予以核查。",
    ],
    "answer": [
        "经核实，中选机构资质等级符合公告要求，通报事项已整改完毕。",
        "已请中选机构补充说明，相关情况属实但不影响本次选取。",
    ],
    "uphold": ["经核查异议成立，取消该机构中选资格，由候补机构递补。"],
    "dismiss": ["经核查异议不成立，维持选取结果。"],
    "stop": ["项目因规划调整暂缓实施，经双方协商中止服务", "机构多次逾期未提交成果，业主依约中止服务"],
    "return": ["成果内容不完整，请补充现场调查资料后重新提交", "报告格式不符合规范要求，请修改"],
    "note": ["成果已按合同要求完成，请审阅。", "已按审查意见修改完善，请审阅。"],
    "good": ["成果质量好，按期完成，沟通顺畅。", "服务规范，响应及时。", "报告质量较高，专家评审一次通过。"],
    "bad": ["多次延期且成果未达要求，经协商中止服务。", "沟通不畅，成果需反复修改。"],
    "reply": [
        "感谢业主评价。延期系现场资料提供滞后所致，我单位已整改项目管理流程。",
        "感谢评价，我们将继续提升服务质量。",
    ],
    "void": ["该评价与合同履约情况无关，经核实予以撤销", "评价内容含有不实信息，经核实予以撤销"],
}
TRADE_SYLLABLES = (
    "绿源滇润彩云金碧高原春城苍洱澜沧红土翠湖南诏三江云岭哀牢乌蒙碧鸡金沙抚仙玉龙梅里泽众宏远博信恒安"
)


# -- sizes and the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    agencies: int = DEFAULTS["agencies"]
    notices: int = DEFAULTS["notices"]
    bids: int = DEFAULTS["bids"]
    log_entries: int = DEFAULTS["log_entries"]

    @classmethod
    def scaled(cls, factor: float) -> Sizes:
        """The defaults times ``factor`` (0.001: 10 agencies, 100 notices, 1,000 bids and entries)."""
        return cls(**{name: max(0, round(value * factor)) for name, value in DEFAULTS.items()})


@dataclass
class SeedReport:
    sizes: Sizes
    rng_seed: int
    anchor: datetime
    password: str = PASSWORD
    tables: dict[str, tuple[int, float]] = field(default_factory=dict)  # rows, seconds
    phases: dict[str, float] = field(default_factory=dict)
    notices_by_status: dict[str, int] = field(default_factory=dict)
    logged_notices: int = 0  # live (and recently cancelled) notices whose whole story is in the log
    history_entries: int = 0  # the synthetic part
    total_seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"{'table':<18}{'rows':>12}{'seconds':>10}"]
        out += [f"{name:<18}{rows:>12,}{seconds:>10.1f}" for name, (rows, seconds) in self.tables.items()]
        out += [f"{'(' + name + ')':<30}{seconds:>10.1f}" for name, seconds in self.phases.items()]
        out.append(f"{'total':<30}{self.total_seconds:>10.1f}")
        out.append("notices: " + ", ".join(f"{n:,} {s}" for s, n in sorted(self.notices_by_status.items())))
        out.append(
            f"log: {self.history_entries:,} history entries, then the whole story of {self.logged_notices:,} live or recently cancelled notices; "
            f"dates anchored at {self.anchor.isoformat()}; every account's password: {self.password}"
        )
        return out


# -- small helpers ----------------------------------------------------------------------------------


def quotas(total: int, fractions: dict[str, float], *, at_least_one: bool) -> dict[str, int]:
    """``total`` split by ``fractions`` (largest remainders), each share at least 1 when
    asked and possible, taken from the largest."""
    raw = {k: total * f / sum(fractions.values()) for k, f in fractions.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[k] += 1
    if at_least_one and total >= 2 * len(fractions):
        for k in counts:
            if counts[k] == 0:
                counts[max(counts, key=lambda c: counts[c])] -= 1
                counts[k] = 1
    return counts


def weighted(rng: random.Random, options: dict[str, float]) -> str:
    return rng.choices(list(options), weights=list(options.values()))[0]


def china_day(t: datetime) -> date:
    return t.astimezone(CHINA).date()


def china_time(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA).astimezone(UTC)


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in [start, end], to the microsecond (log timestamps carry microseconds)."""
    span = max(0, int((end - start) / timedelta(microseconds=1)))
    return start + timedelta(microseconds=rng.randrange(span + 1))


def days(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=rng.uniform(low, high) * 86400)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def digest_hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


# -- people, organisations, agencies ----------------------------------------------------------------


@dataclass(slots=True)
class User:
    id: int
    email: str
    name: str
    role: str
    created_at: datetime
    jurisdiction: str | None = None  # a staff account's hall

    @property
    def public_id(self) -> str:
        return format_public_id("U", self.id)


@dataclass(slots=True)
class Org:
    id: int
    owner: User
    name: str
    region: str
    credit_code: str
    created_at: datetime
    projects: list[Project] = field(default_factory=list)

    @property
    def public_id(self) -> str:
        return format_public_id("OW", self.id)

    @property
    def hall(self) -> str:
        """Its region's own hall, as create_org assigns it (every prefecture and county has one)."""
        return self.region


@dataclass(slots=True)
class Project:
    id: int
    org: Org
    name: str
    code: str
    created_at: datetime

    @property
    def public_id(self) -> str:
        return format_public_id("PJ", self.id)


@dataclass(slots=True)
class Qual:
    id: int
    category: str
    level: str | None
    certificate_no: str
    valid_until: date
    status: str
    created_at: datetime
    replaces_id: int | None = None
    review_reason: str = ""


@dataclass(slots=True)
class Review:
    action: str
    from_status: str
    to_status: str
    reason: str
    until: date | None
    actor: User | None
    at: datetime


@dataclass(slots=True)
class AgencyPlan:
    id: int
    user: User
    name: str
    credit_code: str
    region: str
    status: str
    created_at: datetime
    categories: list[str]
    approved_at: datetime | None = None  # when it could first bid
    ended_at: datetime | None = None  # suspended or blacklisted from then on
    status_reason: str = ""
    status_until: date | None = None
    legal_representative: str = ""
    contact_phone: str = ""
    address: str = ""
    quals: list[Qual] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    facts_approved: agency_rules.AgencyFacts | None = None
    facts_now: agency_rules.AgencyFacts | None = None
    public_id: str = ""  # computed once: a million bids ask for it several times each

    def __post_init__(self) -> None:
        self.public_id = format_public_id("AG", self.id)

    @property
    def updated_at(self) -> datetime:
        return max([self.created_at, *(r.at for r in self.reviews)])

    def may_bid_between(self, start: datetime, end: datetime) -> bool:
        """Approved before ``start`` and still so a day later: its bid falls in between."""
        return (
            self.approved_at is not None
            and self.approved_at <= start
            and (self.ended_at is None or self.ended_at > start + timedelta(days=1))
        )

    def facts_at(self, t: datetime) -> agency_rules.AgencyFacts:
        assert self.facts_now is not None and self.facts_approved is not None
        if (
            self.approved_at is None
            or t < self.approved_at
            or (self.ended_at is not None and t >= self.ended_at)
        ):
            return self.facts_now
        return self.facts_approved


@dataclass
class People:
    staff: list[User]
    owners: list[User]
    orgs: list[Org]
    projects: list[Project]
    agencies: list[AgencyPlan]
    spare: list[User]  # agency accounts that never registered an agency
    hall_staff: list[User] = field(default_factory=list)  # below the province, acting on nothing seeded

    @property
    def admins(self) -> list[User]:
        return [u for u in self.staff if u.role == "admin"]

    @property
    def supervisors(self) -> list[User]:
        return [u for u in self.staff if u.role == "supervisor"]

    def users(self) -> Iterator[User]:
        yield from self.staff
        yield from self.owners
        yield from (a.user for a in self.agencies)
        yield from self.spare
        yield from self.hall_staff


def plan_people(sizes: Sizes, rng: random.Random, anchor: datetime) -> People:
    started = anchor - timedelta(days=4 * 365)
    staff = [
        User(i + 1, f"admin{i + 1}@seed.market.cn", f"平台管理员 {i + 1}", "admin", started, PROVINCE)
        for i in range(2)
    ]
    staff += [
        User(
            len(staff) + i + 1,
            f"supervisor{i + 1}@seed.market.cn",
            f"监管人员 {i + 1}",
            "supervisor",
            started,
            PROVINCE,
        )
        for i in range(3)
    ]
    next_id = len(staff) + 1
    owners: list[User] = []
    orgs: list[Org] = []
    places = _owner_places()
    for i in range(max(2, -(-sizes.notices // 40)) if sizes.notices else 0):
        region, place = next(places)
        name = place + DEPARTMENTS[i % len(DEPARTMENTS)]
        created = started + days(rng, 0, 3 * 365)
        user = User(next_id, f"owner{i + 1:05d}@seed.market.cn", name, "owner", created)
        next_id += 1
        owners.append(user)
        orgs.append(
            Org(
                i + 1,
                user,
                name,
                region,
                complete_credit_code("1", "1", region, f"{i + 1:08d}"),
                created + timedelta(hours=1),
            )
        )
    projects = _plan_projects(orgs, rng, anchor)
    agencies = plan_agencies(sizes.agencies, rng, anchor, next_id, staff)
    next_id += len(agencies)
    spare = [
        User(
            next_id + i,
            f"agency-new{i + 1:05d}@seed.market.cn",
            f"新注册机构 {i + 1}",
            "agency",
            anchor - days(rng, 1, 60),
        )
        for i in range(sizes.agencies // 40)
    ]
    hall_staff = _plan_hall_staff(next_id + len(spare), started, orgs)
    return People(
        staff=staff,
        owners=owners,
        orgs=orgs,
        projects=projects,
        agencies=agencies,
        spare=spare,
        hall_staff=hall_staff,
    )


def _plan_hall_staff(first_id: int, started: datetime, orgs: list[Org]) -> list[User]:
    """An administrator and a supervisor at every prefecture's hall, and a supervisor at
    every county hall that has owners: the halls' own staff, numbered after everyone else
    so the rest of the plan is as before."""
    halls = [p.code for p in regions.children(PROVINCE)]
    halls += sorted({o.hall for o in orgs} - set(halls))
    made: list[User] = []
    for code in halls:
        roles = ("admin", "supervisor") if code.endswith("00") else ("supervisor",)
        for role in roles:
            label = "管理员" if role == "admin" else "监管人员"
            made.append(
                User(
                    first_id + len(made),
                    f"{role}.{code}@seed.market.cn",
                    f"{regions.path(code)[-1].name_zh}{label}",
                    role,
                    started,
                    code,
                )
            )
    return made


def _owner_places() -> Iterator[tuple[str, str]]:
    """(code, full name) of where each owner organisation is, and so its hall: a prefecture
    drawn by its weight, then one of its counties two times in three, else the prefecture's
    own departments. From a generator of its own, so the rest of the plan draws as before."""
    rng = random.Random("owner halls")
    while True:
        prefecture = weighted(rng, PREFECTURE_WEIGHTS)
        name = regions.path(prefecture)[-1].name_zh
        if rng.random() < 2 / 3:
            county = rng.choice(regions.children(prefecture))
            yield county.code, name + county.name_zh
        else:
            yield prefecture, name


def _plan_projects(orgs: list[Org], rng: random.Random, anchor: datetime) -> list[Project]:
    projects: list[Project] = []
    for org in orgs:
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            number = len(projects) + 1
            year = rng.randint(max(notice_rules.FIRST_PROJECT_CODE_YEAR, anchor.year - 5), anchor.year)
            code = f"{year}-{org.region}-{rng.randint(10, 89):02d}-{rng.randint(1, 3):02d}-{number:06d}"
            project = Project(
                number,
                org,
                _project_place(org) + rng.choice(PROJECT_KINDS),
                code,
                org.created_at + days(rng, 1, 300),
            )
            org.projects.append(project)
            projects.append(project)
    return projects


def _project_place(org: Org) -> str:
    """The place part of an organisation's name (昆明市五华区住房和城乡建设局 → 昆明市五华区)."""
    for department in DEPARTMENTS:
        if org.name.endswith(department):
            return org.name[: -len(department)]
    return org.name


def plan_agencies(
    count: int, rng: random.Random, anchor: datetime, first_user_id: int, staff: list[User]
) -> list[AgencyPlan]:
    statuses = [
        s for s, n in quotas(count, AGENCY_STATUSES, at_least_one=count >= 20).items() for _ in range(n)
    ]
    rng.shuffle(statuses)
    counties = {p.code: [c.code for c in regions.children(p.code)] for p in regions.children(PROVINCE)}
    short = dict(PLACES)
    admins = [u for u in staff if u.role == "admin"]
    supervisors = [u for u in staff if u.role == "supervisor"]
    agencies = []
    for i, status in enumerate(statuses):
        prefecture = weighted(rng, PREFECTURE_WEIGHTS)
        region = rng.choice(counties[prefecture]) if rng.random() < 0.45 else prefecture
        kind, offered = KINDS[rng.randrange(len(KINDS))]
        categories = sorted(rng.sample(offered, 1 + rng.randrange(len(offered))))
        trade = _trade_name(i)
        name = f"{short[prefecture]}{trade}{kind}" if i % 3 else f"云南{short[prefecture]}{trade}{kind}"
        created = _registered_at(rng, status, anchor)
        user = User(
            first_user_id + i,
            f"agency{i + 1:05d}@seed.market.cn",
            name,
            "agency",
            created - timedelta(minutes=30),
        )
        agency = AgencyPlan(
            id=i + 1,
            user=user,
            name=name,
            credit_code=complete_credit_code("9", "1", region, f"MA{i + 1:06d}"),
            region=region,
            status=status,
            created_at=created,
            categories=categories,
            legal_representative=person(rng),
            contact_phone=f"{AREA_CODES[prefecture]}-{rng.randrange(6_000_000, 7_000_000)}",
            address=f"{regions.path(region)[-1].name_zh}{rng.choice(ROADS)}{rng.randint(1, 999)}号",
        )
        _history(agency, rng, anchor, admins, supervisors)
        agencies.append(agency)
    _cover_categories(agencies, rng)
    next_qual = 1
    for agency in agencies:
        next_qual = _qualifications(agency, rng, anchor, next_qual)
        _facts(agency)
    return agencies


def _trade_name(i: int) -> str:
    """The demo's trade names, then 576 distinct two-syllable ones, then repeats (with the
    place and the kind of firm around it, a full name rarely does)."""
    if i < len(TRADE_NAMES):
        return TRADE_NAMES[i]
    pairs = len(TRADE_SYLLABLES) // 2
    j = i - len(TRADE_NAMES)
    a, b = j % pairs, (j // pairs + j) % pairs
    return TRADE_SYLLABLES[2 * a : 2 * a + 2] + (TRADE_SYLLABLES[2 * b : 2 * b + 2] if b != a else "")


def _registered_at(rng: random.Random, status: str, anchor: datetime) -> datetime:
    if status == "pending":
        return anchor - days(rng, 0.5, 30)  # waiting in the review queue
    # Most registered before the oldest seeded notice, some joined since.
    return anchor - (days(rng, 420, 4 * 365) if rng.random() < 0.85 else days(rng, 45, 420))


def _history(
    agency: AgencyPlan, rng: random.Random, anchor: datetime, admins: list[User], supervisors: list[User]
) -> None:
    """The review history that leads to the agency's status, as service.transition records it."""
    if agency.status == "pending":
        return
    decided = agency.created_at + days(rng, 0.5, 10)
    if agency.status == "rejected":
        reason = rng.choice(TEXTS["reject"])
        agency.reviews.append(
            Review("reject", "pending", "rejected", reason, None, rng.choice(admins), decided)
        )
        agency.status_reason = reason
        return
    agency.approved_at = decided
    agency.reviews.append(Review("approve", "pending", "approved", "", None, rng.choice(admins), decided))
    if agency.status == "approved" and rng.random() < 0.05 and anchor - decided > timedelta(days=200):
        # Suspended once and reinstated since: history only, it bids as approved throughout.
        at = between(rng, decided + timedelta(days=30), anchor - timedelta(days=120))
        until = china_day(at) + timedelta(days=90)
        agency.reviews.append(
            Review(
                "suspend",
                "approved",
                "suspended",
                rng.choice(TEXTS["suspend"]),
                until,
                rng.choice(supervisors),
                at,
            )
        )
        agency.reviews.append(
            Review(
                "reinstate",
                "suspended",
                "approved",
                TEXTS["reinstate"][0],
                None,
                rng.choice(admins),
                at + days(rng, 20, 80),
            )
        )
    if agency.status in ("suspended", "blacklisted"):
        at = between(
            rng, max(decided + timedelta(days=5), anchor - timedelta(days=300)), anchor - timedelta(days=2)
        )
        agency.ended_at = at
        today = china_day(anchor)
        if agency.status == "suspended":
            automatic = rng.random() < 0.15
            agency.status_reason = automatic_reason(2, 365) if automatic else rng.choice(TEXTS["suspend"])
            agency.status_until = (
                None
                if rng.random() < 0.1
                else max(today + timedelta(days=7), china_day(at) + timedelta(days=182))
            )
            actor = None if automatic else rng.choice(supervisors + admins)
            agency.reviews.append(
                Review(
                    "suspend", "approved", "suspended", agency.status_reason, agency.status_until, actor, at
                )
            )
        else:
            agency.status_reason = rng.choice(TEXTS["blacklist"])
            agency.status_until = (
                None if rng.random() < 0.8 else today + timedelta(days=rng.randint(200, 900))
            )
            agency.reviews.append(
                Review(
                    "blacklist",
                    "approved",
                    "blacklisted",
                    agency.status_reason,
                    agency.status_until,
                    rng.choice(admins),
                    at,
                )
            )


def _cover_categories(agencies: list[AgencyPlan], rng: random.Random) -> None:
    """Every category offered by at least three bidding agencies where there are that
    many, so that every kind of notice can be drawn even at the smallest scales."""
    bidders = [a for a in agencies if a.status == "approved"]
    for category in catalogue.CATEGORIES:
        offering = [a for a in bidders if category.code in a.categories]
        others = [a for a in bidders if category.code not in a.categories]
        rng.shuffle(others)
        for agency in others[: max(0, min(3, len(bidders)) - len(offering))]:
            agency.categories = sorted([*agency.categories, category.code])


def _qualifications(agency: AgencyPlan, rng: random.Random, anchor: datetime, next_id: int) -> int:
    """One certificate per category (as the demo registers them), approved with the agency;
    a few expired, a few changed (superseded, pending or rejected replacements)."""
    today = china_day(anchor)
    reviewed = agency.approved_at is not None
    for category in agency.categories:
        levels = catalogue.level_codes(category)
        level = rng.choices(levels, weights=[i + 1 for i in range(len(levels))])[0] if levels else None
        expired = reviewed and rng.random() < 0.02
        valid = (
            today - timedelta(days=rng.randint(1, 300))
            if expired
            else today + timedelta(days=rng.randint(60, 1500))
        )
        number = f"{category[:3]}-{agency.created_at.year}-{agency.id:06d}{len(agency.quals)}"
        qual = Qual(
            next_id, category, level, number, valid, "approved" if reviewed else "pending", agency.created_at
        )
        next_id += 1
        change = rng.random() if reviewed and levels and not expired else 1.0
        if change < 0.04:  # an upgrade approved since: the first certificate is superseded
            qual.status = "superseded"
            agency.quals.append(qual)
            qual = Qual(
                next_id,
                category,
                levels[max(0, levels.index(level) - 1)],
                number + "U",
                valid,
                "approved",
                agency.created_at + days(rng, 30, 300),
                replaces_id=qual.id,
            )
            next_id += 1
        agency.quals.append(qual)
        if 0.04 <= change < 0.07:  # a renewal waiting for review
            agency.quals.append(
                Qual(
                    next_id,
                    category,
                    level,
                    number + "R",
                    valid + timedelta(days=730),
                    "pending",
                    anchor - days(rng, 1, 20),
                    replaces_id=qual.id,
                )
            )
            next_id += 1
        elif 0.07 <= change < 0.08:
            agency.quals.append(
                Qual(
                    next_id,
                    category,
                    levels[0],
                    number + "X",
                    valid,
                    "rejected",
                    anchor - days(rng, 5, 200),
                    replaces_id=qual.id,
                    review_reason="证书信息与发证机关公示不一致",
                )
            )
            next_id += 1
    return next_id


def _facts(agency: AgencyPlan) -> None:
    """Eligibility facts as market.agencies.queries.Profile.facts builds them: as it stands
    now, and as it stood while approved (before a suspension or blacklisting)."""
    quals = [
        agency_rules.Qualification(
            category=q.category,
            level=q.level,
            certificate_no=q.certificate_no,
            valid_until=q.valid_until,
            approved=q.status == "approved",
        )
        for q in agency.quals
        if q.status in ("approved", "pending")
    ]
    common = {
        "agency_id": agency.public_id,
        "region": agency.region,
        "categories": agency.categories,
        "qualifications": quals,
    }
    agency.facts_now = agency_rules.agency_facts(
        status=agency.status, status_until=agency.status_until, **common
    )
    agency.facts_approved = agency_rules.agency_facts(status="approved", status_until=None, **common)


class Pools:
    """Agencies that may bid on a notice's terms (market.agencies.rules.eligibility, while
    approved, on the anchor's day), by category, region scope and level; computed once each."""

    def __init__(self, agencies: list[AgencyPlan], today: date) -> None:
        self.today = today
        self.by_category: dict[str, list[AgencyPlan]] = {}
        for agency in agencies:
            if agency.approved_at is not None:
                for category in agency.categories:
                    self.by_category.setdefault(category, []).append(agency)
        self.cache: dict[tuple[str, str, str | None], list[AgencyPlan]] = {}
        self.served: tuple[list[str], list[float]] | None = None  # categories some agency serves

    def get(self, category: str, region: str, level: str | None) -> list[AgencyPlan]:
        key = (category, region, level)
        if key not in self.cache:
            requirements = agency_rules.notice_requirements(
                category=category, min_level=level, region=region, avoid={}
            )
            prefix = regions.scope_prefix(region)
            self.cache[key] = [
                a
                for a in self.by_category.get(category, [])
                if a.region.startswith(prefix)
                and agency_rules.eligibility(a.facts_approved, requirements, self.today)  # type: ignore[arg-type]
            ]
        return self.cache[key]


# -- notices ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class BidPlan:
    agency: AgencyPlan
    created_at: datetime
    withdrawn_at: datetime | None
    price_fen: int | None
    number: int = 0
    public_id: str = ""  # with the number
    seq: int = -1  # of its sealed entry, set when logged
    leaf_hash: bytes = b""
    signed: bool = False
    withdrawal_seq: int = -1  # of its withdrawal's sealed entry, set when logged


@dataclass(slots=True)
class AwardPlan:
    slot: int
    agency: AgencyPlan
    since: datetime
    status: str = "holding"
    ended_at: datetime | None = None
    end_reason: str | None = None
    replaced_by: str | None = None
    id: int = 0


@dataclass(slots=True)
class ObjectionPlan:
    filed_by: User
    agency: AgencyPlan | None
    reasons: str
    filed_at: datetime
    status: str = "filed"
    answer: str | None = None
    answered_at: datetime | None = None
    decision_reason: str | None = None
    decided_by: User | None = None
    decided_at: datetime | None = None
    filed_seq: int = -1
    # The party with standing (issue 19): "owner", or the losing bidder's agency id; the
    # salt of the log's commitment to it, random as the service's.
    party: str = "owner"
    party_salt: str = field(default_factory=lambda: os.urandom(32).hex())
    answered_seq: int = -1
    number: int = 0

    @property
    def public_id(self) -> str:
        return format_public_id("OB", self.number)


@dataclass(slots=True)
class MilestonePlan:
    position: int
    title: str
    due_on: date
    status: str = "pending"
    note: str | None = None
    return_reason: str | None = None
    submitted_at: datetime | None = None
    accepted_at: datetime | None = None
    overdue_on: date | None = None


@dataclass(slots=True)
class RatingPlan:
    scores: tuple[int, int, int, int, int]
    comment: str
    rated_at: datetime
    reply: str | None = None
    replied_at: datetime | None = None
    void_reason: str | None = None
    voided_at: datetime | None = None
    voided_by: User | None = None


@dataclass(slots=True)
class ContractPlan:
    award: AwardPlan
    amount_fen: int
    signed_on: date
    start_on: date
    due_on: date
    recorded_at: datetime
    status: str = "proposed"
    stop_reason: str | None = None
    confirmed_at: datetime | None = None
    completed_at: datetime | None = None
    stopped_at: datetime | None = None
    declined_at: datetime | None = None
    milestones: list[MilestonePlan] = field(default_factory=list)
    rating: RatingPlan | None = None
    number: int = 0


@dataclass(slots=True)
class NoticePlan:
    org: Org
    project: Project | None
    title: str
    description: str
    category: str
    required_level: str | None
    region: str
    budget_fen: int
    method: str
    winners: int
    min_candidates: int
    service_days: int | None
    status: str  # as it came out
    planned: str  # as planned: the timeline follows it
    created_at: datetime
    deadline: datetime
    published_at: datetime | None = None
    direct: AgencyPlan | None = None
    direct_justification: str | None = None
    avoid: list[tuple[str, str]] = field(default_factory=list)
    secret: bytes = b""
    scheme: str | None = None
    first_deadline: datetime | None = None  # before an amendment
    amended_at: datetime | None = None
    amend_reason: str = ""
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    number: int = 0
    bids: list[BidPlan] = field(default_factory=list)
    pool: list[AgencyPlan] = field(default_factory=list)
    # closing and after
    closed_at: datetime | None = None
    outcome: str | None = None
    outcome_at: datetime | None = None
    candidates: list[tuple[str, int]] = field(default_factory=list)
    excluded: list[dict[str, str]] = field(default_factory=list)
    eligible: bytes = b""
    draw: selection_rules.DrawResult | None = None
    failed_reason: str | None = None
    waiting_reason: str | None = None
    publicity_ends: datetime | None = None
    final_at: datetime | None = None
    awards: list[AwardPlan] = field(default_factory=list)
    objections: list[ObjectionPlan] = field(default_factory=list)
    contracts: list[ContractPlan] = field(default_factory=list)
    logged: bool = False
    recent: bool = False  # cancelled within the last weeks: its story is told in the log, as live ones' are
    seqs: dict[str, int] = field(default_factory=dict)  # closed, outcome, published... when logged
    terms_by_deadline: dict[datetime, bytes] = field(default_factory=dict)
    public_id: str = ""  # with the number

    @property
    def requirements(self) -> agency_rules.Requirements:
        return agency_rules.notice_requirements(
            category=self.category, min_level=self.required_level, region=self.region, avoid=dict(self.avoid)
        )

    @property
    def closes(self) -> bool:
        return self.status in ("closed", "selected", "awarded", "failed")

    @property
    def updated_at(self) -> datetime:
        moments = [
            self.created_at,
            self.published_at,
            self.amended_at,
            self.cancelled_at,
            self.closed_at,
            self.outcome_at,
            self.final_at,
        ]
        moments += [a.ended_at for a in self.awards]
        return max(m for m in moments if m is not None)

    def terms(self, deadline: datetime) -> bytes:
        """The canonical terms as publishing (or amending to ``deadline``) freezes them."""
        if deadline not in self.terms_by_deadline:
            self.terms_by_deadline[deadline] = self._terms(deadline)
        return self.terms_by_deadline[deadline]

    def _terms(self, deadline: datetime) -> bytes:
        return notice_rules.terms_document(
            notice_id=self.public_id,
            title=self.title,
            description=self.description,
            category=self.category,
            required_level=self.required_level,
            region=self.region,
            budget_fen=self.budget_fen,
            method=self.method,
            winners=self.winners,
            min_candidates=self.min_candidates,
            bid_deadline=deadline,
            service_days=self.service_days,
            owner={"id": self.org.public_id, "name": self.org.name},
            project={"id": self.project.public_id, "name": self.project.name, "code": self.project.code}
            if self.project
            else None,
            avoid=[{"agency_id": a, "reason": r} for a, r in self.avoid],
            direct={"agency_id": self.direct.public_id, "justification": self.direct_justification or ""}
            if self.direct
            else None,
        )

    def scheme_for(self, deadline: datetime) -> str:
        # Notices waiting for the beacon were published with MARKET_BEACON=drand; the rest without.
        beacon = "drand/quicknet" if self.planned == "closed" else protocol.SCHEME_NONE
        return protocol.scheme_for(beacon, protocol.deadline_unix(deadline))


def plan_notices(
    count: int, rng: random.Random, anchor: datetime, people: People, pools: Pools
) -> list[NoticePlan]:
    statuses = [s for s, n in quotas(count, NOTICE_STATUSES, at_least_one=True).items() for _ in range(n)]
    rng.shuffle(statuses)
    owners_orgs = people.orgs
    notices = [_notice_terms(rng, status, owners_orgs, pools) for status in statuses]
    for notice in notices:
        _notice_times(notice, rng, anchor)
    notices.sort(key=lambda n: n.created_at)
    for number, notice in enumerate(notices, start=1):
        notice.number, notice.public_id = number, format_public_id("N", number)
        if notice.published_at is not None:
            notice.secret = rng.getrandbits(256).to_bytes(32, "big")
            notice.scheme = notice.scheme_for(notice.deadline)
    return notices


def _notice_terms(rng: random.Random, status: str, orgs: list[Org], pools: Pools) -> NoticePlan:
    # A few owners publish most notices, as on the provincial platforms.
    org = orgs[min(len(orgs) - 1, int(len(orgs) * rng.random() ** 2))]
    project = rng.choice(org.projects) if org.projects and rng.random() < 0.6 else None
    category = _category(rng, pools)
    levels = catalogue.level_codes(category)
    region = PROVINCE if rng.random() < 0.55 else weighted(rng, PREFECTURE_WEIGHTS)
    if len(pools.get(category, region, None)) < 3:
        region = PROVINCE
    level = None
    if levels and rng.random() < 0.35:
        level = rng.choice(levels[1:] or levels)
        if len(pools.get(category, region, level)) < 3:
            level = None
    pool = pools.get(category, region, level)
    method = rng.choices([m for m, _ in METHODS], weights=[w for _, w in METHODS])[0]
    if method == "direct" and not pool:
        method = "lottery"
    winners, minimum = _counts(rng, method)
    yuan = min(5_000_000, max(20_000, round(rng.lognormvariate(math.log(200_000), 0.9), -3)))
    what = project.name if project else _project_place(org) + rng.choice(PROJECT_KINDS)
    title = what + catalogue.category(category).name_zh
    notice = NoticePlan(
        org=org,
        project=project,
        title=title,
        category=category,
        required_level=level,
        region=region,
        description=f"{title}。项目单位：{org.name}。按照国家和云南省有关规定开展{catalogue.category(category).name_zh}工作并提交成果，服务期限以合同约定为准。",
        budget_fen=int(yuan) * 100,
        method=method,
        winners=winners,
        min_candidates=minimum,
        service_days=None if rng.random() < 0.08 else rng.choice((30, 45, 60, 90, 120, 180, 365)),
        status=status,
        planned=status,
        created_at=datetime.min.replace(tzinfo=UTC),
        deadline=datetime.min.replace(tzinfo=UTC),
        pool=pool,
    )
    if method == "direct":
        notice.direct = rng.choice(pool)
        notice.direct_justification = rng.choice(TEXTS["direct"])
    elif pool and rng.random() < 0.03:
        for agency in rng.sample(pool, min(len(pool), rng.randint(1, 2))):
            notice.avoid.append((agency.public_id, rng.choice(TEXTS["avoid"])))
        avoided = {a for a, _ in notice.avoid}
        notice.pool = [a for a in pool if a.public_id not in avoided]
    return notice


def _category(rng: random.Random, pools: Pools) -> str:
    """A category by popularity, among those some agency can serve (if any can)."""
    if pools.served is None:
        served = {
            c: w for c, w in CATEGORY_WEIGHTS.items() if pools.get(c, PROVINCE, None)
        } or CATEGORY_WEIGHTS
        pools.served = (list(served), list(served.values()))
    return rng.choices(pools.served[0], weights=pools.served[1])[0]


def _counts(rng: random.Random, method: str) -> tuple[int, int]:
    """(winners, min_candidates) that notice_rules.check_counts accepts."""
    if method == "direct":
        return 1, 1
    winners = 1 if rng.random() < 0.88 else (2 if rng.random() < 0.85 else 3)
    minimum = 5 if rng.random() < 0.1 else 3
    if method == "lottery":
        return winners, max(minimum, winners + 1)
    return winners, max(minimum, winners)


def _deadline_on(day: date, rng: random.Random) -> datetime:
    """Deadlines fall on the hours owners choose, China time (so many close together)."""
    hour, minute = rng.choice(((9, 0), (10, 0), (14, 30), (17, 0)))
    return china_time(day, hour, minute)


def _notice_times(n: NoticePlan, rng: random.Random, anchor: datetime) -> None:
    """Dates that fit the planned status: finished notices months ago, live ones around the
    anchor (open past it, in publicity for at least a day after it, waiting for a beacon
    round that comes out after it)."""
    window = days(rng, 5, 20)  # publication to deadline
    drafting = days(rng, 0.05, 3)
    historic = n.planned in ("awarded", "failed", "cancelled") or (
        n.planned == "draft" and rng.random() < 0.4
    )
    if n.planned == "draft":
        early, late = (
            (anchor - HISTORIC_SPAN[0], anchor - HISTORIC_SPAN[1])
            if historic
            else (anchor - timedelta(days=20), anchor - timedelta(hours=1))
        )
        n.created_at = between(rng, early, late)
        n.deadline = _deadline_on(china_day(n.created_at + drafting + window), rng)
        return
    if n.planned == "cancelled" and rng.random() < RECENTLY_CANCELLED:
        # Published within the last weeks and cancelled since, before the anchor: its story
        # (the cancellation opening its bids) is in the logged part.
        n.recent = True
        published = between(rng, anchor - timedelta(days=20), anchor - timedelta(days=1))
        n.deadline = _deadline_on(china_day(published + window), rng)
    elif historic:
        published = between(rng, anchor - HISTORIC_SPAN[0], anchor - HISTORIC_SPAN[1])
        n.deadline = _deadline_on(china_day(published + window), rng)
    elif n.planned == "open":
        published = between(rng, anchor - timedelta(days=15), anchor - timedelta(hours=2))
        n.deadline = _deadline_on(china_day(max(published + window, anchor + timedelta(days=2))), rng)
    elif n.planned == "selected":  # drawn under two days ago
        n.deadline = between(rng, anchor - timedelta(hours=46), anchor - timedelta(hours=1))
        published = n.deadline - window
    else:  # closed: waiting for the drand round due an hour after its deadline
        n.deadline = between(rng, anchor - timedelta(minutes=50), anchor - timedelta(minutes=5))
        published = n.deadline - window
    n.published_at, n.created_at = published, published - drafting
    if n.planned == "cancelled":
        n.cancelled_at = between(
            rng, published + timedelta(hours=2), min(n.deadline, anchor) - timedelta(hours=2)
        )
        n.cancel_reason = rng.choice(TEXTS["cancel"])
    elif n.planned != "closed" and rng.random() < 0.05:
        # Amended once, before the first deadline: it moved later, as amendments may only move it.
        first = n.deadline - timedelta(days=rng.randint(2, 4))
        latest = min(first - timedelta(hours=6), anchor - timedelta(minutes=10))
        if first - published > timedelta(days=1) and latest > published + timedelta(hours=1):
            n.first_deadline = first
            n.amended_at = between(rng, published + timedelta(hours=1), latest)
            n.amend_reason = rng.choice(TEXTS["amend"])


# -- bids -----------------------------------------------------------------------------------------------

SUCCESS = ("closed", "selected", "awarded")
MAX_ROWS_PER_BIDDER = 3  # a bid, withdrawn and placed again, twice


def allocate_bids(notices: list[NoticePlan], total: int, rng: random.Random, anchor: datetime) -> None:
    """Exactly ``total`` bids over the published notices: enough standing bids for the
    notices planned to be drawn (while the total allows; the rest fail for want of
    candidates), fewer than the minimum for those planned to fail, the rest spread by
    popularity; within a notice, distinct eligible agencies, some withdrawing and bidding again."""
    biddable = [n for n in notices if n.published_at is not None]
    rows = {id(n): 0 for n in biddable}
    budget = total
    by_priority = sorted(
        (n for n in biddable if n.status in SUCCESS), key=lambda n: (SUCCESS.index(n.status), rng.random())
    )
    for n in by_priority:
        floor = n.min_candidates if len(n.pool) >= n.min_candidates else 0
        if 0 < floor <= budget:
            rows[id(n)] = floor
            budget -= floor
    caps = {id(n): _distinct_cap(n) * MAX_ROWS_PER_BIDDER for n in biddable}
    weights = {id(n): _popularity(n, rng, anchor) for n in biddable}
    budget = _spread(biddable, rows, caps, weights, budget, rng)
    shortfall = budget
    for n in biddable:
        shortfall += _choose_bidders(n, rows[id(n)], rng, anchor)
    if shortfall:
        _place_shortfall(biddable, shortfall, rng)
    number = 0
    for n in notices:
        for bid in n.bids:
            _times(n, bid, rng, anchor)
        _bid_rows(n, rng, anchor)
        for bid in n.bids:
            number += 1
            bid.number, bid.public_id = number, format_public_id("B", number)
    assert number == total, (number, total)


def _distinct_cap(n: NoticePlan) -> int:
    if n.status == "failed":
        return min(len(n.pool), n.min_candidates - 1)
    return 1 if n.method == "direct" else len(n.pool)


def _popularity(n: NoticePlan, rng: random.Random, anchor: datetime) -> float:
    weight = rng.uniform(0.3, 1.7) * (3 if rng.random() < 0.05 else 1)
    assert n.published_at is not None
    end = n.cancelled_at or n.deadline
    if end > anchor:  # bids so far
        weight *= max(0.1, (anchor - n.published_at) / (end - n.published_at))
    elif n.cancelled_at is not None:
        weight *= max(0.1, (n.cancelled_at - n.published_at) / (n.deadline - n.published_at))
    if n.status == "failed":
        weight *= 0.2
    return weight


def _spread(
    notices: list[NoticePlan],
    rows: dict[int, int],
    caps: dict[int, int],
    weights: dict[int, float],
    budget: int,
    rng: random.Random,
) -> int:
    """Share ``budget`` out by weight without passing any cap; returns what did not fit."""
    while budget > 0:
        open_ = [n for n in notices if rows[id(n)] < caps[id(n)]]
        if not open_:
            return budget
        total_weight = sum(weights[id(n)] for n in open_)
        shares = [min(caps[id(n)] - rows[id(n)], int(budget * weights[id(n)] / total_weight)) for n in open_]
        if 2 * sum(shares) < budget:
            # Most shares round down to nothing: draw the rest by weight, a row at a time
            # (passes of whole shares would hand out a few rows each, over every notice).
            for n in rng.choices(open_, weights=[weights[id(n)] for n in open_], k=budget):
                if rows[id(n)] < caps[id(n)]:
                    rows[id(n)] += 1
                    budget -= 1
            continue
        for n, share in zip(open_, shares, strict=True):
            rows[id(n)] += share
        budget -= sum(shares)
    return budget


def _choose_bidders(n: NoticePlan, count: int, rng: random.Random, anchor: datetime) -> int:
    """``count`` bid rows on ``n``: distinct agencies allowed to bid while it was open, each
    given its rows (the extra ones withdrawn and placed again). Returns the rows that found
    no bidder."""
    if count == 0:
        return 0
    assert n.published_at is not None
    pool = [n.direct] if n.direct else n.pool
    want = min(count, _distinct_cap(n))
    tried = distinct(rng, pool, 2 * want + 5)
    chosen = [a for a in tried if a.may_bid_between(n.published_at, n.published_at)][:want]
    if not chosen:
        return count
    per_bidder = [1] * len(chosen)
    left = count - len(chosen)
    while left and any(r < MAX_ROWS_PER_BIDDER for r in per_bidder):
        i = rng.randrange(len(chosen))
        if per_bidder[i] < MAX_ROWS_PER_BIDDER:
            per_bidder[i] += 1
            left -= 1
    for agency, r in zip(chosen, per_bidder, strict=True):
        n.bids += [BidPlan(agency, n.published_at, None, None) for _ in range(r)]
    return left


def distinct(rng: random.Random, pool: list[AgencyPlan], k: int) -> list[AgencyPlan]:
    """``k`` distinct members of ``pool`` (all of them if it has no more), in random order,
    without copying a pool of thousands for a dozen bidders as random.sample would."""
    if 3 * k >= len(pool):
        return rng.sample(pool, min(k, len(pool)))
    picked: dict[int, None] = {}
    while len(picked) < k:
        picked[rng.randrange(len(pool))] = None
    return [pool[i] for i in picked]


def _place_shortfall(notices: list[NoticePlan], left: int, rng: random.Random) -> None:
    """Rows no notice had room for: more withdrawn-and-replaced bids by existing bidders."""
    with_bids = [n for n in notices if n.bids]
    if not with_bids:
        raise ValueError("no agency may bid on any notice: seed more agencies or fewer bids")
    for _ in range(left):
        n = rng.choice(with_bids)
        n.bids.append(BidPlan(rng.choice(n.bids).agency, n.bids[0].created_at, None, None))


def _times(n: NoticePlan, bid: BidPlan, rng: random.Random, anchor: datetime) -> None:
    """A placeholder time in the notice's bidding window; _bid_rows orders each bidder's rows."""
    assert n.published_at is not None
    bid.created_at = between(rng, *_window(n, bid.agency, anchor))
    if n.method == "lowest_price":
        bid.price_fen = max(
            10_000, int(round(n.budget_fen * rng.uniform(0.62, 0.99), -4))
        )  # whole hundreds of yuan


def _window(n: NoticePlan, agency: AgencyPlan, anchor: datetime) -> tuple[datetime, datetime]:
    assert n.published_at is not None
    ends = [n.deadline, anchor, n.cancelled_at, agency.ended_at]
    end = min(e for e in ends if e is not None) - timedelta(minutes=1)
    # Bids begin a little after publication, measured within the window that is really
    # open: a notice cancelled early must not get bids placed after its cancellation.
    start = n.published_at + max(end - n.published_at, timedelta(0)) * 0.02
    return start, max(start, end)


def _bid_rows(n: NoticePlan, rng: random.Random, anchor: datetime) -> None:
    """Each bidder's rows in time order: every one but the last withdrawn before the next;
    the last standing, withdrawn by a few, and released if the notice was cancelled."""
    by_agency: dict[int, list[BidPlan]] = {}
    for bid in n.bids:
        by_agency.setdefault(bid.agency.id, []).append(bid)
    standing = len(by_agency)
    spare = standing - (n.min_candidates if n.status in SUCCESS else 0)
    for rows in by_agency.values():
        rows.sort(key=lambda b: b.created_at)
        for before, after in zip(rows, rows[1:]):
            before.withdrawn_at = between(rng, before.created_at, after.created_at)
        last = rows[-1]
        if spare > 0 and rng.random() < 0.03:
            last.withdrawn_at = between(rng, last.created_at, _window(n, last.agency, anchor)[1])
            spare -= 1
        elif n.cancelled_at is not None:
            last.withdrawn_at = n.cancelled_at  # released with the notice
    n.bids.sort(key=lambda b: b.created_at)


# -- closing, the draw, awards, objections, contracts -----------------------------------------------------


def settle(notices: list[NoticePlan], rng: random.Random, anchor: datetime, people: People) -> None:
    for n in notices:
        if n.closes:
            _close(n, rng, anchor)
            if n.status in ("selected", "awarded") and n.outcome in ("drawn", "direct"):
                _after_draw(n, rng, anchor, people)
    # Public ids in the order the services would have drawn them from their sequences.
    objections = sorted((o for n in notices for o in n.objections), key=lambda o: o.filed_at)
    for number, o in enumerate(objections, start=1):
        o.number = number
    contracts = sorted((c for n in notices for c in n.contracts), key=lambda c: c.recorded_at)
    for number, c in enumerate(contracts, start=1):
        c.number = number


def standing_bids(n: NoticePlan) -> list[BidPlan]:
    """Bids standing at the deadline (withdrawn ones were all withdrawn before it)."""
    return [b for b in n.bids if b.withdrawn_at is None]


def _close(n: NoticePlan, rng: random.Random, anchor: datetime) -> None:
    """MSP/1 step 3 and the outcome, with market.selection.rules, as selection.service does."""
    n.closed_at = n.deadline + timedelta(microseconds=rng.randrange(200_000, 1_500_000))
    facts = [
        selection_rules.StandingBid(
            document={"agency_id": b.agency.public_id}, facts=b.agency.facts_at(n.closed_at)
        )
        for b in standing_bids(n)
    ]
    decided = selection_rules.candidates_at_close(
        facts,
        n.requirements,
        china_day(n.closed_at),
        direct_agency_id=n.direct.public_id if n.direct else None,
    )
    n.candidates, n.excluded = decided.candidates, decided.excluded
    n.eligible = protocol.eligible_digest(n.candidates)
    n.outcome_at = n.closed_at + timedelta(microseconds=rng.randrange(2_000, 30_000))
    if len(n.candidates) < n.min_candidates:
        n.outcome, n.failed_reason, n.status = "failed", selection_rules.TOO_FEW_CANDIDATES, "failed"
        return
    if n.method == "direct":
        n.outcome = "direct"
        winners = [n.candidates[0][0]]
    elif n.planned == "closed":
        n.outcome, n.outcome_at = "waiting", None
        round_number = protocol.scheme_round(n.scheme or protocol.SCHEME_NONE)
        assert round_number is not None
        n.waiting_reason = selection_rules.waiting_for_round(round_number, emitted_at(round_number))
        return
    else:
        n.outcome = "drawn"
        prices = [{"agency_id": b.agency.public_id, "price_fen": b.price_fen} for b in standing_bids(n)]
        n.draw = selection_rules.draw(
            notice_id=n.public_id,
            method=n.method,
            k=n.winners,
            secret=n.secret,
            candidates=n.candidates,
            bids=prices,
            scheme=n.scheme or protocol.SCHEME_NONE,
            beacon=b"",
        )
        winners = n.draw.winners
    assert n.outcome_at is not None
    by_id = {b.agency.public_id: b.agency for b in n.bids}
    n.awards = [AwardPlan(slot, by_id[a], n.outcome_at) for slot, a in enumerate(winners)]
    n.publicity_ends = n.outcome_at + PUBLICITY
    if n.status == "failed":  # planned to fail, yet enough candidates came: drawn after all
        n.status = "awarded"


def _alternates(n: NoticePlan) -> list[str]:
    return n.draw.alternates if n.draw is not None else []


def _replace(n: NoticePlan, award: AwardPlan, status: str, reason: str, at: datetime) -> None:
    """selection.service._replace: the first unused alternate takes the slot, publicity restarts."""
    replacement = selection_rules.next_alternate(_alternates(n), [a.agency.public_id for a in n.awards])
    award.status, award.ended_at, award.end_reason, award.replaced_by = status, at, reason, replacement
    if replacement is not None:
        agency = next(b.agency for b in n.bids if b.agency.public_id == replacement)
        n.awards.append(AwardPlan(award.slot, agency, at))
        n.publicity_ends = at + PUBLICITY
    elif not [a for a in n.awards if a.status == "holding"]:
        n.status, n.failed_reason = "failed", selection_rules.NO_ALTERNATES


def _after_draw(n: NoticePlan, rng: random.Random, anchor: datetime, people: People) -> None:
    assert n.outcome_at is not None and n.publicity_ends is not None
    if n.status == "selected":
        if rng.random() < 0.06:  # an objection still waiting for the owner or a supervisor
            objection = _objection(
                n, rng, between(rng, n.outcome_at + timedelta(minutes=30), anchor - timedelta(minutes=20))
            )
            if rng.random() < 0.4:
                objection.status, objection.answer = "answered", rng.choice(TEXTS["answer"])
                objection.answered_at = between(
                    rng, objection.filed_at + timedelta(minutes=5), anchor - timedelta(minutes=1)
                )
        return
    chance = rng.random()
    first = n.awards[0]
    if chance < 0.025:
        _replace(n, first, "declined", rng.choice(TEXTS["decline"]), n.outcome_at + days(rng, 0.2, 2.5))
    elif chance < 0.03 and _alternates(n):
        objection = _objection(n, rng, n.outcome_at + days(rng, 0.2, 1.5), against=first.agency)
        _decide(objection, "upheld", rng, people)
        assert objection.decided_at is not None
        _replace(n, first, "disqualified", objection.decision_reason or "", objection.decided_at)
    elif chance < 0.05:
        objection = _objection(
            n, rng, n.outcome_at + days(rng, 0.2, 1.5), against=rng.choice([first.agency, None])
        )
        _decide(objection, "rejected", rng, people)
    if n.status == "failed":
        return
    decided = [o.decided_at for o in n.objections if o.decided_at is not None]
    n.final_at = max([n.publicity_ends, *decided]) + timedelta(microseconds=rng.randrange(500_000, 3_000_000))
    for award in [a for a in n.awards if a.status == "holding"]:
        _contract(n, award, rng, anchor)


def _objection(
    n: NoticePlan, rng: random.Random, at: datetime, *, against: AgencyPlan | None = None
) -> ObjectionPlan:
    """Filed by a party with standing: a losing bidder (or, if none, the notice's owner)."""
    holders = {a.agency.id for a in n.awards if a.status == "holding"}
    losers = [b.agency for b in standing_bids(n) if b.agency.id not in holders]
    loser = rng.choice(losers) if losers else None
    filed_by = loser.user if loser is not None else n.org.owner
    if against is None and rng.random() < 0.5 and n.awards:
        against = n.awards[0].agency
    objection = ObjectionPlan(
        filed_by,
        against,
        rng.choice(TEXTS["objection"]),
        at,
        party=loser.public_id if loser is not None else "owner",
    )
    n.objections.append(objection)
    return objection


def _decide(o: ObjectionPlan, decision: str, rng: random.Random, people: People) -> None:
    o.answer, o.answered_at = rng.choice(TEXTS["answer"]), o.filed_at + days(rng, 0.1, 1)
    o.status, o.decided_by, o.decided_at = (
        decision,
        rng.choice(people.supervisors),
        o.answered_at + days(rng, 0.1, 1),
    )
    o.decision_reason = rng.choice(TEXTS["uphold" if decision == "upheld" else "dismiss"])


def _contract(
    n: NoticePlan, award: AwardPlan, rng: random.Random, anchor: datetime, *, may_decline: bool = True
) -> None:
    """What the owner and the agency did with a final award, as far as the anchor allows."""
    assert n.final_at is not None
    if rng.random() < 0.04:
        return  # not recorded yet: the credit score counts it overdue after 30 days
    recorded = min(n.final_at + days(rng, 1, 20), anchor - timedelta(hours=2))
    winning = next((b.price_fen for b in n.bids if b.agency is award.agency and b.withdrawn_at is None), None)
    amount = winning or round(n.budget_fen * rng.uniform(0.8, 1.0), -2)
    # Terms that follow the award (docs/contracts.md): signed once the award is final, the
    # service starting no earlier than the day it is recorded, due after the published period.
    # (max() consumes no randomness: the rest of the world stays as it was.)
    signed_on = max(china_day(n.final_at), china_day(recorded) - timedelta(days=rng.randint(0, 5)))
    start_on = max(china_day(recorded), signed_on + timedelta(days=rng.randint(0, 10)))
    due_on = start_on + timedelta(days=n.service_days or 60)
    c = ContractPlan(award, int(amount), signed_on, start_on, due_on, recorded)
    n.contracts.append(c)
    titles = MILESTONE_TITLES[rng.randrange(len(MILESTONE_TITLES))]
    span = (due_on - start_on).days
    c.milestones = [
        MilestonePlan(i + 1, t, start_on + timedelta(days=span * (i + 1) // len(titles)))
        for i, t in enumerate(titles)
    ]
    chance = rng.random()
    if may_decline and chance < 0.025 and _alternates(n):
        c.status, c.declined_at = "declined", recorded + days(rng, 0.2, 3)
        _replace(n, award, "declined", rng.choice(TEXTS["decline"]), c.declined_at)
        assert n.publicity_ends is not None
        n.final_at = n.publicity_ends + timedelta(microseconds=rng.randrange(500_000, 3_000_000))
        if n.awards[-1].status == "holding" and n.awards[-1].since == c.declined_at:
            _contract(n, n.awards[-1], rng, anchor, may_decline=False)
        return
    if chance < 0.09 or recorded > anchor - timedelta(days=1):
        return  # proposed: waiting for the agency to confirm
    c.status, c.confirmed_at = "in_service", min(recorded + days(rng, 0.1, 4), anchor - timedelta(hours=1))
    _milestones(c, rng, anchor)


def _milestones(c: ContractPlan, rng: random.Random, anchor: datetime) -> None:
    assert c.confirmed_at is not None
    today = china_day(anchor)
    stop = rng.random() < 0.05
    last = c.confirmed_at
    for m in c.milestones:
        handed_in = china_time(m.due_on, 10) - days(rng, 0, 8)
        if stop and m.position > 1:
            break
        if handed_in <= last or handed_in > anchor - timedelta(days=1):
            if m.due_on < today:  # due, nothing handed in: the scheduler flagged it
                m.overdue_on = m.due_on + timedelta(days=1)
            break
        m.submitted_at, m.note = handed_in, rng.choice(TEXTS["note"])
        chance = rng.random()
        accepted = handed_in + days(rng, 0.5, 8)
        if chance < 0.05:
            m.status, m.return_reason = "returned", rng.choice(TEXTS["return"])
            break
        if chance < 0.12 or accepted > anchor:
            m.status = "submitted"
            break
        m.status, m.accepted_at = "accepted", accepted
        last = accepted
    if all(m.status == "accepted" for m in c.milestones):
        c.status, c.completed_at = "completed", last
    elif stop and c.milestones[0].status == "accepted":
        c.status, c.stop_reason, c.stopped_at = (
            "stopped",
            rng.choice(TEXTS["stop"]),
            min(last + days(rng, 5, 40), anchor - timedelta(hours=1)),
        )
        for m in c.milestones:
            m.overdue_on = None if m.status == "accepted" else m.overdue_on
    if c.status in ("completed", "stopped") and rng.random() < 0.85:
        c.rating = _rating(c, rng, anchor)


def _rating(c: ContractPlan, rng: random.Random, anchor: datetime) -> RatingPlan:
    ended = c.completed_at or c.stopped_at
    assert ended is not None
    good = c.status == "completed"
    scores = tuple(rng.choice((4, 5, 5) if good else (1, 2, 3)) for _ in range(5))
    rating = RatingPlan(
        scores,
        rng.choice(TEXTS["good" if good else "bad"]),
        min(ended + days(rng, 0.5, 15), anchor - timedelta(minutes=30)),
    )  # type: ignore[arg-type]
    if rng.random() < (0.15 if good else 0.5):
        rating.reply, rating.replied_at = (
            rng.choice(TEXTS["reply"]),
            min(rating.rated_at + days(rng, 0.1, 5), anchor - timedelta(minutes=10)),
        )
    if rng.random() < 0.01:
        rating.void_reason, rating.voided_at = (
            rng.choice(TEXTS["void"]),
            min(rating.rated_at + days(rng, 1, 20), anchor - timedelta(minutes=5)),
        )
    return rating


# -- the log --------------------------------------------------------------------------------------------------

PROTOCOL = 2  # MSP/2 (docs/protocol/msp.md): every seeded notice, its entries and its bids
SEALING = "server"  # the bids' sealing: the server's seal key (section 3.1)


@dataclass(slots=True)
class Event:
    """One entry of the logged part, and where its seq and time go in the rows. ``fill``
    completes the fields just before the entry is built, once the entries before it have
    their seqs (a close's openings name its bids' sealed entries)."""

    ts: datetime
    type: str
    fields: dict[str, Any]
    done: Callable[[int, datetime, bytes], None] | None = None
    fill: Callable[[dict[str, Any]], None] | None = None


def bid_document(notice_id: str, bid: BidPlan) -> bytes:
    """protocol.bid_document_v2, spelled out (as notice_checks does for honest bids): a
    fraction of the cost, for a million of them; Rows.bid checks it against the original."""
    price = "null" if bid.price_fen is None else str(bid.price_fen)
    return f'{{"agency_id":"{bid.agency.public_id}","bid_id":"{bid.public_id}","notice_id":"{notice_id}","price_fen":{price}}}'.encode()


_BID_TAG = hashlib.sha256(protocol.LP(b"msp/2/bid") + (protocol.SALT_BYTES).to_bytes(4, "big"))
_WITHDRAWAL_TAG = hashlib.sha256(protocol.LP(b"msp/2/withdrawal") + (protocol.SALT_BYTES).to_bytes(4, "big"))


def bid_commitment(salt: bytes, document: bytes) -> bytes:
    """protocol.bid_commitment without its checks (the salt is 32 bytes, the document the
    one above): H(LP("msp/2/bid") || LP(salt) || LP(document)); Rows.bid checks it."""
    h = _BID_TAG.copy()
    h.update(salt + len(document).to_bytes(4, "big") + document)
    return h.digest()


def withdrawal_commitment(salt: bytes, c_bid: bytes) -> bytes:
    """protocol.withdrawal_commitment likewise: H(LP("msp/2/withdrawal") || LP(salt_w) || LP(c_bid))."""
    h = _WITHDRAWAL_TAG.copy()
    h.update(salt + b"\x00\x00\x00\x20" + c_bid)
    return h.digest()


def sealed_entry(commitment: bytes, seq: int, ts: datetime) -> bytes:
    """The bid.sealed entry store.build_entry makes for ``commitment`` at ``seq``, spelled out."""
    return f'{{"commitment":"{commitment.hex()}","seq":{seq},"ts":"{protocol.format_ts(ts)}","type":"bid.sealed","v":2}}'.encode()


def opening_json(document: bytes, salt: bytes, seq: int, withdrawn: tuple[bytes, int] | None) -> str:
    """protocol.opening(...) as canonical JSON text, spelled out (the document is canonical
    JSON already, and sub-objects of canonical JSON are canonical): what a selection row
    stores of each bid, and what the close's entry holds."""
    tail = "null" if withdrawn is None else f'{{"salt":"{withdrawn[0].hex()}","seq":{withdrawn[1]}}}'
    return f'{{"bid":{document.decode()},"salt":"{salt.hex()}","seq":{seq},"withdrawn":{tail}}}'


class Salts:
    """Every bid's salt and withdrawal salt (MSP/2: 32 bytes from a CSPRNG, fresh for each),
    drawn from the operating system in bulk: one read for all of them, as bids are numbered
    1 to ``count``. The plan of the log and the bid rows ask for the same bid's salt, so
    they are kept for the run (64 bytes a bid). ``random_bytes``: os.urandom, or a
    deterministic source in tests."""

    def __init__(self, count: int, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self.count = count
        self.pool = random_bytes(2 * protocol.SALT_BYTES * count)

    def bid(self, number: int) -> bytes:
        at = (number - 1) * protocol.SALT_BYTES
        return self.pool[at : at + protocol.SALT_BYTES]

    def withdrawal(self, number: int) -> bytes:
        at = (self.count + number - 1) * protocol.SALT_BYTES
        return self.pool[at : at + protocol.SALT_BYTES]


def withdrawal_logged(n: NoticePlan, bid: BidPlan) -> bool:
    """Whether the bid's withdrawal is a sealed entry of its own: a bid released by its
    notice's cancellation is not withdrawn by anyone (the cancellation opens it standing)."""
    return bid.withdrawn_at is not None and bid.withdrawn_at != n.cancelled_at


def _digest(text: str) -> str:
    return protocol.sha256_hex(text.encode("utf-8"))


def notice_events(n: NoticePlan, salts: Salts) -> list[Event]:
    """Every entry the services would have appended for ``n``, with its fields (MSP/2:
    sealed entries for its bids and withdrawals, which name nothing)."""
    assert n.published_at is not None
    first_deadline = n.first_deadline or n.deadline
    events = [
        Event(
            n.published_at,
            "notice.published",
            {
                "notice_id": n.public_id,
                "method": n.method,
                "winners": n.winners,
                "min_candidates": n.min_candidates,
                "bid_deadline": protocol.format_ts(first_deadline),
                "terms_sha256": protocol.sha256_hex(n.terms(first_deadline)),
                "commit": protocol.commitment(n.public_id, n.secret).hex(),
                "scheme": n.scheme_for(first_deadline),
                "sealing": SEALING,
            },
            _notice_at(n, "published_at", "published"),
        )
    ]
    if n.amended_at is not None:
        events.append(
            Event(
                n.amended_at,
                "notice.amended",
                {
                    "notice_id": n.public_id,
                    "terms_sha256": protocol.sha256_hex(n.terms(n.deadline)),
                    "bid_deadline": protocol.format_ts(n.deadline),
                    "scheme": n.scheme,
                },
                _notice_at(n, "amended_at", "amended"),
            )
        )
    for bid in n.bids:
        commitment = bid_commitment(salts.bid(bid.number), bid_document(n.public_id, bid))
        events.append(
            Event(bid.created_at, entry_types.BID_SEALED, {"commitment": commitment.hex()}, _bid_logged(bid))
        )
        if withdrawal_logged(n, bid):
            assert bid.withdrawn_at is not None
            withdrawal = withdrawal_commitment(salts.withdrawal(bid.number), commitment)
            events.append(
                Event(
                    bid.withdrawn_at,
                    entry_types.BID_SEALED,
                    {"commitment": withdrawal.hex()},
                    _withdrawal_logged(bid),
                )
            )
    if n.cancelled_at is not None:
        events.append(
            Event(
                n.cancelled_at,
                "notice.cancelled",
                {"notice_id": n.public_id, "reason": n.cancel_reason},
                _cancelled_at(n),
                _openings(n, salts),
            )
        )
    if n.closed_at is not None:
        events += _closing_events(n, salts)
    for o in n.objections:
        events.append(
            Event(
                o.filed_at,
                "objection.filed",
                {
                    "notice_id": n.public_id,
                    "objection_id": o.public_id,
                    "agency_id": o.agency.public_id if o.agency else None,
                    "reasons_sha256": _digest(o.reasons),
                    "objector_sha256": objector_commitment(
                        notice_id=n.public_id, objection_id=o.public_id, party=o.party, salt=o.party_salt
                    ),
                },
                _at(o, "filed_at", "filed_seq"),
            )
        )
        if o.answered_at is not None and o.answer is not None:
            events.append(
                Event(
                    o.answered_at,
                    "objection.answered",
                    {
                        "notice_id": n.public_id,
                        "objection_id": o.public_id,
                        "answer_sha256": _digest(o.answer),
                    },
                    _at(o, "answered_at", "answered_seq"),
                )
            )
    return events


def _bid_logged(bid: BidPlan) -> Callable[[int, datetime, bytes], None]:
    def done(seq: int, ts: datetime, leaf: bytes) -> None:
        bid.seq, bid.created_at, bid.leaf_hash, bid.signed = seq, ts, leaf, True

    return done


def _withdrawal_logged(bid: BidPlan) -> Callable[[int, datetime, bytes], None]:
    def done(seq: int, ts: datetime, leaf: bytes) -> None:
        bid.withdrawal_seq, bid.withdrawn_at = seq, ts

    return done


def _cancelled_at(n: NoticePlan) -> Callable[[int, datetime, bytes], None]:
    """The cancellation's hook: the bids it released are withdrawn at its time."""

    def done(seq: int, ts: datetime, leaf: bytes) -> None:
        for bid in n.bids:
            if bid.withdrawn_at is not None and bid.withdrawn_at == n.cancelled_at:
                bid.withdrawn_at = ts
        n.cancelled_at, n.seqs["cancelled"] = ts, seq

    return done


def _openings(n: NoticePlan, salts: Salts) -> Callable[[dict[str, Any]], None]:
    """Sets ``openings`` (every bid ever placed on ``n``, sorted by bid id) once the bids'
    sealed entries have their seqs: for the close, or a cancellation."""

    def fill(fields: dict[str, Any]) -> None:
        ordered = sorted(n.bids, key=lambda b: b.public_id.encode("utf-8"))
        fields["openings"] = [
            json.loads(
                opening_json(
                    bid_document(n.public_id, b), salts.bid(b.number), b.seq, _withdrawn(n, b, salts)
                )
            )
            for b in ordered
        ]

    return fill


def _withdrawn(n: NoticePlan, bid: BidPlan, salts: Salts) -> tuple[bytes, int] | None:
    return (salts.withdrawal(bid.number), bid.withdrawal_seq) if withdrawal_logged(n, bid) else None


def _at(target: Any, time_name: str, seq_name: str | None = None) -> Callable[[int, datetime, bytes], None]:
    """A hook keeping the row's time equal to its entry's (and its seq, if it has one)."""

    def done(seq: int, ts: datetime, leaf: bytes) -> None:
        setattr(target, time_name, ts)
        if seq_name is not None:
            setattr(target, seq_name, seq)

    return done


def _outcome_at(n: NoticePlan) -> Callable[[int, datetime, bytes], None]:
    """The outcome's hook: the first holders' awards date from it too."""

    def done(seq: int, ts: datetime, leaf: bytes) -> None:
        for award in n.awards:
            if award.since == n.outcome_at:
                award.since = ts
        n.outcome_at, n.seqs["outcome"] = ts, seq

    return done


def _notice_at(n: NoticePlan, time_name: str | None, key: str) -> Callable[[int, datetime, bytes], None]:
    def done(seq: int, ts: datetime, leaf: bytes) -> None:
        if time_name is not None:
            setattr(n, time_name, ts)
        n.seqs[key] = seq

    return done


def _closing_events(n: NoticePlan, salts: Salts) -> list[Event]:
    assert n.closed_at is not None
    events = [
        Event(
            n.closed_at,
            "bidding.closed",
            {
                "notice_id": n.public_id,
                "secret": n.secret.hex(),
                "candidates": [[a, w] for a, w in n.candidates],
                "excluded": n.excluded,
                "eligible": n.eligible.hex(),
            },
            _notice_at(n, "closed_at", "closed"),
            _openings(n, salts),
        )
    ]
    outcome = _outcome_at(n)
    if n.outcome == "failed" and n.outcome_at is not None:
        events.append(
            Event(
                n.outcome_at,
                "selection.failed",
                {"notice_id": n.public_id, "reason": n.failed_reason},
                outcome,
            )
        )
    elif n.outcome == "direct" and n.outcome_at is not None:
        events.append(
            Event(
                n.outcome_at,
                "selection.direct",
                {
                    "notice_id": n.public_id,
                    "agency_id": n.candidates[0][0],
                    "justification": n.direct_justification or "",
                },
                outcome,
            )
        )
    elif n.outcome == "drawn" and n.outcome_at is not None and n.draw is not None:
        d = n.draw
        events.append(
            Event(
                n.outcome_at,
                "selection.drawn",
                {
                    "notice_id": n.public_id,
                    "attempt": selection_rules.ATTEMPT,
                    "scheme": n.scheme,
                    "beacon": None,
                    "seed": d.seed.hex(),
                    "order": d.order,
                    "ranking": d.ranking,
                    "winners": d.winners,
                    "alternates": d.alternates,
                },
                outcome,
            )
        )
    return events


HISTORY_SAMPLE = 16  # every 16th history entry's time is kept, to find seqs by time


@dataclass
class LogPlan:
    history: int  # entries of the synthetic part, seq 0 to history - 1
    entries: list[tuple[int, str, str | None, bytes, bytes]]  # the logged part's rows
    live_start: datetime
    first: datetime  # the earliest moment any row mentions: the history starts there (a short one is shifted: History)
    times: list[datetime]  # of the logged part's entries, in seq order
    logged: int
    history_ts: list[datetime] = field(default_factory=list)  # of seq 0, 16, 32... once written

    def seq_at(self, t: datetime | None) -> int:
        """The entry logged at about ``t`` (the last one before it, to 16 entries): what
        rows the log does not tell point at, so that their seq's time is about theirs."""
        if t is None or self.history + len(self.entries) == 0:
            return 0
        if (t >= self.live_start or not self.history) and self.entries:
            return self.history + max(0, min(len(self.entries) - 1, bisect.bisect_right(self.times, t) - 1))
        if not self.history_ts:
            return 0
        index = max(0, bisect.bisect_right(self.history_ts, t) - 1)
        return min(self.history - 1, index * HISTORY_SAMPLE)


def plan_log(notices: list[NoticePlan], total: int, salts: Salts, first: datetime) -> LogPlan:
    """The logged part: the stories of the live notices and the recently cancelled ones
    (those that fit, earliest first)."""
    live = sorted(
        (n for n in notices if n.planned in LIVE or n.recent), key=lambda n: n.published_at or n.created_at
    )
    events: list[Event] = []
    for n in live:
        told = notice_events(n, salts)
        if len(events) + len(told) > total:
            continue
        n.logged = True
        events += told
    events.sort(key=lambda e: e.ts)  # (stable: a withdrawal at its bid's very time stays after it)
    for before, after in zip(events, events[1:]):
        if after.ts <= before.ts:  # one clock: every entry strictly later than the one before
            after.ts = before.ts + timedelta(microseconds=1)
    history = total - len(events)
    live_start = (
        events[0].ts if events else max((n.published_at or n.created_at for n in notices), default=first)
    )
    rows = [(history + i, event) for i, event in enumerate(events)]
    return _finish_log(rows, history, live_start, first, sum(n.logged for n in live))


def _finish_log(
    rows: list[tuple[int, Event]], history: int, live_start: datetime, first: datetime, logged: int
) -> LogPlan:
    entries = []
    spelled = 0
    for seq, event in rows:
        if event.fill is not None:
            event.fill(event.fields)
        notice_id = event.fields.get("notice_id")
        if event.type == entry_types.BID_SEALED:
            # Most of the part: spelled out, and the first few checked against the services' own.
            body = sealed_entry(bytes.fromhex(event.fields["commitment"]), seq, event.ts)
            if spelled < 20:
                assert body == store.build_entry(
                    seq=seq, type=event.type, ts=event.ts, fields=event.fields, version=PROTOCOL
                )
                spelled += 1
        else:
            body = store.build_entry(
                seq=seq, type=event.type, ts=event.ts, fields=event.fields, version=PROTOCOL
            )
        leaf = protocol.leaf_hash(body)
        # A sealed entry names no notice, in the store's index too (log_entry.notice_id NULL).
        entries.append((seq, event.type, notice_id if isinstance(notice_id, str) else None, body, leaf))
        if event.done is not None:
            event.done(seq, event.ts, leaf)
    return LogPlan(
        history=history,
        entries=entries,
        live_start=live_start,
        first=first,
        times=[e.ts for _, e in rows],
        logged=logged,
    )


# -- keys ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """The data dir's keys, as the application loads them: secrets are sealed, receipts and
    the checkpoint signed with what the server will use."""

    signer: LogSigner
    sealer: SecretSealer
    receipts: ReceiptSigner

    @classmethod
    def from_data_dir(cls, data_dir: Path | None) -> Keys:
        settings = Settings.from_env()
        where = data_dir or settings.data_dir
        return cls(
            LogSigner.from_data_dir(settings.log_origin, where),
            SecretSealer.from_data_dir(where),
            ReceiptSigner.from_data_dir(where),
        )


class Sealer:
    """SecretSealer.seal for a million bids: the same AES-256-GCM under the data dir's seal
    key (12-byte nonce || ciphertext, the label as associated data), with the nonces read
    from the operating system in bulk instead of one call each (a third of the cost).
    Falls back to SecretSealer.seal itself if it no longer keeps its AESGCM object; Rows.bid
    opens the first values with SecretSealer.open either way."""

    NONCES = 4096  # read at a time

    def __init__(self, sealer: SecretSealer) -> None:
        self.sealer = sealer
        self.aead: AESGCM | None = getattr(sealer, "_aead", None)
        if not isinstance(self.aead, AESGCM):
            self.aead = None
        self.pool, self.at = b"", 0

    def seal(self, label: str, value: bytes) -> bytes:
        if self.aead is None:
            return self.sealer.seal(label, value)
        if self.at == len(self.pool):
            self.pool, self.at = os.urandom(12 * self.NONCES), 0
        nonce = self.pool[self.at : self.at + 12]
        self.at += 12
        return nonce + self.aead.encrypt(nonce, value, label.encode())


def unseal_bid(sealer: SecretSealer, bid_id: str, sealed: bytes) -> SealedBid:
    """What the server reads back of a bid's sealed material (bids.queries.unseal, for a row)."""
    return SealedBid.from_bytes(sealer.open(bid_label(bid_id), sealed))


def sealed_material(document: bytes, receipt: str, salt: bytes) -> bytes:
    """SealedBid(document, salt, receipt).to_bytes(), spelled out: the canonical JSON of
    {"document", "receipt", "salt"} (the document's quotes are its only characters JSON
    escapes in a string; a receipt is base64url and dots)."""
    return (
        b'{"document":"'
        + document.replace(b'"', b'\\"')
        + f'","receipt":"{receipt}","salt":"{salt.hex()}"}}'.encode()
    )


class Receipts:
    """Bid receipts as market.bids.receipts.ReceiptSigner makes them (the same header,
    claims and ES256 signature), without python-jose's per-call key serialisation; and
    unsecured ones (RFC 7515 alg "none") for bids that have no entry to vouch for."""

    def __init__(self, signer: ReceiptSigner) -> None:
        self.key = signer.private_key
        self.header = b64url(
            json.dumps(
                {"alg": "ES256", "kid": signer.kid, "typ": "JWT"}, sort_keys=True, separators=(",", ":")
            ).encode()
        )
        self.none = b64url(b'{"alg":"none","typ":"JWT"}')

    @staticmethod
    def claims(notice_id: str, bid: BidPlan, commitment: bytes, salt: bytes) -> bytes:
        """ReceiptSigner.sign's payload for an MSP/2 bid (CLAIMS_V2 in its json.dumps, sorted
        and compact), spelled out."""
        return (
            f'{{"agency_id":"{bid.agency.public_id}","bid_id":"{bid.public_id}","commitment":"{commitment.hex()}",'
            f'"leaf_hash":"{bid.leaf_hash.hex()}","notice_id":"{notice_id}","salt":"{salt.hex()}","seq":{bid.seq},"v":2}}'
        ).encode()

    @staticmethod
    def claims_as_signer_writes_them(notice_id: str, bid: BidPlan, commitment: bytes, salt: bytes) -> bytes:
        claims = {
            "v": 2,
            "notice_id": notice_id,
            "bid_id": bid.public_id,
            "agency_id": bid.agency.public_id,
            "commitment": commitment.hex(),
            "salt": salt.hex(),
            "seq": bid.seq,
            "leaf_hash": bid.leaf_hash.hex(),
        }
        return json.dumps(
            {c: claims[c] for c in claims_of(2)}, sort_keys=True, separators=(",", ":")
        ).encode()

    def signed(self, claims: bytes) -> str:
        signing_input = f"{self.header}.{b64url(claims)}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def unsigned(self, claims: bytes) -> str:
        return f"{self.none}.{b64url(claims)}."


# -- the whole plan -------------------------------------------------------------------------------------------


@dataclass
class World:
    sizes: Sizes
    anchor: datetime
    people: People
    notices: list[NoticePlan]

    def awards(self) -> Iterator[tuple[NoticePlan, AwardPlan]]:
        for n in self.notices:
            for a in n.awards:
                yield n, a

    def contracts(self) -> list[tuple[NoticePlan, ContractPlan]]:
        return sorted(((n, c) for n in self.notices for c in n.contracts), key=lambda p: p[1].number)


def plan_world(sizes: Sizes, rng: random.Random, anchor: datetime) -> World:
    people = plan_people(sizes, rng, anchor)
    pools = Pools(people.agencies, china_day(anchor))
    notices = plan_notices(sizes.notices, rng, anchor, people, pools) if people.orgs else []
    allocate_bids(notices, sizes.bids, rng, anchor)
    settle(notices, rng, anchor, people)
    world = World(sizes, anchor, people, notices)
    number = 0
    for _, award in world.awards():
        number += 1
        award.id = number
    return world


# -- rows ------------------------------------------------------------------------------------------------------

COLUMNS: dict[str, list[str]] = {
    "app_user": [
        "id",
        "public_id",
        "email",
        "name",
        "role",
        "password_hash",
        "is_active",
        "created_at",
        "jurisdiction",
    ],
    "owner_org": ["id", "public_id", "name", "credit_code", "region", "hall", "created_by", "created_at"],
    "project": ["id", "public_id", "org_id", "name", "code", "created_at"],
    "agency": [
        "id",
        "public_id",
        "owner_id",
        "name",
        "credit_code",
        "region",
        "legal_representative",
        "contact_phone",
        "address",
        "status",
        "status_reason",
        "status_until",
        "created_at",
        "updated_at",
    ],
    "agency_category": ["agency_id", "category"],
    "qualification": [
        "id",
        "agency_id",
        "category",
        "level",
        "certificate_no",
        "valid_until",
        "status",
        "replaces_id",
        "review_reason",
        "created_at",
    ],
    "agency_document": [
        "id",
        "agency_id",
        "kind",
        "filename",
        "content_type",
        "size",
        "sha256",
        "uploaded_at",
    ],
    "agency_review": [
        "id",
        "agency_id",
        "action",
        "from_status",
        "to_status",
        "reason",
        "until",
        "actor_id",
        "log_seq",
        "created_at",
    ],
    "notice": [
        "id",
        "public_id",
        "owner_id",
        "org_id",
        "project_id",
        "hall",
        "title",
        "description",
        "category",
        "required_level",
        "region",
        "budget_fen",
        "method",
        "winners",
        "min_candidates",
        "bid_deadline",
        "service_days",
        "direct_agency_id",
        "direct_justification",
        "status",
        "commit",
        "scheme",
        "protocol",
        "sealing",
        "opened_seq",
        "terms",
        "terms_sha256",
        "published_at",
        "cancel_reason",
        "created_at",
        "updated_at",
    ],
    "notice_avoid": ["notice_id", "agency_id", "reason"],
    "notice_revision": ["id", "notice_id", "changes", "reason", "terms_sha256", "log_seq", "created_at"],
    "notice_secret": ["notice_id", "sealed"],
    "bid": [
        "id",
        "public_id",
        "notice_id",
        "agency_id",
        "protocol",
        "commitment",
        "sealed",
        "seq",
        "leaf_hash",
        "withdrawal_seq",
        "withdrawal_sealed",
        "status",
        "created_at",
        "withdrawn_at",
    ],
    "selection": [
        "notice_id",
        "closed_seq",
        "closed_at",
        "secret",
        "bids",
        "openings",
        "candidates",
        "excluded",
        "eligible",
        "outcome",
        "outcome_seq",
        "outcome_at",
        "failed_reason",
        "beacon",
        "seed",
        "order",
        "ranking",
        "winners",
        "alternates",
        "waiting_reason",
        "beacon_checked_at",
        "publicity_ends",
        "final_seq",
        "final_pending",
    ],
    "award": [
        "id",
        "notice_id",
        "slot",
        "agency_id",
        "agency_public_id",
        "status",
        "since_seq",
        "ended_seq",
        "end_reason",
        "replaced_by",
        "created_at",
        "ended_at",
    ],
    "objection": [
        "id",
        "public_id",
        "notice_id",
        "hall",
        "filed_by",
        "agency_public_id",
        "reasons",
        "status",
        "filed_seq",
        "filed_at",
        "answer",
        "answered_seq",
        "answered_at",
        "decision_reason",
        "decided_by",
        "decided_seq",
        "decided_at",
        "party",
        "party_salt",
    ],
    "inbox_message": ["id", "user_id", "notice_id", "kind", "params", "created_at", "read_at"],
    "contract": [
        "id",
        "public_id",
        "notice_id",
        "award_id",
        "agency_id",
        "owner_id",
        "amount_fen",
        "signed_on",
        "start_on",
        "due_on",
        "status",
        "stop_reason",
        "recorded_seq",
        "signed_seq",
        "created_at",
        "confirmed_at",
        "completed_at",
        "stopped_at",
        "declined_at",
    ],
    "milestone": [
        "id",
        "contract_id",
        "position",
        "title",
        "due_on",
        "status",
        "note",
        "return_reason",
        "submitted_at",
        "accepted_at",
        "overdue_on",
    ],
    "deliverable": ["id", "milestone_id", "filename", "content_type", "size", "sha256", "uploaded_at"],
    "rating": [
        "id",
        "public_id",
        "contract_id",
        "agency_id",
        "quality",
        "timeliness",
        "attitude",
        "fees",
        "compliance",
        "comment",
        "rated_at",
        "seq",
        "reply",
        "replied_at",
        "void_reason",
        "voided_at",
        "voided_by",
    ],
    "log_entry": ["seq", "type", "notice_id", "entry", "leaf_hash"],
}
PUBLIC_SEQUENCES = {
    "app_user": "app_user_public_seq",
    "agency": AGENCY_ID_SEQUENCE,
    "owner_org": "owner_org_public_seq",
    "project": "project_public_seq",
    "notice": "notice_public_seq",
    "bid": "bid_public_seq",
    "objection": "objection_public_seq",
    "contract": "contract_public_seq",
    "rating": "rating_public_seq",
}


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class Rows:
    """Every table's rows, generated from the plan in the order they are written."""

    def __init__(
        self, world: World, log: LogPlan, keys: Keys, rng: random.Random, salts: Salts, password_hash: str
    ) -> None:
        self.world, self.log, self.keys, self.rng, self.salts, self.password_hash = (
            world,
            log,
            keys,
            rng,
            salts,
            password_hash,
        )
        self.receipts = Receipts(keys.receipts)
        self.sealer = Sealer(keys.sealer)
        self.selections: list[tuple[Any, ...]] = []  # filled while the bids stream past

    # accounts, organisations, agencies

    def app_user(self) -> Iterator[tuple[Any, ...]]:
        for u in self.world.people.users():
            yield (
                u.id,
                u.public_id,
                u.email,
                u.name,
                u.role,
                self.password_hash,
                True,
                u.created_at,
                u.jurisdiction,
            )

    def owner_org(self) -> Iterator[tuple[Any, ...]]:
        for o in self.world.people.orgs:
            yield (o.id, o.public_id, o.name, o.credit_code, o.region, o.hall, o.owner.id, o.created_at)

    def project(self) -> Iterator[tuple[Any, ...]]:
        for p in self.world.people.projects:
            yield (p.id, p.public_id, p.org.id, p.name, p.code, p.created_at)

    def agency(self) -> Iterator[tuple[Any, ...]]:
        for a in self.world.people.agencies:
            yield (
                a.id,
                a.public_id,
                a.user.id,
                a.name,
                a.credit_code,
                a.region,
                a.legal_representative,
                a.contact_phone,
                a.address,
                a.status,
                a.status_reason,
                a.status_until,
                a.created_at,
                a.updated_at,
            )

    def agency_category(self) -> Iterator[tuple[Any, ...]]:
        for a in self.world.people.agencies:
            for c in a.categories:
                yield (a.id, c)

    def qualification(self) -> Iterator[tuple[Any, ...]]:
        for a in self.world.people.agencies:
            for q in sorted(a.quals, key=lambda q: q.id):
                yield (
                    q.id,
                    a.id,
                    q.category,
                    q.level,
                    q.certificate_no,
                    q.valid_until,
                    q.status,
                    q.replaces_id,
                    q.review_reason,
                    q.created_at,
                )

    def agency_document(self) -> Iterator[tuple[Any, ...]]:
        number = 0
        for a in self.world.people.agencies:
            kinds = [("licence", "营业执照.pdf")] + (
                [("certificate", "资质证书.pdf")] if self.rng.random() < 0.6 else []
            )
            for kind, filename in kinds:
                number += 1
                yield (
                    number,
                    a.id,
                    kind,
                    filename,
                    "application/pdf",
                    self.rng.randint(80_000, 2_000_000),
                    digest_hex(self.rng),
                    a.created_at + timedelta(minutes=10),
                )

    def agency_review(self) -> Iterator[tuple[Any, ...]]:
        number = 0
        for a in self.world.people.agencies:
            for r in a.reviews:
                number += 1
                yield (
                    number,
                    a.id,
                    r.action,
                    r.from_status,
                    r.to_status,
                    r.reason,
                    r.until,
                    r.actor.id if r.actor else None,
                    self.log.seq_at(r.at),
                    r.at,
                )

    # notices

    def notice(self) -> Iterator[tuple[Any, ...]]:
        for n in self.world.notices:
            terms = n.terms(n.deadline) if n.published_at is not None else None
            yield (
                n.number,
                n.public_id,
                n.org.owner.id,
                n.org.id,
                n.project.id if n.project else None,
                None if n.status == "draft" else n.org.hall,  # its organisation's hall, for life
                n.title,
                n.description,
                n.category,
                n.required_level,
                n.region,
                n.budget_fen,
                n.method,
                n.winners,
                n.min_candidates,
                n.deadline,
                n.service_days,
                n.direct.public_id if n.direct else None,
                n.direct_justification,
                n.status,
                protocol.commitment(n.public_id, n.secret).hex() if terms else None,
                n.scheme if terms else None,
                PROTOCOL,
                SEALING if terms else None,
                self.opened_seq(n),
                terms,
                protocol.sha256_hex(terms) if terms else None,
                n.published_at,
                n.cancel_reason,
                n.created_at,
                n.updated_at,
            )

    def opened_seq(self, n: NoticePlan) -> int | None:
        """The entry that opened the notice's bids: its close, or its cancellation (for
        notices the log does not tell, the entry logged at about that time)."""
        if n.closed_at is not None:
            return n.seqs.get("closed", self.log.seq_at(n.closed_at))
        if n.cancelled_at is not None:
            return n.seqs.get("cancelled", self.log.seq_at(n.cancelled_at))
        return None

    def notice_avoid(self) -> Iterator[tuple[Any, ...]]:
        for n in self.world.notices:
            for agency_id, reason in sorted(n.avoid):
                yield (n.number, agency_id, reason)

    def notice_revision(self) -> Iterator[tuple[Any, ...]]:
        number = 0
        for n in self.world.notices:
            if n.amended_at is not None and n.first_deadline is not None:
                number += 1
                changes = {
                    "bid_deadline": [protocol.format_ts(n.first_deadline), protocol.format_ts(n.deadline)]
                }
                seq = n.seqs.get("amended", self.log.seq_at(n.amended_at))
                yield (
                    number,
                    n.number,
                    as_json(changes),
                    n.amend_reason,
                    protocol.sha256_hex(n.terms(n.deadline)),
                    seq,
                    n.amended_at,
                )

    def notice_secret(self) -> Iterator[tuple[Any, ...]]:
        for n in self.world.notices:
            if n.published_at is not None:
                yield (n.number, self.keys.sealer.seal(n.public_id, n.secret))

    def bid(self) -> Iterator[tuple[Any, ...]]:
        """The bids (MSP/2: commitment and sealed material only), and on the way each closed
        notice's selection row (it holds their openings)."""
        checked = 0
        seal, salts, receipts, seq_at = self.sealer.seal, self.salts, self.receipts, self.log.seq_at
        for n in self.world.notices:
            docs: dict[int, bytes] = {}
            openings: dict[int, str] = {}
            for b in n.bids:
                salt = salts.bid(b.number)
                doc = bid_document(n.public_id, b)
                commitment = bid_commitment(salt, doc)
                if checked < 50:  # the spelled-out document and commitment are protocol's, byte for byte
                    assert doc == protocol.bid_document_v2(
                        n.public_id, b.public_id, b.agency.public_id, b.price_fen
                    )
                    assert commitment == protocol.bid_commitment(salt, doc)
                docs[b.number] = doc
                if not b.signed:
                    # No entry of its own: the seq of the entry logged at about its time, and the
                    # leaf hash of the bid.sealed entry it would have had there.
                    b.seq = seq_at(b.created_at)
                    b.leaf_hash = protocol.leaf_hash(sealed_entry(commitment, b.seq, b.created_at))
                    if checked < 50:
                        assert sealed_entry(commitment, b.seq, b.created_at) == store.build_entry(
                            seq=b.seq,
                            type=entry_types.BID_SEALED,
                            ts=b.created_at,
                            fields={"commitment": commitment.hex()},
                            version=PROTOCOL,
                        )
                claims = receipts.claims(n.public_id, b, commitment, salt)
                receipt = receipts.signed(claims) if b.signed else receipts.unsigned(claims)
                material = sealed_material(doc, receipt, salt)
                sealed = seal(bid_label(b.public_id), material)
                withdrawn: tuple[bytes, int] | None = None
                withdrawal_sealed = None
                if withdrawal_logged(n, b):
                    assert b.withdrawn_at is not None
                    if b.withdrawal_seq < 0:  # after its bid's, as a withdrawal's entry is
                        b.withdrawal_seq = max(seq_at(b.withdrawn_at), b.seq + 1)
                    withdrawn = (salts.withdrawal(b.number), b.withdrawal_seq)
                    withdrawal_sealed = seal(withdrawal_label(b.public_id), withdrawn[0])
                if checked < 50:
                    assert claims == receipts.claims_as_signer_writes_them(n.public_id, b, commitment, salt)
                    assert material == SealedBid(document=doc, salt=salt, receipt=receipt).to_bytes()
                    opened = unseal_bid(self.keys.sealer, b.public_id, sealed)
                    assert (opened.document, opened.salt, opened.receipt) == (doc, salt, receipt)
                    if withdrawn is not None:
                        assert (
                            self.keys.sealer.open(withdrawal_label(b.public_id), withdrawal_sealed)
                            == withdrawn[0]
                        )  # type: ignore[arg-type]
                    assert json.loads(opening_json(doc, salt, b.seq, withdrawn)) == protocol.opening(
                        doc, salt, b.seq, withdrawn
                    )
                checked += 1
                if n.closed_at is not None:
                    openings[b.number] = opening_json(doc, salt, b.seq, withdrawn)
                yield (
                    b.number,
                    b.public_id,
                    n.number,
                    b.agency.id,
                    PROTOCOL,
                    commitment.hex(),
                    sealed,
                    b.seq,
                    b.leaf_hash.hex(),
                    b.withdrawal_seq if withdrawn is not None else None,
                    withdrawal_sealed,
                    "standing" if b.withdrawn_at is None else "withdrawn",
                    b.created_at,
                    b.withdrawn_at,
                )
            if n.closed_at is not None:
                self.selections.append(self._selection(n, docs, openings))

    def _selection(self, n: NoticePlan, docs: dict[int, bytes], openings: dict[int, str]) -> tuple[Any, ...]:
        assert n.closed_at is not None
        # JSON text in bid id order: the standing documents (what selection.bids holds, the
        # role MSP/1's bids played) and every bid's opening, as the close logged them.
        ordered = sorted(n.bids, key=lambda b: b.public_id.encode("utf-8"))
        standing = "[" + ",".join(docs[b.number].decode() for b in ordered if b.withdrawn_at is None) + "]"
        opened = "[" + ",".join(openings[b.number] for b in ordered) + "]"
        d = n.draw
        winners = d.winners if d else ([n.candidates[0][0]] if n.outcome == "direct" else None)
        alternates = d.alternates if d else ([] if n.outcome == "direct" else None)
        final = n.final_at if n.status == "awarded" else None
        return (
            n.number,
            n.seqs.get("closed", self.log.seq_at(n.closed_at)),
            n.closed_at,
            n.secret.hex(),
            standing,
            opened,
            as_json([[a, w] for a, w in n.candidates]),
            as_json(n.excluded),
            n.eligible.hex(),
            n.outcome,
            n.seqs.get("outcome", self.log.seq_at(n.outcome_at)) if n.outcome_at else None,
            n.outcome_at,
            n.failed_reason,
            None,
            d.seed.hex() if d else None,
            as_json(d.order) if d else None,
            as_json(d.ranking) if d else None,
            as_json(winners) if winners is not None else None,
            as_json(alternates) if alternates is not None else None,
            n.waiting_reason,
            n.closed_at if n.outcome == "waiting" else None,
            n.publicity_ends,
            self.log.seq_at(final) if final else None,
            n.status == "selected",  # selection.models: final_pending
        )

    def selection(self) -> Iterator[tuple[Any, ...]]:
        yield from self.selections

    def award(self) -> Iterator[tuple[Any, ...]]:
        for n, a in self.world.awards():
            # The first holders came with the outcome entry, replacements with a decline's.
            since = (
                n.seqs["outcome"]
                if "outcome" in n.seqs and a.since == n.outcome_at
                else self.log.seq_at(a.since)
            )
            yield (
                a.id,
                n.number,
                a.slot,
                a.agency.id,
                a.agency.public_id,
                a.status,
                since,
                self.log.seq_at(a.ended_at) if a.ended_at else None,
                a.end_reason,
                a.replaced_by,
                a.since,
                a.ended_at,
            )

    def objection(self) -> Iterator[tuple[Any, ...]]:
        rows = []
        for n in self.world.notices:
            for o in n.objections:
                seq = self.log.seq_at
                rows.append(
                    (
                        o.number,
                        o.public_id,
                        n.number,
                        n.org.hall,  # decided where its notice belongs
                        o.filed_by.id,
                        o.agency.public_id if o.agency else None,
                        o.reasons,
                        o.status,
                        o.filed_seq if o.filed_seq >= 0 else seq(o.filed_at),
                        o.filed_at,
                        o.answer,
                        (o.answered_seq if o.answered_seq >= 0 else seq(o.answered_at))
                        if o.answered_at
                        else None,
                        o.answered_at,
                        o.decision_reason,
                        o.decided_by.id if o.decided_by else None,
                        seq(o.decided_at) if o.decided_at else None,
                        o.decided_at,
                        o.party,
                        o.party_salt,
                    )
                )
        yield from sorted(rows)

    def inbox_message(self) -> Iterator[tuple[Any, ...]]:
        messages = [m for n in self.world.notices for m in notice_messages(n)]
        messages.sort(key=lambda m: m[3])
        week_ago = self.world.anchor - timedelta(days=7)
        for number, (user, n, kind, at, params) in enumerate(messages, start=1):
            read = at + days(self.rng, 0.01, 5) if at < week_ago and self.rng.random() < 0.85 else None
            yield (
                number,
                user.id,
                n.number,
                kind,
                as_json({"notice_id": n.public_id, "title": n.title, **params}),
                at,
                read,
            )

    def contract(self) -> Iterator[tuple[Any, ...]]:
        for n, c in self.world.contracts():
            a = c.award
            yield (
                c.number,
                format_public_id("C", c.number),
                n.number,
                a.id,
                a.agency.id,
                n.org.owner.id,
                c.amount_fen,
                c.signed_on,
                c.start_on,
                c.due_on,
                c.status,
                c.stop_reason,
                self.log.seq_at(c.recorded_at),
                self.log.seq_at(c.confirmed_at) if c.confirmed_at else None,
                c.recorded_at,
                c.confirmed_at,
                c.completed_at,
                c.stopped_at,
                c.declined_at,
            )

    def milestone(self) -> Iterator[tuple[Any, ...]]:
        number = 0
        for _, c in self.world.contracts():
            for m in c.milestones:
                number += 1
                yield (
                    number,
                    c.number,
                    m.position,
                    m.title,
                    m.due_on,
                    m.status,
                    m.note,
                    m.return_reason,
                    m.submitted_at,
                    m.accepted_at,
                    m.overdue_on,
                )

    def deliverable(self) -> Iterator[tuple[Any, ...]]:
        milestone, number = 0, 0
        for _, c in self.world.contracts():
            for m in c.milestones:
                milestone += 1
                if m.submitted_at is not None:
                    number += 1
                    yield (
                        number,
                        milestone,
                        f"里程碑{m.position}成果.pdf",
                        "application/pdf",
                        self.rng.randint(200_000, 9_000_000),
                        digest_hex(self.rng),
                        m.submitted_at,
                    )

    def rating(self) -> Iterator[tuple[Any, ...]]:
        rated = sorted(
            ((n, c) for n, c in self.world.contracts() if c.rating is not None),
            key=lambda p: p[1].rating.rated_at,
        )  # type: ignore[union-attr]
        supervisors = self.world.people.supervisors
        for number, (_, c) in enumerate(rated, start=1):
            r = c.rating
            assert r is not None
            voided_by = supervisors[number % len(supervisors)].id if r.voided_at else None
            yield (
                number,
                format_public_id("RT", number),
                c.number,
                c.award.agency.id,
                *r.scores,
                r.comment,
                r.rated_at,
                self.log.seq_at(r.rated_at),
                r.reply,
                r.replied_at,
                r.void_reason,
                r.voided_at,
                voided_by,
            )


def notice_messages(n: NoticePlan) -> Iterator[tuple[User, NoticePlan, str, datetime, dict[str, Any]]]:
    """The dashboard messages the services leave on the way (selection.service._message and
    contracts.service._message), to whom and when."""
    owner = n.org.owner
    if n.outcome == "waiting" and n.closed_at:
        yield owner, n, "waiting_for_beacon", n.closed_at, {}
    if n.outcome == "failed" and n.outcome_at:
        yield owner, n, "failed", n.outcome_at, {"reason": n.failed_reason}
    if n.outcome in ("drawn", "direct") and n.outcome_at:
        yield owner, n, "selected", n.outcome_at, {}
    for a in n.awards:
        if a.since == n.outcome_at:
            yield a.agency.user, n, "won", a.since, {}
        if a.ended_at is not None:
            yield (
                owner,
                n,
                a.status,
                a.ended_at,
                {"agency_id": a.agency.public_id, "replacement": a.replaced_by},
            )
            if a.replaced_by:
                replacement = next(
                    x for x in n.awards if x.agency.public_id == a.replaced_by and x.since == a.ended_at
                )
                yield (
                    replacement.agency.user,
                    n,
                    "won_as_replacement",
                    a.ended_at,
                    {"replaced": a.agency.public_id},
                )
    for o in n.objections:
        yield owner, n, "objection_filed", o.filed_at, {"objection_id": o.public_id}
        if o.answered_at:
            yield o.filed_by, n, "objection_answered", o.answered_at, {"objection_id": o.public_id}
        if o.decided_at:
            yield (
                o.filed_by,
                n,
                "objection_decided",
                o.decided_at,
                {"objection_id": o.public_id, "decision": o.status},
            )
            yield (
                owner,
                n,
                "objection_decided",
                o.decided_at,
                {"objection_id": o.public_id, "decision": o.status},
            )
    if n.status == "awarded" and n.final_at:
        for a in n.awards:
            if a.status == "holding":
                yield a.agency.user, n, "final", n.final_at, {}
        yield owner, n, "final", n.final_at, {}
    for c in n.contracts:
        agency = c.award.agency
        contract_id = {"contract_id": format_public_id("C", c.number)}
        yield agency.user, n, "contract_recorded", c.recorded_at, contract_id
        if c.confirmed_at:
            yield owner, n, "contract_signed", c.confirmed_at, {**contract_id, "agency_id": agency.public_id}
        for m in c.milestones:
            if m.submitted_at:
                yield owner, n, "milestone_submitted", m.submitted_at, {**contract_id, "position": m.position}
            if m.accepted_at:
                yield (
                    agency.user,
                    n,
                    "milestone_accepted",
                    m.accepted_at,
                    {**contract_id, "position": m.position},
                )
        if c.completed_at:
            yield agency.user, n, "contract_completed", c.completed_at, contract_id
        if c.stopped_at:
            yield agency.user, n, "contract_stopped", c.stopped_at, contract_id


# -- writing ----------------------------------------------------------------------------------------------------


class History:
    """The synthetic part of log_entry (ops/bench/synthetic_log.py), streamed to COPY and
    followed by the logged part. Its notices are HN-000001... and their bids HB-...: not the
    seeded notices, whose stories it does not tell. Its clock is stretched over the seeded
    rows' time before the logged part, so a seq found by time is about that time.

    MSP/2: its notices still open where it ends never close, and their sealed entries stay
    unopened; a verifier accepts them while they are within the longest bid window and the
    opening grace (97 days) of the log's time. every_for's estimate of its pace misses by
    weeks or months (by 7 % of four years at full scale), so the history is placed by a dry
    run of the generator instead: it starts where it then ends a day before the logged part
    (about when the seeded rows start, with PACE_BIAS; rows older than its first entry
    point at entry 0).
    For a long history the dry run is made in another process while the plan is made
    (``timing``, a Timing started with a guessed pace); a short one's here, in a moment."""

    def __init__(self, world: World, log: LogPlan, rng_seed: int, timing: Timing | None = None) -> None:
        self.world, self.log, self.rng_seed, self.timing = world, log, rng_seed, timing
        self.last_ts = ""
        self.agencies = max(1, len(self.world.people.agencies))
        self.note = ""

    def placed(self) -> tuple[float, datetime]:
        """(every, start): the pace and the first entry's time that end the history at
        ``live_start - 1 day``."""
        n, log = self.log.history, self.log
        last = log.live_start - timedelta(days=1)
        every = every_for(n, last - log.first) * PACE_BIAS
        if n <= 0:
            return every, log.first
        if self.timing is not None:
            offset = self.timing.offset(n - 1, every)
            if offset is not None:
                return self.timing.every, last - offset
            self.note = "the history's dry run in another process did not serve (a guessed pace too far off, or no process): made here"
        return every, last - history_offsets(n, self.rng_seed, self.agencies, every)[n - 1]

    def rows(self) -> Iterator[tuple[Any, ...]]:
        n, log = self.log.history, self.log
        every, start = self.placed()
        entries = synthetic_log(
            n, self.rng_seed, agencies=self.agencies, start=start, every=every, ids=("HN", "HB")
        )
        for seq, (type_, notice_id, entry) in enumerate(entries):
            if seq % HISTORY_SAMPLE == 0 or seq == n - 1:
                at = entry.index(b'"ts":"') + 6
                self.last_ts = entry[at : at + 27].decode()
                if seq % HISTORY_SAMPLE == 0:
                    log.history_ts.append(protocol.parse_ts(self.last_ts))
            yield (seq, type_, notice_id, entry, protocol.leaf_hash(entry))
        yield from log.entries


def history_offsets(n: int, rng_seed: int, agencies: int, every: float) -> list[timedelta]:
    """How long after its first entry each of synthetic_log's first ``n`` entries comes
    (with the history's arguments; the times are the same from any start, shifted)."""
    epoch = START
    out = []
    for _, _, entry in synthetic_log(
        n, rng_seed, agencies=agencies, start=epoch, every=every, ids=("HN", "HB")
    ):
        at = entry.index(b'"ts":"') + 6
        out.append(protocol.parse_ts(entry[at : at + 27].decode()) - epoch)
    return out


def _offsets_in_microseconds(n: int, rng_seed: int, agencies: int, every: float) -> bytes:
    """history_offsets for another process: whole microseconds, packed (8 bytes each)."""
    return array(
        "q", (t // timedelta(microseconds=1) for t in history_offsets(n, rng_seed, agencies, every))
    ).tobytes()


TIMING_FROM = 100_000  # log entries: below, the dry run is made in place (a second per 25,000 entries)
HISTORY_SHARE = 0.83  # of the log at the default sizes: the logged part is the rest
LIVE_AGO = timedelta(days=23)  # the logged part begins about this long before the anchor
PLATFORM_AGE = timedelta(days=4 * 365)  # plan_people: the first accounts
PACE_TOLERANCE = 0.05  # how far the guessed pace may be from every_for's for the history as planned
# every_for's pace makes a history some 8 % shorter than the span it is given (measured at
# 0.1 and full scale): so that it starts about when the seeded rows do, the pace is raised.
PACE_BIAS = 1.08


class Timing:
    """The history's dry run (History.placed), started in another process before the plan
    is made, with a pace guessed from the sizes; it takes about as long as the planning, and
    costs nothing on a machine with a second core. Its offsets serve if the pace is within
    PACE_TOLERANCE of the one every_for then gives for the history as planned (at the
    default sizes it is)."""

    def __init__(self, total: int, rng_seed: int, agencies: int) -> None:
        self.every = (
            every_for(round(total * HISTORY_SHARE), PLATFORM_AGE - LIVE_AGO - timedelta(days=1)) * PACE_BIAS
        )
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.future: concurrent.futures.Future[bytes] | None = None
        try:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn")
            )
            self.future = self.pool.submit(
                _offsets_in_microseconds, total, rng_seed, max(1, agencies), self.every
            )
        except (OSError, RuntimeError, NotImplementedError):  # no processes here: made in place later
            self.close()

    def offset(self, index: int, every: float) -> timedelta | None:
        if self.future is None or abs(self.every / every - 1) > PACE_TOLERANCE:
            return None
        try:
            offsets = array("q", self.future.result())
        except Exception:
            return None
        finally:
            self.close()
        return timedelta(microseconds=offsets[index]) if index < len(offsets) else None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None


async def copy(
    conn: asyncpg.Connection, report: SeedReport, table: str, records: Iterable[tuple[Any, ...]]
) -> None:
    started = time.perf_counter()
    rows = 0

    def counted() -> Iterator[tuple[Any, ...]]:
        nonlocal rows
        for record in records:
            rows += 1
            yield record

    await conn.copy_records_to_table(table, records=counted(), columns=COLUMNS[table])
    report.tables[table] = (rows, time.perf_counter() - started)


async def subtrees_from_leaves(conn: asyncpg.Connection) -> int:
    """log_subtree from the entries' leaf hashes, a level at a time, in SQL: every aligned
    perfect subtree, as market_log_append stores them (migration 0002); the rows written.
    (ops/bench/log_append.py --prefill builds its log's tree with it too.)"""
    total = int(
        (
            await conn.execute(
                "INSERT INTO log_subtree (level, idx, hash) SELECT 0, seq, leaf_hash FROM log_entry"
            )
        ).split()[-1]
    )
    level = 1
    while True:
        status = await conn.execute(
            "INSERT INTO log_subtree (level, idx, hash) "
            "SELECT $1::smallint, l.idx / 2, sha256('\\x01'::bytea || l.hash || r.hash) "
            "FROM log_subtree l JOIN log_subtree r ON r.level = l.level AND r.idx = l.idx + 1 "
            "WHERE l.level = $1::smallint - 1 AND l.idx % 2 = 0",
            level,
        )
        added = int(status.split()[-1])
        if added == 0:
            return total
        total += added
        level += 1


async def build_subtrees(conn: asyncpg.Connection, report: SeedReport) -> None:
    started = time.perf_counter()
    total = await subtrees_from_leaves(conn)
    report.tables["log_subtree"] = (total, time.perf_counter() - started)


async def build_agency_index(conn: asyncpg.Connection, report: SeedReport) -> None:
    """log_entry_agency (every agency each entry names) from the entries, with the database
    functions market_log_append uses (migration 0013): COPY writes entries past the append."""
    started = time.perf_counter()
    status = await conn.execute(
        "INSERT INTO log_entry_agency (agency_id, seq) SELECT a, e.seq FROM log_entry e "
        "CROSS JOIN LATERAL market_log_named_agencies(e.entry) AS a WHERE market_log_may_name_agencies(e.entry)"
    )
    report.tables["log_entry_agency"] = (int(status.split()[-1]), time.perf_counter() - started)


async def sign_checkpoint(conn: asyncpg.Connection, report: SeedReport, size: int, signer: LogSigner) -> None:
    """store.ensure_checkpoint's work on this connection: the root from stored subtrees, signed."""
    started = time.perf_counter()
    if size:
        pieces = protocol.perfect_pieces(0, size)
        keys = [((e - s).bit_length() - 1, s >> ((e - s).bit_length() - 1)) for s, e in pieces]
        rows = await conn.fetch(
            "SELECT level, idx, hash FROM log_subtree WHERE (level, idx) IN (SELECT * FROM unnest($1::smallint[], $2::bigint[]))",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        found = {(r["level"], r["idx"]): bytes(r["hash"]) for r in rows}
        by_range = {piece: found[key] for piece, key in zip(pieces, keys, strict=True)}
        root = protocol.hash_range(0, size, lambda s, e: by_range[(s, e)])
        await conn.execute(
            "INSERT INTO log_checkpoint (size, root, note, created_at) VALUES ($1, $2, $3, now())",
            size,
            root,
            signer.sign_checkpoint(size, root),
        )
    report.tables["log_checkpoint"] = (1 if size else 0, time.perf_counter() - started)


async def set_sequences(conn: asyncpg.Connection, report: SeedReport) -> None:
    """Every sequence past what was seeded, so the application's next ids follow on."""
    started = time.perf_counter()
    counts = {table: rows for table, (rows, _) in report.tables.items()}
    public = {name: counts.get(table, 0) for table, name in PUBLIC_SEQUENCES.items()}
    for name, value in public.items():
        if value:
            await conn.execute("SELECT setval($1::regclass, $2)", name, value)
    for table, columns in COLUMNS.items():
        if columns[0] == "id":
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table} HAVING max(id) IS NOT NULL"
            )
    report.phases["sequences"] = time.perf_counter() - started


async def without_checks(conn: asyncpg.Connection) -> bool:
    """Foreign keys unchecked row by row while loading (a superuser may: the checks were
    half of a bid's COPY); check_foreign_keys checks every one afterwards, set-based."""
    try:
        async with conn.transaction():  # a savepoint: a refusal leaves the load's transaction usable
            await conn.execute("SET LOCAL session_replication_role = replica")
    except asyncpg.InsufficientPrivilegeError:
        return False
    return True


async def check_foreign_keys(conn: asyncpg.Connection) -> None:
    """Every foreign key of the schema, as one anti-join each: what the row-by-row checks
    skipped would have refused."""
    keys = await conn.fetch("""
        SELECT c.conname, c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
               array_agg(a.attname::text ORDER BY k.n) AS columns, array_agg(b.attname::text ORDER BY k.n) AS referenced
        FROM pg_constraint c
        CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(child_col, parent_col, n)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.child_col
        JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = k.parent_col
        WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
        GROUP BY c.conname, c.conrelid, c.confrelid""")
    for key in keys:
        matches = " AND ".join(
            f"p.{q(r)} = c.{q(col)}" for col, r in zip(key["columns"], key["referenced"], strict=True)
        )
        present = " AND ".join(f"c.{q(col)} IS NOT NULL" for col in key["columns"])
        bad = await conn.fetchval(
            f"SELECT count(*) FROM {key['child']} c WHERE {present} AND NOT EXISTS (SELECT 1 FROM {key['parent']} p WHERE {matches})"
        )
        if bad:
            raise AssertionError(f"{bad} rows of {key['child']} break foreign key {key['conname']}")


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def drop_secondary_indexes(conn: asyncpg.Connection) -> list[str]:
    """The seeded tables' indexes that no constraint owns, dropped for the load (one sorted
    build each afterwards is cheaper than a million inserts into each); their definitions."""
    rows = await conn.fetch(
        """
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
        FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname = ANY($1::text[]) AND t.relnamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        list(COLUMNS),
    )
    for row in rows:
        await conn.execute(f"DROP INDEX {row['name']}")
    return [row["definition"] for row in rows]


async def check_empty(conn: asyncpg.Connection) -> None:
    if await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM app_user) OR EXISTS (SELECT 1 FROM log_entry) OR EXISTS (SELECT 1 FROM notice)"
    ):
        raise ValueError(
            "the database already holds data: seed a fresh, migrated database (--scratch makes one)"
        )


async def write(
    conn: asyncpg.Connection,
    world: World,
    log: LogPlan,
    keys: Keys,
    rows: Rows,
    report: SeedReport,
    history: History,
    say: Callable[[str], None],
) -> None:
    # The log's own lock: a server appending meanwhile waits for the whole log to be in.
    await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
    unchecked = await without_checks(conn)
    indexes = await drop_secondary_indexes(conn)
    # The log first: the rows that point into its history find their seqs by its times.
    await copy(conn, report, "log_entry", history.rows())
    say(f"log_entry: {report.tables['log_entry'][0]:,} rows in {report.tables['log_entry'][1]:.1f} s")
    if history.note:
        say(f"note: {history.note}")
    if history.last_ts and log.entries and history.last_ts >= protocol.format_ts(log.live_start):
        say(
            f"note: the history's last entry ({history.last_ts}) is not before the logged part ({log.live_start.isoformat()})"
        )
    tables = [
        "app_user",
        "owner_org",
        "project",
        "agency",
        "agency_category",
        "qualification",
        "agency_document",
        "agency_review",
        "notice",
        "notice_avoid",
        "notice_revision",
        "notice_secret",
        "bid",
        "selection",
        "award",
        "objection",
        "inbox_message",
        "contract",
        "milestone",
        "deliverable",
        "rating",
    ]
    for table in tables:
        await copy(conn, report, table, getattr(rows, table)())
        say(f"{table}: {report.tables[table][0]:,} rows in {report.tables[table][1]:.1f} s")
    await build_subtrees(conn, report)
    await build_agency_index(conn, report)
    await sign_checkpoint(conn, report, report.tables["log_entry"][0], keys.signer)
    await set_sequences(conn, report)
    started = time.perf_counter()
    for definition in indexes:  # the unique ones among them (uq_bid_standing...) check themselves
        await conn.execute(definition)
    report.phases["indexes"] = time.perf_counter() - started
    if unchecked:
        started = time.perf_counter()
        await conn.execute("SET LOCAL session_replication_role = origin")
        await check_foreign_keys(conn)
        report.phases["foreign keys"] = time.perf_counter() - started


# -- the entry points --------------------------------------------------------------------------------------------


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """Millions of long-lived objects and hardly a cycle among them: the collector's full
    passes over all of them cost a third of the planning at full scale, and find nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def seed(
    url: str,
    *,
    agencies: int = DEFAULTS["agencies"],
    notices: int = DEFAULTS["notices"],
    bids: int = DEFAULTS["bids"],
    log_entries: int = DEFAULTS["log_entries"],
    rng_seed: int = 1,
    data_dir: Path | None = None,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Seed the migrated, empty database at ``url`` (postgresql:// or postgresql+asyncpg://).
    ``data_dir``: whose keys seal the secrets and sign receipts and the checkpoint (default:
    MARKET_DATA_DIR, as the server's); ``now``: the moment the data set ends (default: now,
    rounded down to the hour)."""
    with without_cyclic_gc():
        return await _seed(
            url,
            Sizes(agencies, notices, bids, log_entries),
            rng_seed,
            data_dir,
            now,
            progress or (lambda line: None),
        )


async def _seed(
    url: str,
    sizes: Sizes,
    rng_seed: int,
    data_dir: Path | None,
    now: datetime | None,
    say: Callable[[str], None],
) -> SeedReport:
    began = time.perf_counter()
    anchor = (
        now.astimezone(UTC)
        if now is not None
        else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    report = SeedReport(sizes=sizes, rng_seed=rng_seed, anchor=anchor)
    keys = Keys.from_data_dir(data_dir)
    rng = random.Random(rng_seed)
    timing = Timing(sizes.log_entries, rng_seed, sizes.agencies) if sizes.log_entries >= TIMING_FROM else None
    try:
        return await _plan_and_write(url, sizes, rng_seed, rng, keys, anchor, report, timing, began, say)
    finally:
        if timing is not None:
            timing.close()


async def _plan_and_write(
    url: str,
    sizes: Sizes,
    rng_seed: int,
    rng: random.Random,
    keys: Keys,
    anchor: datetime,
    report: SeedReport,
    timing: Timing | None,
    began: float,
    say: Callable[[str], None],
) -> SeedReport:
    started = time.perf_counter()
    world = plan_world(sizes, rng, anchor)
    report.phases["planning"] = time.perf_counter() - started
    say(f"planned {len(world.notices):,} notices and their bids in {report.phases['planning']:.1f} s")
    started = time.perf_counter()
    first = min([*(u.created_at for u in world.people.users()), anchor])
    salts = Salts(sizes.bids)
    log = plan_log(world.notices, sizes.log_entries, salts, first)
    report.phases["logged part"] = time.perf_counter() - started
    report.logged_notices, report.history_entries = log.logged, log.history
    report.notices_by_status = dict(Counter(n.status for n in world.notices))
    rows = Rows(world, log, keys, rng, salts, hash_password(PASSWORD))

    normalized = normalize_database_url(url) or url
    conn = await asyncpg.connect(to_asyncpg_dsn(normalized))
    try:
        await check_empty(conn)
        async with conn.transaction():
            await write(conn, world, log, keys, rows, report, History(world, log, rng_seed, timing), say)
        started = time.perf_counter()
        # VACUUM as well: a loaded table has no visibility map yet, and index-only scans
        # would visit the heap on every row until autovacuum came round.
        await conn.execute("VACUUM (ANALYZE)")
        report.phases["vacuum analyze"] = time.perf_counter() - started
    finally:
        await conn.close()
    report.total_seconds = time.perf_counter() - began
    return report


def sizes_from(args: argparse.Namespace) -> Sizes:
    base = Sizes.scaled(args.scale)
    given = {name: getattr(args, name) for name in DEFAULTS if getattr(args, name) is not None}
    return Sizes(**{**base.__dict__, **given})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Seed a provincial-scale data set with COPY (see the module's docstring)."
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="of every default size (0.001: 10 agencies, 100 notices, 1,000 bids and entries)",
    )
    parser.add_argument("--agencies", type=int)
    parser.add_argument("--notices", type=int)
    parser.add_argument("--bids", type=int)
    parser.add_argument("--log-entries", dest="log_entries", type=int)
    parser.add_argument("--rng-seed", type=int, default=1)
    parser.add_argument(
        "--now",
        type=datetime.fromisoformat,
        help="ISO time the data set ends at (default: now, rounded down to the hour)",
    )
    parser.add_argument("--database-url", help="the database to seed (default: DATABASE_URL)")
    parser.add_argument(
        "--scratch", action="store_true", help="seed a fresh database made by ops/scratch.py instead"
    )
    parser.add_argument(
        "--keep", action="store_true", help="with --scratch: keep the database at the end and print its URL"
    )
    args = parser.parse_args(argv)
    sizes = sizes_from(args)
    now = args.now.replace(tzinfo=args.now.tzinfo or UTC) if args.now else None

    def run(url: str) -> SeedReport:
        return asyncio.run(
            seed(
                url,
                **sizes.__dict__,
                rng_seed=args.rng_seed,
                now=now,
                progress=lambda line: print(line, file=sys.stderr),
            )
        )

    try:
        if args.scratch:
            from ops.scratch import scratch_database

            with scratch_database(keep=args.keep) as url:
                report = run(url)
                if args.keep:
                    print(f"kept: {url}")
        else:
            from market.core.db import upgrade

            url = normalize_database_url(args.database_url or Settings.from_env().database_url)
            if not url:
                parser.error("set DATABASE_URL, or pass --database-url or --scratch")
            upgrade(url)
            report = run(url)
    except ValueError as exc:  # sizes that cannot be seeded, or a database that is not empty
        print(f"seed: {exc}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
