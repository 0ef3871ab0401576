"""``describe``: each log entry type in words, without a database."""

from __future__ import annotations

from typing import Any

import pytest

from market.core.i18n import gettext_for
from market.supervision.present import TYPE_LABELS, Description, Phrase, china_ts, describe

TS = "2026-03-01T01:30:00.000000Z"  # 09:30 China time


def entry(type_: str, /, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "seq": 7, "ts": TS, "type": type_, **fields}


def OPENING(agency_id: str, bid_id: str, *, withdrawn: bool = False) -> dict[str, Any]:
    """One MSP/2 opening: a bid document, its salt and sealed entry, and its withdrawal."""
    return {
        "bid": {"agency_id": agency_id, "bid_id": bid_id, "notice_id": "N-1", "price_fen": None},
        "salt": "11" * 32,
        "seq": 3,
        "withdrawn": {"salt": "22" * 32, "seq": 4} if withdrawn else None,
    }


def english(d: Description) -> tuple[str, list[str]]:
    same = lambda s: s  # noqa: E731 - the catalog ids are the English
    return d.summary.text(same), [line.text(same) for line in d.details]


# (entry, words the summary holds, words some detail holds, agencies it names)
CASES: list[tuple[dict[str, Any], list[str], list[str], list[str]]] = [
    (entry("account.created", user_id="U-1", role="owner"), ["U-1", "owner"], [], []),
    (
        entry("staff.granted", user_id="U-7", role="supervisor", jurisdiction="530102", by="U-2"),
        ["U-7", "supervisor", "五华区 530102", "U-2"],
        [],
        [],
    ),
    (
        entry("staff.granted", user_id="U-1", role="admin", jurisdiction="530000", by="operator"),
        ["U-1", "admin", "530000", "operator"],
        [],
        [],
    ),
    (
        entry(
            "staff.moved",
            user_id="U-7",
            role="supervisor",
            by="U-2",
            reason="岗位调整",
            **{"from": "530102", "to": "530103"},
        ),
        ["U-7", "五华区 530102", "530103", "U-2"],
        ["岗位调整"],
        [],
    ),
    (
        entry("staff.revoked", user_id="U-7", role="admin", jurisdiction="530100", by="U-1", reason="离职"),
        ["U-7", "admin", "昆明市 530100", "revoked", "U-1"],
        ["离职"],
        [],
    ),
    (
        entry("owner.registered", owner_id="OW-1", name="昆明市自然资源局", credit_code="11530100MB0000000X"),
        ["昆明市自然资源局", "OW-1", "11530100MB0000000X"],
        [],
        [],
    ),
    (
        entry(
            "owner.hall_changed",
            org_id="OW-1",
            by="U-9",
            reason="园区设立后迁入",
            **{"from": "530102", "to": "530102K1"},
        ),
        ["OW-1", "五华区 530102", "530102K1", "U-9"],
        ["stay in the hall", "园区设立后迁入"],
        [],
    ),
    (
        entry(
            "hall.added",
            code="530100KF",
            parent="530100",
            name_zh="昆明经济技术开发区",
            name_en="Kunming Economic and Technological Development Zone",
            by="U-1",
        ),
        ["昆明经济技术开发区", "530100KF", "昆明市 530100", "U-1"],
        ["Kunming Economic and Technological Development Zone"],
        [],
    ),
    (
        entry("agency.submitted", agency_id="AG-1", name="云测", credit_code="91530100MA6K000000"),
        ["云测", "AG-1", "review"],
        [],
        ["AG-1"],
    ),
    (
        entry(
            "agency.approved",
            agency_id="AG-1",
            name="云测",
            credit_code="x",
            reason="",
            categories=[],
            qualifications=[],
        ),
        ["approved", "AG-1"],
        [],
        ["AG-1"],
    ),
    (
        entry("agency.rejected", agency_id="AG-1", name="云测", credit_code="x", reason="材料不全"),
        ["rejected"],
        ["材料不全"],
        ["AG-1"],
    ),
    (
        entry(
            "agency.suspended",
            agency_id="AG-1",
            name="云测",
            credit_code="x",
            reason="多次放弃",
            until="2026-06-30",
        ),
        ["suspended until 2026-06-30"],
        ["多次放弃"],
        ["AG-1"],
    ),
    (
        entry("agency.reinstated", agency_id="AG-1", name="云测", credit_code="x", reason="整改完成"),
        ["reinstated"],
        ["整改完成"],
        ["AG-1"],
    ),
    (
        entry(
            "agency.blacklisted",
            agency_id="AG-1",
            name="云测",
            credit_code="x",
            reason="伪造资质",
            until=None,
        ),
        ["blacklisted"],
        ["伪造资质"],
        ["AG-1"],
    ),
    (
        entry("agency.blacklist_lifted", agency_id="AG-1", name="云测", credit_code="x", reason="期满"),
        ["lifted"],
        ["期满"],
        ["AG-1"],
    ),
    (
        entry(
            "agency.qualification_submitted",
            agency_id="AG-1",
            qualification={
                "category": "C1",
                "level": "A",
                "certificate_no": "Q-9",
                "valid_until": "2027-01-01",
            },
            replaces=None,
        ),
        ["Q-9", "C1", "2027-01-01"],
        [],
        ["AG-1"],
    ),
    (
        entry(
            "agency.qualification_approved",
            agency_id="AG-1",
            qualification={"category": "C1", "certificate_no": "Q-9"},
            reason="",
        ),
        ["Q-9", "approved"],
        [],
        ["AG-1"],
    ),
    (
        entry(
            "agency.qualification_rejected",
            agency_id="AG-1",
            qualification={"category": "C1", "certificate_no": "Q-9"},
            reason="过期",
        ),
        ["Q-9", "rejected"],
        ["过期"],
        ["AG-1"],
    ),
    (
        entry(
            "agency.document_added",
            agency_id="AG-1",
            kind="licence",
            content_type="application/pdf",
            size=1234,
            sha256="ab",
        ),
        ["licence", "1234"],
        [],
        ["AG-1"],
    ),
    (
        entry(
            "notice.published",
            notice_id="N-1",
            method="lottery",
            winners=1,
            min_candidates=3,
            bid_deadline=TS,
            terms_sha256="ab",
            commit="cd",
            scheme="none",
        ),
        ["Lottery (random draw)", "1 winner", "at least 3", "2026-03-01 09:30"],
        ["none"],
        [],
    ),
    (
        entry(
            "notice.published",
            v=2,
            notice_id="N-1",
            method="lowest_price",
            winners=1,
            min_candidates=3,
            bid_deadline=TS,
            terms_sha256="ab",
            commit="cd",
            scheme="none",
            sealing="server",
        ),
        ["1 winner", "at least 3", "2026-03-01 09:30"],
        ["none"],
        [],
    ),
    (entry("notice.cancelled", notice_id="N-1", reason="项目取消"), ["Cancelled"], ["项目取消"], []),
    (
        entry("notice.cancel_requested", notice_id="N-1", reason="项目取消"),
        ["asked to cancel", "consent"],
        ["项目取消"],
        [],
    ),
    (
        entry("notice.cancel_consented", notice_id="N-1", request_seq=7, supervisor_id="U-9", reason=""),
        ["U-9 consented", "entry 7"],
        [],
        [],
    ),
    (
        entry(
            "notice.cancel_refused", notice_id="N-1", request_seq=7, supervisor_id="U-9", reason="理由不足"
        ),
        ["U-9 refused", "entry 7"],
        ["理由不足"],
        [],
    ),
    (
        entry("agency.linked", agency_id="AG-1", org_id="OW-2", reason="同一法定代表人", by="U-3"),
        ["AG-1 linked", "OW-2"],
        ["同一法定代表人"],
        ["AG-1"],
    ),
    (
        entry("bid.accepted", notice_id="N-1", bid_id="B-1", agency_id="AG-2", bid_sha256="ab"),
        ["AG-2", "sealed", "B-1"],
        [],
        ["AG-2"],
    ),
    # MSP/2 (docs/protocol/msp.md): a sealed entry names no notice and no agency, and is described as such.
    (
        entry("bid.sealed", v=2, commitment="ab" * 32),
        ["sealed bid or withdrawal", "names no notice and no agency"],
        [],
        [],
    ),
    (
        entry(
            "notice.cancelled",
            v=2,
            notice_id="N-1",
            reason="项目取消",
            openings=[OPENING("AG-2", "B-1"), OPENING("AG-3", "B-2", withdrawn=True)],
        ),
        ["Cancelled"],
        ["项目取消", "Bids opened: 2"],
        [],
    ),
    (
        entry(
            "bids.opened",
            v=2,
            notice_id="N-1",
            openings=[OPENING("AG-2", "B-1"), OPENING("AG-3", "B-2")],
            tlock={"round": 1, "signature": "00"},
        ),
        ["opened with the deadline's drand round: 2"],
        [],
        ["AG-2", "AG-3"],
    ),
    (
        entry("bid.withdrawn", notice_id="N-1", bid_id="B-1", agency_id="AG-2"),
        ["AG-2 withdrew bid B-1"],
        [],
        ["AG-2"],
    ),
    (
        entry(
            "bidding.closed",
            notice_id="N-1",
            secret="00",
            eligible="00",
            bids=[{"agency_id": "AG-1"}, {"agency_id": "AG-2"}, {"agency_id": "AG-3"}],
            candidates=[["AG-1", 1], ["AG-2", 1]],
            excluded=[{"agency_id": "AG-3", "reason": "suspended"}],
        ),
        ["3 bid(s), 2 candidate(s), 1 excluded"],
        ["Candidates: AG-1、AG-2", "Excluded AG-3: suspended"],
        ["AG-1", "AG-2", "AG-3"],
    ),
    (
        # MSP/2: the standing bids are the openings not withdrawn (a withdrawn bid does not count).
        entry(
            "bidding.closed",
            v=2,
            notice_id="N-1",
            secret="00",
            eligible="00",
            openings=[
                OPENING("AG-1", "B-1"),
                OPENING("AG-2", "B-2"),
                OPENING("AG-2", "B-3", withdrawn=True),
                OPENING("AG-3", "B-4"),
            ],
            candidates=[["AG-1", 1], ["AG-2", 1]],
            excluded=[{"agency_id": "AG-3", "reason": "suspended"}],
        ),
        ["3 bid(s), 2 candidate(s), 1 excluded"],
        ["Candidates: AG-1、AG-2", "Excluded AG-3: suspended"],
        ["AG-1", "AG-2", "AG-3"],
    ),
    (
        entry(
            "selection.drawn",
            notice_id="N-1",
            attempt=1,
            scheme="none",
            beacon=None,
            seed="00",
            order=[],
            ranking=[],
            winners=["AG-2"],
            alternates=["AG-1", "AG-3"],
        ),
        ["winner(s) AG-2", "AG-1、AG-3"],
        [],
        ["AG-2", "AG-1", "AG-3"],
    ),
    (
        entry("selection.direct", notice_id="N-1", agency_id="AG-5", justification="唯一具备资质"),
        ["Direct selection", "AG-5"],
        ["唯一具备资质"],
        ["AG-5"],
    ),
    (
        entry("selection.failed", notice_id="N-1", reason="too_few_candidates"),
        ["fewer eligible candidates"],
        [],
        [],
    ),
    (
        entry("award.declined", notice_id="N-1", agency_id="AG-2", reason="人员不足", replacement="AG-1"),
        ["AG-2 declined", "replacement: AG-1"],
        ["人员不足"],
        ["AG-2", "AG-1"],
    ),
    (
        entry("award.declined", notice_id="N-1", agency_id="AG-2", reason="人员不足", replacement=None),
        ["replacement: none"],
        [],
        ["AG-2"],
    ),
    (
        entry(
            "award.disqualified", notice_id="N-1", agency_id="AG-2", objection_id="OB-1", replacement="AG-1"
        ),
        ["AG-2 disqualified", "OB-1", "AG-1"],
        [],
        ["AG-2", "AG-1"],
    ),
    (entry("award.final", notice_id="N-1", winners=["AG-1"]), ["final", "AG-1"], [], ["AG-1"]),
    (
        entry("objection.filed", notice_id="N-1", objection_id="OB-1", agency_id=None, reasons_sha256="ab"),
        ["OB-1", "the whole result"],
        [],
        [],
    ),
    (
        entry("objection.filed", notice_id="N-1", objection_id="OB-2", agency_id="AG-2", reasons_sha256="ab"),
        ["OB-2 filed against AG-2"],
        [],
        ["AG-2"],
    ),
    (
        entry("objection.answered", notice_id="N-1", objection_id="OB-1", answer_sha256="ab"),
        ["answered objection OB-1"],
        [],
        [],
    ),
    (
        entry(
            "objection.decided", notice_id="N-1", objection_id="OB-1", decision="upheld", reason_sha256="ab"
        ),
        ["OB-1: upheld"],
        [],
        [],
    ),
    (
        entry(
            "contract.recorded",
            notice_id="N-1",
            contract_id="CT-1",
            agency_id="AG-1",
            amount_fen=12_000_050,
            signed_on="2026-01-05",
            start_on="2026-01-10",
            due_on="2026-03-01",
            milestones=[{"position": 1, "title": "初稿", "due_on": "2026-02-01"}],
        ),
        ["CT-1", "AG-1", "¥120,000.50"],
        ["2026-01-10 to 2026-03-01", "Milestone 1: 初稿, due 2026-02-01"],
        ["AG-1"],
    ),
    (
        entry(
            "contract.signed",
            notice_id="N-1",
            contract_id="CT-1",
            agency_id="AG-1",
            amount_fen=100,
            signed_on="2026-01-05",
            start_on="2026-01-10",
            due_on="2026-03-01",
        ),
        ["AG-1 signed contract CT-1", "¥1.00"],
        ["Signed 2026-01-05"],
        ["AG-1"],
    ),
    (entry("contract.completed", notice_id="N-1", contract_id="CT-1"), ["CT-1 completed"], [], []),
    (
        entry("contract.stopped", notice_id="N-1", contract_id="CT-1", reason="业主撤项"),
        ["CT-1 stopped"],
        ["业主撤项"],
        [],
    ),
    (
        entry("contract.disputed", notice_id="N-1", contract_id="CT-1", agency_id="AG-2", reason_sha256="ab"),
        ["AG-2", "CT-1", "do not follow the award"],
        [],
        ["AG-2"],
    ),
    (
        entry(
            "contract.dispute_decided",
            notice_id="N-1",
            contract_id="CT-1",
            agency_id="AG-2",
            decision="terms_wrong",
            reason_sha256="ab",
        ),
        ["CT-1", "set aside"],
        [],
        ["AG-2"],
    ),
    (
        entry(
            "milestone.submitted",
            notice_id="N-1",
            contract_id="CT-1",
            position=2,
            sha256="ab",
            note_sha256="cd",
        ),
        ["milestone 2 of contract CT-1 handed in"],
        [],
        [],
    ),
    (
        entry("milestone.accepted", notice_id="N-1", contract_id="CT-1", position=2),
        ["Milestone 2", "accepted"],
        [],
        [],
    ),
    (
        entry("milestone.returned", notice_id="N-1", contract_id="CT-1", position=2, reason_sha256="ab"),
        ["returned"],
        [],
        [],
    ),
    (
        entry("milestone.overdue", notice_id="N-1", contract_id="CT-1", position=2, due_on="2026-02-01"),
        ["overdue (due 2026-02-01)"],
        [],
        [],
    ),
    (
        entry(
            "rating.given",
            notice_id="N-1",
            contract_id="CT-1",
            rating_id="RT-1",
            agency_id="AG-1",
            scores={"quality": 5, "timeliness": 4, "attitude": 5, "fees": 3, "compliance": 5},
            comment_sha256="ab",
        ),
        ["rated agency AG-1", "RT-1", "CT-1"],
        ["Service quality: 5 of 5", "Reasonable fees: 3 of 5"],
        ["AG-1"],
    ),
    (
        entry("rating.replied", rating_id="RT-1", agency_id="AG-1", reply_sha256="ab"),
        ["AG-1 replied to rating RT-1"],
        [],
        ["AG-1"],
    ),
    (
        entry(
            "objection.escalated", notice_id="N-1", objection_id="OB-1", **{"from": "530102", "to": "530100"}
        ),
        ["Objection OB-1", "from hall 五华区 530102 up to hall 昆明市 530100"],
        [],
        [],
    ),
    (
        entry("rating.voided", rating_id="RT-1", agency_id="AG-1", reason="与合同无关"),
        ["voided rating RT-1", "no longer counts"],
        ["与合同无关"],
        ["AG-1"],
    ),
]


