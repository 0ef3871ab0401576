"""Each red flag as a pure function: just below and at its threshold, with and without its
minimum count, and what it points at."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from market.core.config import Settings
from market.supervision.flags import rules as F

NAMES = {"zh_Hans": "环境影响评价", "en": "Environmental impact assessment"}
DAY = date(2025, 3, 1)


def wins(w: int, total: int) -> F.WinCount:
    return F.WinCount(
        scope="category",
        key="EIA",
        scope_name=NAMES,
        agency_id="AG-1",
        agency_name="甲公司",
        wins=w,
        total=total,
        notices=("N-1", "N-2"),
    )


# -- win_share -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("w", "total", "percent", "min_awards", "flagged"),
    [
        (2, 4, 50, 4, True),  # at the threshold, at the minimum count
        (1, 4, 50, 4, False),  # below the share
        (3, 7, 50, 4, False),  # 42.8 %: just below
        (4, 7, 50, 4, True),  # 57 %
        (2, 3, 50, 4, False),  # share enough, too few awards
        (3, 3, 50, 4, False),  # all of them, still too few
        (50, 100, 50, 4, True),
        (49, 100, 50, 4, False),
    ],
)
def test_win_share_threshold_and_minimum(
    w: int, total: int, percent: int, min_awards: int, flagged: bool
) -> None:
    got = F.win_share([wins(w, total)], percent=percent, min_awards=min_awards)
    assert bool(got) is flagged
    if flagged:
        f = got[0]
        assert f.kind == "win_share" and f.subject == "AG-1"
        assert f.numbers == {
            "scope": "category",
            "key": "EIA",
            "wins": w,
            "total": total,
            "share_percent": w * 100 // total,
        }
        assert F.Evidence("notice", "N-1") in f.evidence and F.Evidence("agency", "AG-1") in f.evidence
        assert f.params["scope"] == NAMES


def test_win_share_severity_rises_with_the_share() -> None:
    assert F.win_share([wins(2, 4)], percent=50, min_awards=4)[0].severity == "medium"
    assert F.win_share([wins(3, 4)], percent=50, min_awards=4)[0].severity == "high"
    assert F.win_share([wins(4, 4)], percent=50, min_awards=4)[0].severity == "high"


# -- pair_repeats --------------------------------------------------------------------------------


def pair(*offsets: int) -> F.PairWins:
    return F.PairWins(
        owner_id="ORG-1",
        owner_name="某局",
        agency_id="AG-1",
        agency_name="甲公司",
        wins=tuple((DAY + timedelta(days=o), f"N-{i}") for i, o in enumerate(offsets)),
    )


@pytest.mark.parametrize(
    ("offsets", "repeats", "flagged", "run"),
    [
        ((0, 100, 364), 3, True, 3),  # first and last 364 days apart: within 365 days
        ((0, 100, 365), 3, False, 2),  # 365 days apart: a year and a day
        ((0, 10), 3, False, 0),  # below the count
        ((0, 10, 20), 3, True, 3),  # at the count
        ((0, 400, 410, 420), 3, True, 3),  # an old one outside the window, three inside
        ((0, 200, 400, 600), 3, False, 2),  # spread out: never three in a year
    ],
)
def test_pair_repeats_within_a_year(offsets: tuple[int, ...], repeats: int, flagged: bool, run: int) -> None:
    got = F.pair_repeats([pair(*offsets)], repeats=repeats)
    assert bool(got) is flagged
    if flagged:
        f = got[0]
        assert f.subject == "ORG-1" and f.numbers["wins"] == run and f.numbers["agency_id"] == "AG-1"
        assert len([e for e in f.evidence if e.type == "notice"]) == run


def test_pair_repeats_severity_and_densest_window() -> None:
    assert F.pair_repeats([pair(*range(6))], repeats=3)[0].severity == "high"
    assert F.pair_repeats([pair(0, 1, 2)], repeats=3)[0].severity == "medium"
    run = F.densest_window([(DAY + timedelta(days=d), str(d)) for d in (0, 400, 401, 402)], 365)
    assert [n for _, n in run] == ["400", "401", "402"]


# -- direct_share --------------------------------------------------------------------------------


def owner(published: int, direct: int) -> F.OwnerNotices:
    return F.OwnerNotices(
        owner_id="ORG-1",
        owner_name="某局",
        published=published,
        direct=tuple(f"N-{i}" for i in range(direct)),
    )


@pytest.mark.parametrize(
    ("published", "direct", "flagged"),
    [
        (10, 3, True),  # 30 %: at the threshold
        (10, 2, False),  # 20 %
        (100, 29, False),  # 29 %: just below
        (3, 1, True),  # 33 %, at the minimum count
        (2, 1, False),  # 50 %, too few notices
        (2, 2, False),  # all direct, still too few
        (5, 0, False),
    ],
)
def test_direct_share(published: int, direct: int, flagged: bool) -> None:
    got = F.direct_share([owner(published, direct)], percent=30, min_notices=3)
    assert bool(got) is flagged
    if flagged:
        assert got[0].numbers == {
            "direct": direct,
            "notices": published,
            "share_percent": direct * 100 // published,
        }
        assert [e.ref for e in got[0].evidence] == [f"N-{i}" for i in range(direct)]


def test_direct_share_severity() -> None:
    assert F.direct_share([owner(10, 6)], percent=30, min_notices=3)[0].severity == "high"
    assert F.direct_share([owner(10, 5)], percent=30, min_notices=3)[0].severity == "medium"


# -- similar_prices ------------------------------------------------------------------------------


def priced(*prices: int) -> F.PricedNotice:
    return F.PricedNotice(
        notice_id="N-9",
        title="测绘",
        closed_seq=42,
        bids=tuple(
            F.PricedBid(bid_id=f"B-{i}", agency_id=f"AG-{i}", price_fen=p) for i, p in enumerate(prices)
        ),
    )


@pytest.mark.parametrize(
    ("prices", "permille", "involved", "identical"),
    [
        ((100_000, 100_000), 5, 2, True),  # identical
        ((100_000, 100_000), 0, 2, True),  # identical even with no tolerance
        ((100_000, 100_500), 5, 2, False),  # 5 ‰: at the threshold
        ((100_000, 100_501), 5, 0, False),  # just over
        ((100_000, 100_499), 5, 2, False),  # just under
        ((100_000, 100_001), 0, 0, False),  # near but no tolerance
        ((80_000, 100_000, 100_000, 100_200), 5, 3, True),  # a cluster of three, one apart
        ((50_000, 80_000, 120_000), 5, 0, False),
        ((100_000,), 5, 0, False),  # one bid: nothing to compare
    ],
)
def test_similar_prices(prices: tuple[int, ...], permille: int, involved: int, identical: bool) -> None:
    got = F.similar_prices([priced(*prices)], permille=permille)
    assert len(got) == (1 if involved else 0)
    if involved:
        f = got[0]
        assert f.subject == "N-9" and f.numbers["bids"] == involved and f.numbers["identical"] is identical
        assert f.severity == ("high" if identical else "medium")
        types = [e.type for e in f.evidence]
        assert types.count("bid") == involved and ("notice", "N-9") in [(e.type, e.ref) for e in f.evidence]
        assert F.Evidence("log", "42") in f.evidence and F.Evidence("draw", "N-9") in f.evidence
        assert F.Evidence("log", "42").href == "/log/entries/42"
        assert F.Evidence("draw", "N-9").href == "/notices/N-9/draw"


def test_gap_permille_rounds_up() -> None:
    assert F.gap_permille(100_000, 100_000) == 0
    assert F.gap_permille(100_000, 100_500) == 5
    assert F.gap_permille(100_000, 100_501) == 6
    assert F.close_prices(100_000, 100_500, 5) and not F.close_prices(100_000, 100_501, 5)


# -- over_budget ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "budget", "flagged"),
    [
        (1_000_001, 1_000_000, True),
        (1_000_000, 1_000_000, False),
        (999_999, 1_000_000, False),
        (1_500_000, 1_000_000, True),
    ],
)
def test_over_budget(amount: int, budget: int, flagged: bool) -> None:
    c = F.ContractAmount(
        contract_id="C-1",
        notice_id="N-1",
        agency_id="AG-1",
        agency_name="甲",
        amount_fen=amount,
        budget_fen=budget,
        recorded_seq=7,
    )
    got = F.over_budget([c])
    assert bool(got) is flagged
    if flagged:
        assert (
            got[0].subject == "C-1"
            and got[0].numbers["excess_fen"] == amount - budget
            and got[0].severity == "high"
        )
        assert [e.href for e in got[0].evidence] == ["/contracts/C-1", "/notices/N-1", "/log/entries/7"]


# -- signed_late ---------------------------------------------------------------------------------


def signing(confirmed: int | None, contract: str | None = "C-1") -> F.Signing:
    return F.Signing(
        notice_id="N-1",
        agency_id="AG-1",
        agency_name="甲",
        final_on=DAY,
        final_seq=11,
        contract_id=contract,
        confirmed_on=None if confirmed is None else DAY + timedelta(days=confirmed),
        signed_seq=None if confirmed is None else 12,
    )


@pytest.mark.parametrize(
    ("confirmed", "today_offset", "flagged", "state", "late"),
    [
        (30, 100, False, None, 0),  # confirmed on the last day
        (31, 100, True, "signed", 1),  # a day late
        (5, 100, False, None, 0),
        (None, 30, False, None, 0),  # unsigned, still within the window
        (None, 31, True, "unsigned", 1),  # unsigned and past it
    ],
)
def test_signed_late(
    confirmed: int | None, today_offset: int, flagged: bool, state: str | None, late: int
) -> None:
    got = F.signed_late([signing(confirmed)], contract_days=30, today=DAY + timedelta(days=today_offset))
    assert bool(got) is flagged
    if flagged:
        f = got[0]
        assert f.numbers["state"] == state and f.numbers["days_late"] == late
        assert f.numbers["sign_by"] == (DAY + timedelta(days=30)).isoformat()
        assert f.severity == ("medium" if state == "unsigned" else "low")
        assert F.Evidence("log", "11") in f.evidence and F.Evidence("contract", "C-1") in f.evidence


def test_unsigned_award_without_a_contract_points_at_the_notice() -> None:
    f = F.signed_late([signing(None, contract=None)], contract_days=30, today=DAY + timedelta(days=40))[0]
    assert f.subject == "N-1" and [e.type for e in f.evidence] == ["notice", "log"]


# -- amended_late --------------------------------------------------------------------------------

DEADLINE = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def amended(*amendments: F.Amendment, deadline: datetime = DEADLINE) -> F.AmendedNotice:
    return F.AmendedNotice(notice_id="N-1", title="评估", deadline=deadline, amendments=amendments)


@pytest.mark.parametrize(
    ("hours_before", "flagged"),
    [(47.9, True), (48, False), (48.1, False), (1, True), (100, False)],
)
def test_amended_late_threshold(hours_before: float, flagged: bool) -> None:
    a = F.Amendment(at=DEADLINE - timedelta(hours=hours_before), log_seq=5)
    got = F.amended_late([amended(a)], hours=48)
    assert bool(got) is flagged
    if flagged:
        assert (
            F.Evidence("log", "5") in got[0].evidence and got[0].numbers["deadline"] == DEADLINE.isoformat()
        )


def test_amended_late_uses_the_deadline_then_in_force() -> None:
    # Amended a day before the old deadline, moving it a week later: late by the old one.
    old = DEADLINE
    late = F.Amendment(at=old - timedelta(hours=24), log_seq=5, deadline_before=old)
    got = F.amended_late([amended(late, deadline=old + timedelta(days=7))], hours=48)
    assert got and got[0].numbers["hours_before"] == 24.0
    # The same change made early, then a text change a day before the new deadline.
    early = F.Amendment(at=old - timedelta(days=5), log_seq=5, deadline_before=old)
    text = F.Amendment(at=old + timedelta(days=6), log_seq=6)
    got = F.amended_late([amended(early, text, deadline=old + timedelta(days=7))], hours=48)
    assert [e.ref for e in got[0].evidence if e.type == "log"] == ["6"]
    # An amendment before a deadline that was later moved is measured against the old one.
    first = F.Amendment(at=old - timedelta(hours=30), log_seq=4)
    pairs = F.deadlines_in_force(amended(first, late, deadline=old + timedelta(days=7)))
    assert [d for _, d in pairs] == [old, old]


# -- withdrawals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "withdrawn", "flagged"),
    [
        (10, 3, True),  # 30 %: at the threshold
        (10, 2, False),
        (100, 29, False),  # just below
        (5, 2, True),  # 40 %, at the minimum count
        (4, 2, False),  # 50 %, too few bids
        (4, 4, False),
        (6, 0, False),
    ],
)
def test_withdrawals(total: int, withdrawn: int, flagged: bool) -> None:
    got = F.withdrawals(
        [F.BidCounts(notice_id="N-1", title="t", total=total, withdrawn=withdrawn)], percent=30, min_bids=5
    )
    assert bool(got) is flagged
    if flagged:
        assert got[0].numbers == {
            "withdrawn": withdrawn,
            "total": total,
            "share_percent": withdrawn * 100 // total,
        }


# -- everything at once, and the texts ------------------------------------------------------------


def test_evaluate_sorts_by_severity_and_uses_the_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, flag_price_gap_permille=0)
    inputs = F.Inputs(
        priced=[
            priced(100_000, 100_001),
            F.PricedNotice(notice_id="N-8", title="x", closed_seq=3, bids=priced(5, 5).bids),
        ],
        signings=[signing(31)],
        bid_counts=[F.BidCounts(notice_id="N-1", title="t", total=10, withdrawn=3)],
    )
    got = F.evaluate(inputs, settings, DAY + timedelta(days=100))
    assert [(f.kind, f.severity) for f in got] == [
        ("similar_prices", "high"),
        ("withdrawals", "medium"),
        ("signed_late", "low"),
    ]
    assert F.count_by_kind(got)["similar_prices"] == 1 and set(F.count_by_kind(got)) == set(F.KINDS)


def test_every_kind_has_texts_whose_places_are_filled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path)
    assert set(F.KINDS) == {k.value for k in F.Kind}
    for kind, info in F.KINDS.items():
        assert info.title and info.why
        info.threshold % F.threshold_params(kind, settings)  # every place has a value


# -- related_parties ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("same_code", "linked", "same_phone", "what"),
    [
        (False, False, False, None),
        (True, False, False, "credit_code"),
        (False, True, True, "link"),
        (False, False, True, "phone"),
    ],
)
def test_related_parties(same_code: bool, linked: bool, same_phone: bool, what: str | None) -> None:
    holder = F.HolderAndOwner(
        notice_id="N-1",
        agency_id="AG-1",
        agency_name="云测",
        owner_id="OW-1",
        owner_name="某局",
        same_credit_code=same_code,
        linked=linked,
        same_phone=same_phone,
    )
    flags = F.related_parties([holder])
    assert [f.params["what"] for f in flags] == ([what] if what else [])
    assert all(f.severity == "high" and f.subject == "N-1/AG-1" for f in flags)
