"""The pure rules of notices and bids (market/notices/rules.py), and the bid-document vector
of MSP/1 section 6."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from market import protocol
from market.core.errors import InvalidInput
from market.notices import rules

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)
CHINA = timezone(timedelta(hours=8))


def field_of(exc: pytest.ExceptionInfo[InvalidInput]) -> str:
    [error] = exc.value.errors
    return error.field


# -- project codes (投资项目统一代码) ----------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "2026-530102-48-01-012345",
        "2014-110000-00-00-000001",
        "2027-530102-48-01-012345",
        "  2026-530102-48-01-012345 ",
    ],
)
def test_project_code_in_the_published_format_is_accepted(code: str) -> None:
    assert rules.check_project_code(code, today=TODAY) == code.strip()


@pytest.mark.parametrize(
    "code",
    [
        "",
        "2026-530102-48-01",
        "2026-530102-48-01-01234",
        "2026-53010-48-01-012345",
        "2026530102480101234",
        "20a6-530102-48-01-012345",
        "2026-530102-48-01-012345-1",
        "2026_530102_48_01_012345",
        "２０２６-530102-48-01-012345",
    ],
)
def test_project_code_in_another_format_is_refused(code: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_project_code(code, today=TODAY)
    assert field_of(exc) == "code"


@pytest.mark.parametrize("year", [2013, 1999, 2028, 9999])
def test_project_code_year_outside_2014_to_next_year_is_refused(year: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_project_code(f"{year}-530102-48-01-012345", today=TODAY)
    assert field_of(exc) == "code"


# -- counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "winners", "min_candidates"),
    [
        ("lottery", 1, 3),
        ("lottery", 2, 3),
        ("lottery", 1, 2),
        ("lowest_price", 1, 3),
        ("lowest_price", 3, 3),
        ("lowest_price", 1, 1),
        ("direct", 1, 1),
    ],
)
def test_counts_that_make_sense_are_accepted(method: str, winners: int, min_candidates: int) -> None:
    rules.check_counts(method, winners, min_candidates)


@pytest.mark.parametrize(("winners", "min_candidates"), [(3, 3), (4, 3), (1, 1), (2, 2)])
def test_lottery_winners_at_or_above_min_candidates_are_refused(winners: int, min_candidates: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_counts("lottery", winners, min_candidates)
    assert field_of(exc) == "winners"


@pytest.mark.parametrize("method", ["lottery", "lowest_price", "direct"])
@pytest.mark.parametrize("winners", [0, -1])
def test_fewer_than_one_winner_is_refused(method: str, winners: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_counts(method, winners, 3)
    assert field_of(exc) == "winners"


@pytest.mark.parametrize("method", ["lottery", "lowest_price", "direct"])
def test_fewer_than_one_candidate_is_refused(method: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_counts(method, 1, 0)
    assert field_of(exc) == "min_candidates"


@pytest.mark.parametrize(("winners", "min_candidates"), [(2, 1), (1, 2), (1, 3), (2, 3)])
def test_direct_selection_is_exactly_one_winner_of_one_candidate(winners: int, min_candidates: int) -> None:
    with pytest.raises(InvalidInput):
        rules.check_counts("direct", winners, min_candidates)


def test_lowest_price_winners_above_min_candidates_are_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_counts("lowest_price", 4, 3)
    assert field_of(exc) == "winners"


# -- budget ------------------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [1, 30_000_000, 2**53 - 1])
def test_positive_budget_is_accepted(budget: int) -> None:
    rules.check_budget(budget)


@pytest.mark.parametrize("budget", [0, -1, -30_000_000])
def test_budget_of_zero_or_less_is_refused(budget: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_budget(budget)
    assert field_of(exc) == "budget_fen"


# -- deadline ----------------------------------------------------------------------------------


def test_naive_deadline_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_deadline(datetime(2026, 12, 4, 17, 0), now=NOW, min_window=0)
    assert field_of(exc) == "bid_deadline"


@pytest.mark.parametrize("before", [timedelta(0), timedelta(microseconds=1), timedelta(days=400)])
def test_deadline_now_or_in_the_past_is_refused(before: timedelta) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_deadline(NOW - before, now=NOW, min_window=0)
    assert field_of(exc) == "bid_deadline"


def test_deadline_inside_the_min_window_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_deadline(NOW + timedelta(seconds=86_400, microseconds=-1), now=NOW, min_window=86_400)
    assert field_of(exc) == "bid_deadline"


def test_deadline_exactly_at_the_min_window_is_accepted() -> None:
    deadline = NOW + timedelta(seconds=86_400)
    assert rules.check_deadline(deadline, now=NOW, min_window=86_400) == deadline


def test_deadline_just_after_now_is_accepted_with_no_window() -> None:
    deadline = NOW + timedelta(microseconds=1)
    assert rules.check_deadline(deadline, now=NOW, min_window=0) == deadline


def test_deadline_is_converted_to_utc() -> None:
    result = rules.check_deadline(datetime(2026, 12, 4, 17, 0, tzinfo=CHINA), now=NOW, min_window=86_400)
    assert result == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0) and result.tzinfo == UTC


# -- price -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["lottery", "direct"])
def test_no_price_is_taken_when_not_deciding_by_price(method: str) -> None:
    assert rules.check_price(method, None, 1_000) is None


@pytest.mark.parametrize("method", ["lottery", "direct"])
@pytest.mark.parametrize("price", [1, 500, 0])
def test_a_price_on_a_lottery_or_direct_notice_is_refused(method: str, price: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_price(method, price, 1_000)
    assert field_of(exc) == "price_fen"


@pytest.mark.parametrize("price", [None, 0, -1, True, False, 12.0, 12.5, "12", 1_001, [12]], ids=repr)
def test_lowest_price_bad_price_is_refused(price: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.check_price("lowest_price", price, 1_000)
    assert field_of(exc) == "price_fen"


@pytest.mark.parametrize("price", [1, 999, 1_000])
def test_lowest_price_positive_integer_up_to_the_budget_is_accepted(price: int) -> None:
    result = rules.check_price("lowest_price", price, 1_000)
    assert result == price and type(result) is int


# -- terms -------------------------------------------------------------------------------------


def terms(**overrides: Any) -> bytes:
    values: dict[str, Any] = {
        "notice_id": "N-000045",
        "title": "环境影响评价 Environmental impact assessment",
        "description": "编制报告书",
        "category": "EIA",
        "required_level": None,
        "region": "530100",
        "budget_fen": 1_000_000,
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": datetime(2026, 12, 4, 17, 0, tzinfo=CHINA),
        "service_days": 90,
        "owner": {"id": "OW-000001", "name": "昆明市交通运输局"},
        "project": None,
        "avoid": [
            {"agency_id": "AG-000009", "reason": "关联关系"},
            {"agency_id": "AG-000002", "reason": "前期咨询"},
            {"agency_id": "AG-000005", "reason": "同一法人"},
        ],
    }
    values.update(overrides)
    return rules.terms_document(**values)


def test_terms_document_is_canonical_json() -> None:
    doc = terms()
    value = json.loads(doc)
    assert doc == protocol.canonical_json(value)
    assert doc == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert "环境影响评价".encode() in doc  # UTF-8, not \\u escapes
    assert value["bid_deadline"] == "2026-12-04T09:00:00.000000Z"
    assert set(value) == {
        "notice_id",
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
        "owner",
        "project",
        "avoid",
        "direct",
    }
    assert value["direct"] is None  # only a direct selection names its agency in the terms


def test_terms_document_sorts_the_avoid_list_by_agency_id() -> None:
    value = json.loads(terms())
    assert [a["agency_id"] for a in value["avoid"]] == ["AG-000002", "AG-000005", "AG-000009"]
    assert value["avoid"][0] == {"agency_id": "AG-000002", "reason": "前期咨询"}
    shuffled = terms(
        avoid=[
            {"agency_id": "AG-000005", "reason": "同一法人"},
            {"agency_id": "AG-000009", "reason": "关联关系"},
            {"agency_id": "AG-000002", "reason": "前期咨询"},
        ]
    )
    assert shuffled == terms()


def test_terms_document_changes_with_any_term() -> None:
    assert terms(budget_fen=1_000_001) != terms()
    assert terms(bid_deadline=datetime(2026, 12, 5, 17, 0, tzinfo=CHINA)) != terms()


def test_terms_document_refuses_a_float() -> None:
    with pytest.raises((TypeError, ValueError)):
        terms(budget_fen=1_000_000.0)


def test_spec_terms_vector_hash() -> None:
    """MSP/1 section 6: the terms of the log-entry vector and their terms_sha256."""
    doc = protocol.canonical_json(
        {"title": "环境影响评价 Environmental impact assessment", "budget_fen": 1000000}
    )
    assert doc == '{"budget_fen":1000000,"title":"环境影响评价 Environmental impact assessment"}'.encode()
    assert protocol.sha256_hex(doc) == "163768aedac2480ff2e87887888540e4552b3efd4e3c625790887db9b8f84f6c"


# -- the bid document (MSP/1 section 6) ---------------------------------------------------------


SPEC_BID_DOCUMENT = b'{"agency_id":"AG-102","bid_id":"B-000017","nonce":"00112233445566778899aabbccddeeff","notice_id":"N-000003","price_fen":950000}'
SPEC_BID_SHA256 = "d8d8f44e01b5db1ade0b86a75e632c44504a5c4b64ccaf53639be26eb3cd0af7"


def test_spec_bid_document_vector() -> None:
    doc = protocol.bid_document("N-000003", "B-000017", "AG-102", 950000, "00112233445566778899aabbccddeeff")
    assert doc == SPEC_BID_DOCUMENT
    assert protocol.bid_sha256(doc) == SPEC_BID_SHA256


def test_lottery_bid_document_has_a_null_price() -> None:
    doc = protocol.bid_document("N-000001", "B-000001", "AG-001", None, "00" * 16)
    assert (
        doc
        == b'{"agency_id":"AG-001","bid_id":"B-000001","nonce":"00000000000000000000000000000000","notice_id":"N-000001","price_fen":null}'
    )
    assert protocol.bid_sha256(doc) == protocol.sha256_hex(doc)


@pytest.mark.parametrize(
    "args",
    [
        ("N-000003", "B-000017", "AG-102", 950000.0, "00112233445566778899aabbccddeeff"),
        ("N-000003", "B-000017", "AG-102", True, "00112233445566778899aabbccddeeff"),
        ("N 000003", "B-000017", "AG-102", 950000, "00112233445566778899aabbccddeeff"),
        ("N-000003", "B-000017", "AG-102", 950000, "0011"),
        ("N-000003", "B-000017", "AG-102", 950000, "00112233445566778899AABBCCDDEEFF"),
    ],
    ids=["float-price", "bool-price", "bad-id", "short-nonce", "upper-hex-nonce"],
)
def test_bid_document_refuses_what_the_spec_does_not_allow(args: tuple[Any, ...]) -> None:
    with pytest.raises((TypeError, ValueError)):
        protocol.bid_document(*args)