@pytest.mark.parametrize(
    ("e", "summary", "details", "named"), CASES, ids=[f"{c[0]['type']}-{i}" for i, c in enumerate(CASES)]
)
def test_each_entry_type_is_described(
    e: dict[str, Any], summary: list[str], details: list[str], named: list[str]
) -> None:
    d = describe(e)
    assert d.type == e["type"] and d.label == TYPE_LABELS[e["type"]]
    text, lines = english(d)
    for words in summary:
        assert words in text, (words, text)
    for words in details:
        assert any(words in line for line in lines), (words, lines)
    assert list(d.agencies) == named


def test_every_type_in_the_table_has_a_case() -> None:
    assert set(TYPE_LABELS) - {c[0]["type"] for c in CASES} == {"notice.amended"}


def test_amendment_lists_the_fields_changed_from_the_revision() -> None:
    e = entry(
        "notice.amended",
        notice_id="N-1",
        terms_sha256="ab",
        bid_deadline="2026-03-02T01:30:00.000000Z",
        scheme="none",
    )
    d = describe(
        e,
        changes={"budget_fen": [30_000_000, 25_000_000], "bid_deadline": [TS, "2026-03-02T01:30:00.000000Z"]},
    )
    text, lines = english(d)
    assert "2 field(s) changed" in text
    assert "Budget cap: ¥300,000.00 → ¥250,000.00" in lines
    assert "Bid deadline: 2026-03-01 09:30 → 2026-03-02 09:30" in lines


