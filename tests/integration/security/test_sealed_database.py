"""Tried as a database reader (a dump, a replica, a backup, an insider with SELECT): before
the deadline, no column of any table holds an MSP/2 bid's price, its document, its salt
(with which every price could be tried against the public commitment) or its receipt, in
any spelling: decimal text, the bytes' hex (how PostgreSQL prints bytea), base64.
Server sealing keeps them under the seal key; only the close opens them."""

from __future__ import annotations

import base64
import json

import sqlalchemy as sa
from httpx import AsyncClient

from market.core.db import Database
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import approved_agency, owner_user, published

PRICES = (276_543_191, 261_804_473, 299_031_617)  # distinctive digits, so a copy is found by them


def spellings(text: str) -> list[str]:
    """``text`` as a text search of a row would meet it: plain, as hex of its bytes (bytea),
    and in base64 (three alignments, so that a match inside a longer value is found)."""
    raw = text.encode("utf-8")
    found = [text, raw.hex()]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        # drop the characters that depend on the neighbours
        found.append(encoded[(4 * shift + 2) // 3 + 1 : -2] if len(encoded) > 8 else encoded)
    return [s for s in found if len(s) >= 6]


async def every_row_as_text(db: Database) -> dict[str, str]:
    """Every table's rows, each cast to text as a whole (every column, bytea as hex)."""
    async with db.transaction() as session:
        tables = (
            (
                await session.execute(
                    sa.text(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
                    )
                )
            )
            .scalars()
            .all()
        )
        dump: dict[str, str] = {}
        for table in tables:
            rows = (await session.execute(sa.text(f'SELECT t::text FROM "{table}" AS t'))).scalars().all()
            dump[table] = "\n".join(rows)
    return dump


async def test_no_column_of_any_table_holds_a_sealed_price_document_salt_or_receipt(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    owner = await owner_user(client)
    notice = await published(client, owner, method="lowest_price", budget_fen=300_000_000)
    path = f"/api/v1/notices/{notice['id']}/bids"
    bids = []
    for price in PRICES:
        headers, _ = await approved_agency(client, staff)
        response = await client.post(path, json={"price_fen": price}, headers=headers)
        assert response.status_code == 201, response.text
        bids.append((headers, response.json()))
    # one withdrawn and placed again at another price: the withdrawal's salt is secret too
    headers, first = bids[0]
    assert (await client.delete(f"{path}/{first['bid_id']}", headers=headers)).status_code == 200
    again = await client.post(path, json={"price_fen": PRICES[0] - 1}, headers=headers)
    assert again.status_code == 201, again.text
    bids.append((headers, again.json()))

    secrets: dict[str, str] = {}
    for _, bid in bids:
        assert bid["protocol"] == 2 and bid["price_fen"] in (*PRICES, PRICES[0] - 1)
        secrets[f"price of {bid['bid_id']}"] = str(bid["price_fen"])
        secrets[f"price of {bid['bid_id']} in yuan"] = (
            f"{bid['price_fen'] // 100:,}.{bid['price_fen'] % 100:02d}"
        )
        secrets[f"document of {bid['bid_id']}"] = bid["bid_document"]
        secrets[f"price field of {bid['bid_id']}"] = f'"price_fen":{bid["price_fen"]}'
        secrets[f"salt of {bid['bid_id']}"] = bid["salt"]
        secrets[f"receipt of {bid['bid_id']}"] = bid["receipt"].split(".")[1]  # the claims, salt among them
    dump = await every_row_as_text(db)
    assert {"bid", "log_entry", "notice", "selection"} <= dump.keys()
    found = [
        (what, table)
        for what, value in secrets.items()
        for spelled in spellings(value)
        for table, text in dump.items()
        if spelled in text
    ]
    assert found == [], found

    # What the database does hold of each bid: its commitment (public anyway) and sealed bytes.
    async with db.transaction() as session:
        rows = (
            await session.execute(
                sa.text("SELECT protocol, price_fen, document, nonce, receipt, commitment, sealed FROM bid")
            )
        ).all()
    assert len(rows) == len(bids)
    for protocol, price, document, nonce, receipt, commitment, sealed in rows:
        assert protocol == 2 and (price, document, nonce, receipt) == (None, None, None, None)
        assert commitment in {b["commitment"] for _, b in bids} and sealed is not None and len(sealed) > 12

    # The bidder still reads its own bid back (the server opens it for the bidder alone).
    mine = (await client.get(f"{path}/mine", headers=bids[0][0])).json()
    assert sorted(b["price_fen"] for b in mine) == sorted([PRICES[0], PRICES[0] - 1])


async def test_the_database_refuses_a_readable_msp2_bid(client: AsyncClient, db: Database) -> None:
    """Not a convention: a CHECK constraint. A bug (or a hand-written UPDATE) that puts the
    price back in the clear fails instead of leaking."""
    staff = await admin(client, db)
    notice = await published(client, await owner_user(client), method="lowest_price", budget_fen=300_000_000)
    headers, _ = await approved_agency(client, staff)
    bid = (
        await client.post(
            f"/api/v1/notices/{notice['id']}/bids", json={"price_fen": 123_456}, headers=headers
        )
    ).json()
    async with db.transaction() as session:
        nested = await session.begin_nested()
        try:
            await session.execute(
                sa.text("UPDATE bid SET price_fen = 123456 WHERE public_id = :b"), {"b": bid["bid_id"]}
            )
        except sa.exc.IntegrityError as exc:
            assert "ck_bid_protocol_columns" in str(exc)
            await nested.rollback()
        else:  # pragma: no cover - the failure this test exists for
            raise AssertionError("an MSP/2 bid took a plaintext price")
    assert json.loads(bid["bid_document"])["price_fen"] == 123_456
