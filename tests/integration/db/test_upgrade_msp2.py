"""The upgrade to MSP/2 (migration 0008): what exists keeps MSP/1 for life, nothing stored is
rewritten, and only notices published afterwards follow MSP/2 (docs/protocol/msp.md,
"Status"). A notice open at the upgrade finishes under the rules its bidders were told:
tests/integration/notices/test_msp1_after_upgrade.py follows one to its draw."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from market.core.db import to_asyncpg_dsn, upgrade
from tests.conftest import _drop, _recreate, in_thread, run_blocking, url_for


@pytest.fixture
def database_at_0007(server_url: str) -> Iterator[str]:
    name = f"market_upgrade_{secrets.token_hex(4)}"
    run_blocking(_recreate(server_url, name))
    url = url_for(server_url, name)
    in_thread(upgrade, url, "0007_witness")
    yield url
    run_blocking(_drop(server_url, name))


DOCUMENT = b'{"agency_id":"AG-000001","bid_id":"B-000001","nonce":"00112233445566778899aabbccddeeff","notice_id":"N-000001","price_fen":null}'


async def _fill(dsn: str) -> None:
    """An open notice with a standing MSP/1 bid, as the marketplace kept them before 0008."""
    now = datetime.now(UTC)
    conn = await asyncpg.connect(dsn)
    try:
        owner = await conn.fetchval(
            "INSERT INTO app_user (public_id, email, name, role, password_hash, is_active, created_at) "
            "VALUES ('U-000001', 'owner@example.cn', '业主', 'owner', 'x', true, $1) RETURNING id",
            now,
        )
        agent = await conn.fetchval(
            "INSERT INTO app_user (public_id, email, name, role, password_hash, is_active, created_at) "
            "VALUES ('U-000002', 'agency@example.cn', '机构', 'agency', 'x', true, $1) RETURNING id",
            now,
        )
        agency = await conn.fetchval(
            "INSERT INTO agency (public_id, owner_id, name, credit_code, region, status, created_at, updated_at) "
            "VALUES ('AG-000001', $1, '某环境科技有限公司', '91530100MA6K0000X0', '530100', 'approved', $2, $2) RETURNING id",
            agent,
            now,
        )
        notice = await conn.fetchval(
            "INSERT INTO notice (public_id, owner_id, title, description, category, region, budget_fen, method, winners, "
            "min_candidates, bid_deadline, status, commit, scheme, terms_sha256, published_at, created_at, updated_at) "
            "VALUES ('N-000001', $1, '环评', '环评', 'EIA', '530000', 100000, 'lottery', 1, 1, $2, 'open', $3, 'none', $3, $4, $4, $4) RETURNING id",
            owner,
            now + timedelta(days=3),
            "ab" * 32,
            now,
        )
        await conn.execute(
            "INSERT INTO bid (public_id, notice_id, agency_id, price_fen, nonce, document, bid_sha256, seq, leaf_hash, receipt, status, created_at) "
            "VALUES ('B-000001', $1, $2, NULL, '00112233445566778899aabbccddeeff', $3, $4, 1, $4, 'x.y.z', 'standing', $5)",
            notice,
            agency,
            DOCUMENT,
            "cd" * 32,
            now,
        )
    finally:
        await conn.close()


async def _read(dsn: str) -> tuple[asyncpg.Record, asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        notice = await conn.fetchrow(
            "SELECT protocol, sealing, status, opened_seq FROM notice WHERE public_id = 'N-000001'"
        )
        bid = await conn.fetchrow(
            "SELECT protocol, price_fen, nonce, document, bid_sha256, receipt, commitment, sealed FROM bid"
        )
        return notice, bid
    finally:
        await conn.close()


async def _new_rows_default_to_msp2(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        assert (
            await conn.fetchval(
                "SELECT column_default FROM information_schema.columns WHERE table_name = 'notice' AND column_name = 'protocol'"
            )
            == "'2'::smallint"
        )
        # An MSP/2 bid may not be written with a plaintext document: the constraint says so.
        notice = await conn.fetchval("SELECT id FROM notice")
        agency = await conn.fetchval("SELECT id FROM agency")
        try:
            await conn.execute(
                "INSERT INTO bid (public_id, notice_id, agency_id, protocol, document, seq, leaf_hash, status, created_at, commitment) "
                "VALUES ('B-000002', $1, $2, 2, $3, 2, 'ef', 'withdrawn', now(), 'ff')",
                notice,
                agency,
                DOCUMENT,
            )
        except asyncpg.CheckViolationError as exc:
            return str(exc)
        return "accepted"
    finally:
        await conn.close()


def test_what_exists_at_the_upgrade_stays_msp1_and_is_not_rewritten(database_at_0007: str) -> None:
    dsn = to_asyncpg_dsn(database_at_0007)
    run_blocking(_fill(dsn))
    in_thread(upgrade, database_at_0007)
    notice, bid = run_blocking(_read(dsn))
    assert (notice["protocol"], notice["sealing"], notice["status"], notice["opened_seq"]) == (
        1,
        None,
        "open",
        None,
    )
    assert (
        bid["protocol"] == 1
        and bytes(bid["document"]) == DOCUMENT
        and bid["nonce"] == "00112233445566778899aabbccddeeff"
    )
    assert (bid["bid_sha256"], bid["receipt"], bid["commitment"], bid["sealed"]) == (
        "cd" * 32,
        "x.y.z",
        None,
        None,
    )
    assert "ck_bid_protocol_columns" in run_blocking(_new_rows_default_to_msp2(dsn))