def test_amendment_without_its_revision_says_the_deadline_in_force() -> None:
    text, lines = english(
        describe(entry("notice.amended", notice_id="N-1", terms_sha256="ab", bid_deadline=TS, scheme="none"))
    )
    assert "deadline in force is 2026-03-01 09:30" in text and lines == []


def test_unknown_type_names_its_fields() -> None:
    d = describe(entry("witness.cosigned", size=10, witness="w1"))
    text, _ = english(d)
    assert d.label == "witness.cosigned" and "witness.cosigned" in text and "size, witness" in text


def test_descriptions_are_translated_into_chinese_labels_included() -> None:
    gettext, _ = gettext_for("zh_Hans")
    d = describe(entry("selection.failed", notice_id="N-1", reason="too_few_candidates"))
    text = d.summary.text(gettext)
    assert "候选" in text or "少于" in text, text
    assert gettext(d.label) != d.label


def test_phrase_puts_translated_labels_into_the_sentence() -> None:
    catalog = {"%(x)s and %(y)s": "%(x)s 与 %(y)s", "inner": "内"}
    assert (
        Phrase("%(x)s and %(y)s", {"x": Phrase("inner"), "y": 3}).text(lambda s: catalog.get(s, s))
        == "内 与 3"
    )


def test_times_are_china_time_and_bad_ones_are_shown_as_they_are() -> None:
    assert china_ts(TS) == "2026-03-01 09:30"
    assert china_ts("yesterday") == "yesterday"
