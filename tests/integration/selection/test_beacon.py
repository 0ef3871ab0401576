"""The drand quicknet beacon without the network: a recorded real round, relays played by a
local HTTP server, and a notice committed to that round drawn with it (or left waiting
when the beacon cannot be had, never drawn with scheme none)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from httpx import AsyncClient
from litestar import Litestar

from market import protocol
from market.core.db import Database
from market.notices import service as notices_service
from market.protocol.notice_checks import notice_report
from market.selection import service
from market.selection.api import context
from market.selection.beacon import (
    QUICKNET_CHAIN_HASH,
    BeaconRound,
    BeaconUnavailable,
    DrandRelays,
    emitted_at,
    verify_round,
)
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import approved_agency
from tests.integration.selection.helpers import (
    close,
    entries_of,
    open_round,
    recompute,
    selection_of,
    wait_until,
)

# drand quicknet round 657413, as the League of Entropy relays served it.
ROUND = 657413
SIGNATURE = "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
RANDOMNESS = "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"
SCHEME = f"drand/quicknet/{ROUND}"


def changed(signature: str, at: int = 10) -> str:
    raw = bytearray(bytes.fromhex(signature))
    raw[at] ^= 0x01
    return raw.hex()


# -- verifying a round ---------------------------------------------------------------------------


def test_the_recorded_round_verifies() -> None:
    got = verify_round(ROUND, SIGNATURE, RANDOMNESS)
    assert got == BeaconRound(round=ROUND, signature=bytes.fromhex(SIGNATURE))
    assert got.randomness.hex() == RANDOMNESS == protocol.beacon_value(bytes.fromhex(SIGNATURE)).hex()
    assert got.as_entry() == {"round": ROUND, "signature": SIGNATURE, "randomness": RANDOMNESS}
    assert verify_round(ROUND, SIGNATURE.upper()).randomness.hex() == RANDOMNESS  # randomness optional
    assert emitted_at(ROUND) < datetime.now(tz=emitted_at(ROUND).tzinfo)


@pytest.mark.parametrize("at", [0, 10, 47])
def test_a_changed_signature_byte_is_refused(at: int) -> None:
    with pytest.raises(ValueError, match="does not verify"):
        verify_round(ROUND, changed(SIGNATURE, at))


def test_the_right_signature_for_the_wrong_round_is_refused() -> None:
    for other in (ROUND - 1, ROUND + 1, 1):
        with pytest.raises(ValueError, match=f"round {other}"):
            verify_round(other, SIGNATURE)


def test_randomness_that_is_not_the_hash_of_the_signature_is_refused() -> None:
    with pytest.raises(ValueError, match="randomness"):
        verify_round(ROUND, SIGNATURE, "00" * 32)
    with pytest.raises(ValueError, match="not hex"):
        verify_round(ROUND, "zz" + SIGNATURE[2:])


# -- relays ---------------------------------------------------------------------------------------


class FakeRelay:
    """A drand HTTP relay in a thread, serving ``body`` for every round it is asked for."""

    def __init__(self, body: dict[str, Any] | None, status: int = 200) -> None:
        self.body, self.status = body, status
        self.asked: list[str] = []
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                relay.asked.append(self.path)
                payload = json.dumps(relay.body).encode() if relay.body is not None else b""
                self.send_response(relay.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRelay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def good() -> FakeRelay:
    return FakeRelay({"round": ROUND, "signature": SIGNATURE, "randomness": RANDOMNESS})


def forged() -> FakeRelay:
    return FakeRelay({"round": ROUND, "signature": changed(SIGNATURE), "randomness": RANDOMNESS})


@pytest.fixture
def closed_port() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield f"http://127.0.0.1:{port}"  # nothing listens there any more


async def test_a_relay_serving_the_recorded_round_gives_it() -> None:
    with good() as relay:
        got = await DrandRelays((relay.url,), timeout=2).fetch(ROUND)
    assert got == BeaconRound(round=ROUND, signature=bytes.fromhex(SIGNATURE))
    assert relay.asked == [f"/{QUICKNET_CHAIN_HASH}/public/{ROUND}"]


async def test_a_forged_round_is_a_fault_and_the_next_relay_is_asked(closed_port: str) -> None:
    with forged() as bad, good() as fine:
        got = await DrandRelays((bad.url, fine.url), timeout=2).fetch(ROUND)
        assert got.randomness.hex() == RANDOMNESS
        assert len(bad.asked) == 1 and len(fine.asked) == 1
        with pytest.raises(BeaconUnavailable) as raised:
            await DrandRelays((bad.url, closed_port), timeout=2).fetch(ROUND)
    assert raised.value.fault is True
    assert bad.url in raised.value.reason and "refused" in raised.value.reason
    assert closed_port in raised.value.reason  # the next relay was tried too


async def test_the_relays_load_the_system_certificates_once(
    monkeypatch: pytest.MonkeyPatch, closed_port: str
) -> None:
    """Each fetch used to build a TLS context (tens of ms of CPU loading certificates); the
    scheduler fetches for every notice waiting on the beacon."""
    import ssl

    made: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ssl, "create_default_context", counting)
    relays = DrandRelays((closed_port.replace("http://", "https://"),), timeout=2)
    for _ in range(3):
        with pytest.raises(BeaconUnavailable):
            await relays.fetch(ROUND)
    assert len(made) == 1 and made[0].verify_mode == ssl.CERT_REQUIRED


async def test_a_relay_answering_another_round_is_refused() -> None:
    with FakeRelay({"round": ROUND + 1, "signature": SIGNATURE}) as relay:
        with pytest.raises(BeaconUnavailable) as raised:
            await DrandRelays((relay.url,), timeout=2).fetch(ROUND)
    assert raised.value.fault is True and str(ROUND + 1) in raised.value.reason


async def test_an_unreachable_or_failing_relay_leaves_the_beacon_unavailable(closed_port: str) -> None:
    with pytest.raises(BeaconUnavailable) as raised:
        await DrandRelays((closed_port,), timeout=2).fetch(ROUND)
    assert raised.value.fault is False
    assert closed_port in raised.value.reason and "unreachable" in raised.value.reason
    with FakeRelay(None, status=404) as missing, pytest.raises(BeaconUnavailable) as raised:
        await DrandRelays((missing.url,), timeout=2).fetch(ROUND)
    assert raised.value.fault is False and missing.url in raised.value.reason and "404" in raised.value.reason


async def test_a_round_not_yet_emitted_is_not_asked_for() -> None:
    future = protocol.drand_quicknet_round(2_000_000_000)
    with good() as relay, pytest.raises(BeaconUnavailable) as raised:
        await DrandRelays((relay.url,), timeout=2).fetch(future)
    assert relay.asked == [] and "not emitted" in raised.value.reason


# -- a notice committed to the round ----------------------------------------------------------------


class FakeBeacon:
    """Raises BeaconUnavailable for the first ``failures`` calls (forever with None), then
    gives the recorded round; counts the calls and the rounds asked for."""

    def __init__(
        self, failures: int | None = 0, reason: str = "https://relay.invalid: unreachable (timed out)"
    ) -> None:
        self.failures, self.reason = failures, reason
        self.asked: list[int] = []

    async def fetch(self, round_number: int) -> BeaconRound:
        self.asked.append(round_number)
        if self.failures is None or len(self.asked) <= self.failures:
            raise BeaconUnavailable(self.reason)
        return verify_round(round_number, SIGNATURE, RANDOMNESS)


@pytest.fixture
def committed_to_the_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """Notices published in this test commit to quicknet round 657413 (long emitted)."""
    monkeypatch.setattr(notices_service, "_scheme", lambda settings, deadline: SCHEME)


async def backdate_beacon_check(db: Database, notice_id: str) -> None:
    """The scheduler looks again 10 s after the last try; make that time have passed."""
    async with db.transaction() as session:
        await session.execute(
            sa.text(
                "UPDATE selection SET beacon_checked_at = clock_timestamp() - interval '1 minute' WHERE notice_id = (SELECT id FROM notice WHERE public_id = :n)"
            ),
            {"n": notice_id},
        )


@pytest.mark.usefixtures("committed_to_the_round")
async def test_a_notice_committed_to_a_drand_round_waits_for_it_then_draws_with_it(
    client: AsyncClient, app: Litestar, db: Database
) -> None:
    beacon = FakeBeacon(failures=1)
    app.state.beacon = beacon
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=4, method="lottery", winners=1, min_candidates=3)
    published = (await entries_of(client, r.notice_id, "notice.published"))[0]
    assert published["scheme"] == SCHEME

    waiting = await close(client, r)
    assert beacon.asked == [ROUND]
    assert waiting["status"] == "closed" and waiting["scheme"] == SCHEME and waiting["fairness"] == "beacon"
    assert waiting["waiting_reason"] == beacon.reason
    assert waiting["secret"] is not None and len(waiting["candidates"]) == 4
    assert waiting["seed"] is None and waiting["winners"] is None and waiting["holders"] == []
    assert waiting["seqs"]["closed"] is not None and waiting["seqs"]["outcome"] is None
    assert [e["type"] for e in await entries_of(client, r.notice_id)][-1] == "bidding.closed"
    assert "waiting_for_beacon" in [
        m["kind"] for m in (await client.get("/api/v1/me/messages", headers=r.owner)).json()
    ]

    # Not due again until the retry interval has passed...
    async with db.transaction() as session:
        assert await service.run_due(session, context(app.state)) is None
    assert beacon.asked == [ROUND]
    # ...then the scheduler's step asks again and draws.
    await backdate_beacon_check(db, r.notice_id)
    async with db.transaction() as session:
        assert await service.run_due(session, context(app.state)) == r.notice_id
    assert beacon.asked == [ROUND, ROUND]

    record = await selection_of(client, r.notice_id)
    assert (
        record["status"] == "selected" and record["fairness"] == "beacon" and record["waiting_reason"] is None
    )
    assert record["beacon"] == {"round": ROUND, "signature": SIGNATURE, "randomness": RANDOMNESS}
    expected = recompute(record, beacon=bytes.fromhex(RANDOMNESS))
    for key in ("commit", "eligible", "seed", "order", "ranking", "winners", "alternates"):
        assert record[key] == expected[key], key
    assert record["commit"] == published["commit"]
    # The same draw without the beacon would have given another seed.
    assert record["seed"] != recompute({**record, "scheme": "none"})["seed"]
    drawn = await entries_of(client, r.notice_id, "selection.drawn")
    assert len(drawn) == 1
    assert drawn[0]["scheme"] == SCHEME
    assert drawn[0]["beacon"] == {"round": ROUND, "signature": SIGNATURE, "randomness": RANDOMNESS}
    assert drawn[0]["seed"] == expected["seed"] and drawn[0]["order"] == expected["order"]
    assert record["holders"] == drawn[0]["winners"]
    again = await client.post(f"/api/v1/notices/{r.notice_id}/close", headers=r.owner)
    assert again.status_code == 200 and again.json() == record and beacon.asked == [ROUND, ROUND]

    # The verifier's per-notice checks recompute the same draw and check the round's BLS
    # signature; the one thing they find is what this test did on purpose: it committed
    # to a round long emitted, not the one an hour after the deadline.
    report = notice_report(r.notice_id, [(e["seq"], e) for e in await entries_of(client, r.notice_id)])
    assert [p.seq for p in report.problems] == [published["seq"]], [p.message for p in report.problems]
    assert "657413" in report.problems[0].message and report.status == "selected"


@pytest.mark.usefixtures("committed_to_the_round")
async def test_without_the_beacon_the_notice_waits_and_never_draws_with_scheme_none(
    client: AsyncClient, app: Litestar, db: Database
) -> None:
    reason = "https://api.drand.sh: refused (the BLS signature does not verify for round 657413)"
    beacon = FakeBeacon(failures=None, reason=reason)
    app.state.beacon = beacon
    staff = await admin(client, db)
    r = await open_round(
        client,
        staff,
        bidders=3,
        method="lowest_price",
        prices=[500_000, 400_000, 450_000],
        winners=1,
        min_candidates=3,
    )
    record = await close(client, r)
    assert record["status"] == "closed" and record["waiting_reason"] == reason and record["seed"] is None
    for _ in range(2):
        again = await client.post(f"/api/v1/notices/{r.notice_id}/close", headers=r.owner)
        assert again.status_code == 200 and again.json()["status"] == "closed"
        await backdate_beacon_check(db, r.notice_id)
        async with db.transaction() as session:
            await service.run_due(session, context(app.state))
    # Asked at closing and by each scheduler pass after the retry interval; pressing "close"
    # again within the interval does not reach the relays.
    assert len(beacon.asked) == 3 and set(beacon.asked) == {ROUND}
    record = await selection_of(client, r.notice_id)
    assert record["status"] == "closed" and record["waiting_reason"] == reason
    assert record["winners"] is None and record["holders"] == [] and record["beacon"] is None
    types = [e["type"] for e in await entries_of(client, r.notice_id)]
    assert types.count("bidding.closed") == 1
    assert not {"selection.drawn", "selection.failed", "selection.direct"} & set(types)
    notice = (await client.get(f"/api/v1/notices/{r.notice_id}")).json()
    assert notice["status"] == "closed" and notice["scheme"] == SCHEME
    # The owner cannot cancel it now either: the draw is owed.
    cancel = await client.post(
        f"/api/v1/notices/{r.notice_id}/cancel", json={"reason": "等不及了，取消"}, headers=r.owner
    )
    assert cancel.status_code == 409


@pytest.mark.usefixtures("committed_to_the_round")
async def test_a_round_not_yet_emitted_is_waited_for_without_asking_the_relays(
    client: AsyncClient, app: Litestar, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    future = protocol.drand_quicknet_round(2_000_000_000)
    monkeypatch.setattr(notices_service, "_scheme", lambda settings, deadline: f"drand/quicknet/{future}")
    beacon = FakeBeacon()
    app.state.beacon = beacon
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
    await wait_until(r.deadline)
    record = await close(client, r)
    assert record["status"] == "closed" and beacon.asked == []
    assert str(future) in record["waiting_reason"] and "waiting" in record["waiting_reason"]


# -- known faults (see the report of this test file's author; strict: they fail once fixed) ---------


class GarbageRelay:
    """Answers every request with a line that is not an HTTP status line."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"SPLAT\r\n\r\n")

    def __enter__(self) -> GarbageRelay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


