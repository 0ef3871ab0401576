"""Eligibility: one row per reason, several at once, lapses and boundary dates; and the
automatic suspension after repeated declines, table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from market.agencies.rules import (
    REASON_CODES,
    AgencyFacts,
    Eligible,
    NotEligible,
    Qualification,
    Reason,
    Requirements,
    automatic_suspension,
    eligibility,
    expiring_soon,
    should_suspend,
)

TODAY = date(2025, 6, 1)
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)


def qual(
    level: str | None = "A",
    *,
    category: str = "ENG_DESIGN",
    valid_until: date = date(2027, 12, 31),
    approved: bool = True,
    certificate_no: str = "A153000001",
) -> Qualification:
    return Qualification(
        category=category,
        level=level,
        certificate_no=certificate_no,
        valid_until=valid_until,
        approved=approved,
    )


# An approved Kunming design firm with a current 甲级 certificate, and a Yunnan notice
# asking for 乙级 or better: eligible, and each row below breaks one thing.
AGENCY = AgencyFacts(
    agency_id="ag-1",
    status="approved",
    region="530102",
    categories=frozenset({"ENG_DESIGN", "EIA"}),
    qualifications=(qual("A"),),
)
NOTICE = Requirements(category="ENG_DESIGN", min_level="B", region_scope="530000")


def test_the_baseline_agency_is_eligible() -> None:
    result = eligibility(AGENCY, NOTICE, TODAY)
    assert result == Eligible()
    assert result


CASES: list[Any] = [
    pytest.param({"status": "pending"}, {}, "not_approved", "still under review", "尚在审核中", id="pending"),
    pytest.param({"status": "rejected"}, {}, "not_approved", "not approved", "未通过审核", id="rejected"),
    pytest.param(
        {"status": "suspended", "suspended_until": date(2025, 9, 30)},
        {},
        "suspended",
        "suspended until 2025-09-30",
        "至 2025年9月30日 止",
        id="suspended-until",
    ),
    pytest.param({"status": "suspended"}, {}, "suspended", "suspended", "暂停", id="suspended-open-ended"),
    pytest.param(
        {"status": "blacklisted", "blacklisted_until": date(2027, 1, 1)},
        {},
        "blacklisted",
        "blacklisted until 2027-01-01",
        "至 2027年1月1日 止",
        id="blacklisted-until",
    ),
    pytest.param(
        {"status": "blacklisted"},
        {},
        "blacklisted",
        "blacklisted",
        "黑名单",
        id="blacklisted-for-good",
    ),
    pytest.param(
        {"categories": frozenset({"EIA"})},
        {},
        ("category",),
        "not registered for Engineering design",
        "未登记“工程设计”服务类别",
        id="category",
    ),
    pytest.param(
        {"qualifications": ()},
        {},
        "no_qualification",
        "no approved Engineering design qualification",
        "没有经审核的“工程设计”资质",
        id="no-qualification",
    ),
    pytest.param(
        {"qualifications": (qual("A", category="SURVEYING"),)},
        {},
        "no_qualification",
        "no approved Engineering design",
        "工程设计",
        id="qualification-for-another-category",
    ),
    pytest.param(
        {"qualifications": (qual("A", approved=False, certificate_no="NEW-1"),)},
        {},
        "qualification_under_review",
        "(certificate NEW-1) is still under review",
        "证书编号 NEW-1）尚在审核中",
        id="under-review",
    ),
    pytest.param(
        {"qualifications": (qual("A", valid_until=date(2025, 5, 31)),)},
        {},
        "qualification_expired",
        "(certificate A153000001) expired on 2025-05-31",
        "已于 2025年5月31日 过期",
        id="expired",
    ),
    pytest.param(
        {"qualifications": (qual("C"),)},
        {},
        "level_too_low",
        "qualification is Grade C; this notice requires Grade B or higher",
        "资质为丙级，本项目要求乙级及以上",
        id="level-too-low",
    ),
    pytest.param(
        {"region": "520102"},
        {},
        "region",
        "outside Yunnan",
        "不在本项目限定的区域（云南省）内",
        id="region",
    ),
    pytest.param(
        {},
        {"avoid": {"ag-1": "与项目单位存在关联关系"}},
        "avoided",
        "stand aside: 与项目单位存在关联关系",
        "本项目要求该机构回避：与项目单位存在关联关系",
        id="avoided",
    ),
    pytest.param(
        {},
        {"direct_agency": "AG-999999"},
        "not_named",
        "direct selection of another agency",
        "指定的是其他机构",
        id="not-named",
    ),
]


@pytest.mark.parametrize(("agency_changes", "notice_changes", "code", "en", "zh"), CASES)
def test_each_reason(
    agency_changes: dict[str, Any],
    notice_changes: dict[str, Any],
    code: str | tuple[str, ...],
    en: str,
    zh: str,
) -> None:
    agency = replace(AGENCY, **agency_changes)
    result = eligibility(agency, replace(NOTICE, **notice_changes), TODAY)
    assert isinstance(result, NotEligible)
    assert not result
    assert result.codes == ((code,) if isinstance(code, str) else code)
    (reason,) = result.reasons
    assert en in reason.message_en
    assert zh in reason.message_zh


def test_every_reason_code_has_a_row() -> None:
    covered = set()
    for case in CASES:
        code = case.values[2]
        covered.update((code,) if isinstance(code, str) else code)
    assert covered == set(REASON_CODES)


def test_every_reason_is_reported_at_once_in_a_stable_order() -> None:
    agency = replace(
        AGENCY,
        status="suspended",
        suspended_until=date(2025, 12, 31),
        categories=frozenset(),
        qualifications=(qual("C", valid_until=date(2024, 1, 1)),),
        region="110105",
    )
    notice = replace(NOTICE, region_scope="530100", avoid={"ag-1": "参与了前期咨询"})
    result = eligibility(agency, notice, TODAY)
    assert isinstance(result, NotEligible)
    assert result.codes == ("suspended", "category", "qualification_expired", "region", "avoided")
    # A region this module does not hold is named by its code.
    assert "based in 110105, outside Kunming" in result.reasons[3].message_en


def test_reasons_carry_both_languages() -> None:
    result = eligibility(replace(AGENCY, status="pending", qualifications=()), NOTICE, TODAY)
    assert isinstance(result, NotEligible)
    for reason in result.reasons:
        assert isinstance(reason, Reason)
        assert reason.code in REASON_CODES
        assert reason.message_en.isascii()
        assert not reason.message_zh.isascii()


# --- lapses and boundaries ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "eligible"),
    [
        pytest.param({"status": "suspended", "suspended_until": YESTERDAY}, True, id="suspension-lapsed"),
        pytest.param({"status": "suspended", "suspended_until": TODAY}, False, id="suspended-through-today"),
        pytest.param({"status": "suspended", "suspended_until": TOMORROW}, False, id="suspended-tomorrow"),
        pytest.param({"status": "blacklisted", "blacklisted_until": YESTERDAY}, True, id="blacklist-lapsed"),
        pytest.param(
            {"status": "blacklisted", "blacklisted_until": TODAY},
            False,
            id="blacklisted-through-today",
        ),
        # Only the status imposes a suspension; a stale date on an approved agency does not.
        pytest.param({"suspended_until": TOMORROW}, True, id="approved-with-stale-date"),
        pytest.param({"qualifications": (qual(valid_until=TODAY),)}, True, id="valid-through-today"),
        pytest.param({"qualifications": (qual(valid_until=YESTERDAY),)}, False, id="expired-yesterday"),
    ],
)
def test_boundary_dates(changes: dict[str, Any], eligible: bool) -> None:
    assert bool(eligibility(replace(AGENCY, **changes), NOTICE, TODAY)) is eligible


# --- qualifications -----------------------------------------------------------------------


def test_a_certificate_under_review_is_ignored_beside_an_approved_one() -> None:
    agency = replace(AGENCY, qualifications=(qual("A"), qual("C", approved=False)))
    assert eligibility(agency, NOTICE, TODAY)


def test_a_higher_level_under_review_does_not_count_yet() -> None:
    agency = replace(AGENCY, qualifications=(qual("C"), qual("comprehensive", approved=False)))
    result = eligibility(agency, NOTICE, TODAY)
    assert isinstance(result, NotEligible)
    assert result.codes == ("level_too_low",)


def test_an_expired_certificate_with_its_renewal_under_review_reports_the_expiry() -> None:
    agency = replace(
        AGENCY,
        qualifications=(qual("A", valid_until=YESTERDAY), qual("A", approved=False)),
    )
    result = eligibility(agency, NOTICE, TODAY)
    assert isinstance(result, NotEligible)
    assert result.codes == ("qualification_expired",)


def test_any_current_certificate_good_enough_will_do() -> None:
    agency = replace(
        AGENCY,
        qualifications=(
            qual("comprehensive", valid_until=YESTERDAY),
            qual("C"),
            qual("B", certificate_no="B2"),
        ),
    )
    assert eligibility(agency, NOTICE, TODAY)


def test_level_too_low_names_the_best_current_certificate() -> None:
    agency = replace(AGENCY, qualifications=(qual("C"), qual("B")))
    result = eligibility(agency, replace(NOTICE, min_level="comprehensive"), TODAY)
    assert isinstance(result, NotEligible)
    (reason,) = result.reasons
    assert "is Grade B; this notice requires Comprehensive or higher" in reason.message_en
    assert "资质为乙级，本项目要求综合资质及以上" in reason.message_zh


def test_a_level_no_longer_on_the_ladder_does_not_meet_a_requirement() -> None:
    # 测绘丙级 was abolished in 2021; an old certificate cannot show it is good enough.
    agency = replace(
        AGENCY,
        categories=frozenset({"SURVEYING"}),
        qualifications=(qual("C", category="SURVEYING"),),
    )
    result = eligibility(agency, Requirements(category="SURVEYING", min_level="B"), TODAY)
    assert isinstance(result, NotEligible)
    assert result.codes == ("level_too_low",)
    assert "qualification is C;" in result.reasons[0].message_en


def test_without_a_minimum_level_any_current_certificate_is_enough() -> None:
    agency = replace(AGENCY, qualifications=(qual("C"),))
    assert eligibility(agency, replace(NOTICE, min_level=None), TODAY)


def test_a_category_without_levels_needs_no_certificate() -> None:
    agency = replace(AGENCY, qualifications=())
    # An old notice that still names a level for EIA shuts nobody out.
    assert eligibility(agency, Requirements(category="EIA", min_level="A"), TODAY)


def test_an_ungraded_licence_is_still_required() -> None:
    agency = replace(AGENCY, categories=frozenset({"SAFETY_ASSESSMENT"}), qualifications=())
    notice = Requirements(category="SAFETY_ASSESSMENT")
    result = eligibility(agency, notice, TODAY)
    assert isinstance(result, NotEligible)
    assert result.codes == ("no_qualification",)
    licensed = replace(agency, qualifications=(qual("licensed", category="SAFETY_ASSESSMENT"),))
    assert eligibility(licensed, notice, TODAY)


# --- region and avoidance -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "eligible"),
    [
        pytest.param(None, True, id="anywhere"),
        pytest.param("530000", True, id="province"),
        pytest.param("530100", True, id="prefecture"),
        pytest.param("530102", True, id="own-county"),
        pytest.param("530103", False, id="neighbouring-county"),
        pytest.param("532500", False, id="other-prefecture"),
    ],
)
def test_region_scope(scope: str | None, eligible: bool) -> None:
    assert bool(eligibility(AGENCY, replace(NOTICE, region_scope=scope), TODAY)) is eligible


def test_avoidance_of_another_agency_does_not_touch_this_one() -> None:
    assert eligibility(AGENCY, replace(NOTICE, avoid={"ag-2": "关联关系"}), TODAY)


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agency", "notice"),
    [
        pytest.param(replace(AGENCY, status="active"), NOTICE, id="unknown-status"),
        pytest.param(AGENCY, replace(NOTICE, category="NOPE"), id="unknown-category"),
        pytest.param(AGENCY, replace(NOTICE, min_level="D"), id="level-not-in-category"),
    ],
)
def test_impossible_input_is_refused(agency: AgencyFacts, notice: Requirements) -> None:
    with pytest.raises(ValueError):
        eligibility(agency, notice, TODAY)


def test_not_eligible_needs_a_reason() -> None:
    with pytest.raises(ValueError):
        NotEligible(())


# --- expiring_soon ------------------------------------------------------------------------


def test_expiring_soon_keeps_approved_certificates_lapsing_within_the_window() -> None:
    in_30 = qual(valid_until=TODAY + timedelta(days=30), certificate_no="edge")
    today = qual(valid_until=TODAY, certificate_no="today")
    in_10 = qual(valid_until=TODAY + timedelta(days=10), certificate_no="ten")
    in_31 = qual(valid_until=TODAY + timedelta(days=31), certificate_no="later")
    expired = qual(valid_until=YESTERDAY, certificate_no="expired")
    reviewing = qual(valid_until=TODAY + timedelta(days=5), approved=False, certificate_no="new")
    found = expiring_soon([in_30, in_31, expired, reviewing, in_10, today], TODAY)
    assert [q.certificate_no for q in found] == ["today", "ten", "edge"]


def test_expiring_soon_takes_a_window() -> None:
    in_10 = qual(valid_until=TODAY + timedelta(days=10))
    assert expiring_soon([in_10], TODAY, days=7) == []
    assert expiring_soon([in_10], TODAY, days=10) == [in_10]
    with pytest.raises(ValueError):
        expiring_soon([in_10], TODAY, days=-1)


@pytest.mark.parametrize(
    ("decline_days", "expected"),
    [
        pytest.param([], False, id="none"),
        pytest.param([0], False, id="one decline"),
        pytest.param([0, 100], True, id="two within 12 months"),
        pytest.param([0, 364], True, id="two, 364 days apart"),
        pytest.param([0, 365], False, id="two, 365 days apart"),
        pytest.param([0, 400], False, id="two more than 12 months apart"),
        pytest.param([400, 500], False, id="two long ago"),
    ],
)
def test_should_suspend(decline_days: list[int], expected: bool) -> None:
    dates = [TODAY - timedelta(days=d) for d in decline_days]
    assert should_suspend(dates, TODAY, declines_to_suspend=2, window_days=365) is expected


def test_threshold_zero_turns_the_rule_off() -> None:
    assert should_suspend([TODAY, TODAY, TODAY], TODAY, declines_to_suspend=0, window_days=365) is False


def test_declines_already_spent_on_a_suspension_do_not_count_again() -> None:
    declines = [TODAY - timedelta(days=100), TODAY - timedelta(days=50), TODAY]
    rule = {"declines_to_suspend": 2, "window_days": 365, "suspension_days": 90}
    fresh = automatic_suspension(declines, TODAY, last_suspended_on=None, **rule)
    assert fresh is not None
    assert fresh.reason == "automatic: 3 declines within 12 months"
    assert fresh.until == TODAY + timedelta(days=90)
    spent = TODAY - timedelta(days=50)
    assert automatic_suspension(declines, TODAY, last_suspended_on=spent, **rule) is None