async def test_a_relay_answering_garbage_is_passed_over_for_the_next() -> None:
    with GarbageRelay() as garbage, good() as fine:
        got = await DrandRelays((garbage.url, fine.url), timeout=2).fetch(ROUND)
    assert got.randomness.hex() == RANDOMNESS


@pytest.mark.usefixtures("committed_to_the_round")
async def test_one_notice_whose_step_fails_does_not_stop_the_scheduler_closing_the_others(
    client: AsyncClient, app: Litestar, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from market.selection.scheduler import Scheduler

    staff = await admin(client, db)
    bidders = [await approved_agency(client, staff) for _ in range(3)]
    stuck = await open_round(
        client, staff, bidders=bidders, method="lottery", winners=1, min_candidates=3, due_in=1.0
    )
    assert (await selection_of(client, stuck.notice_id))["scheme"] == SCHEME
    monkeypatch.undo()  # the next notice commits to scheme none, and is due a little later
    # Its window ends half a second after the first's, however long that one's setup took.
    after_stuck = (stuck.deadline - datetime.now(UTC)).total_seconds() + 0.5
    fine = await open_round(
        client, staff, bidders=bidders, method="lottery", winners=1, min_candidates=3, due_in=after_stuck
    )
    assert (await selection_of(client, fine.notice_id))["scheme"] == "none"
    assert stuck.deadline < fine.deadline  # the failing notice comes first in the scheduler's order
    await wait_until(fine.deadline)

    class Broken:
        """A beacon that fails in a way nobody foresaw (e.g. the garbage relay above)."""

        async def fetch(self, round_number: int) -> BeaconRound:
            raise RuntimeError("unforeseen")

    app.state.beacon = Broken()
    scheduler = Scheduler(db, context(app.state), interval=0.1)
    for _ in range(3):  # what Scheduler.run does: log the failure, try again
        try:
            await scheduler.run_once()
        except RuntimeError:
            pass
    assert (await selection_of(client, stuck.notice_id))["status"] == "open"  # its step rolled back
    assert (await selection_of(client, fine.notice_id))["status"] == "selected"
