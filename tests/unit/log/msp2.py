"""Hand-built MSP/2 logs for the verifier's tests: one log that several notices write into,
in time order, with the protocol's own functions, as the server writes them (sealed bid
entries that name nothing, openings at the close or the cancellation). A notice may also
follow MSP/1 (``version=1``), as one open at the upgrade does."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from market import protocol
from market.protocol import tlock

START = "2026-11-01T09:00:00.000000Z"
DEADLINE = "2026-11-08T09:00:00.000000Z"
# The deadline whose tlock round is 657413 (MSP/1 section 6, V3: a recorded quicknet round).
V3_ROUND = 657413
V3_SIGNATURE = (
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
)
TLOCK_DEADLINE = protocol.format_ts(
    datetime.fromtimestamp(protocol.QUICKNET_GENESIS + (V3_ROUND - 1) * protocol.QUICKNET_PERIOD, tz=UTC)
)


def ts_after(ts: str, **delta: float) -> str:
    return protocol.format_ts(protocol.parse_ts(ts) + timedelta(**delta))


def seal(plaintext: bytes, round_number: int, randomness: bytes) -> str:
    """A tlock field of ``plaintext`` to ``round_number``, with the file key, sigma and
    nonce derived from ``randomness``. Without the pairing library, 704 bytes that only look
    like one (that verifier cannot open them: it checks their form)."""
    derived = hashlib.sha512(b"tlock test randomness" + randomness).digest()
    if not tlock.available():
        return base64.b64encode(
            (derived * 11)[: tlock.STANZA_BODY_BYTES + tlock.MAC_BYTES + 16 + len(plaintext) + 16]
        ).decode()
    return tlock._seal_with(plaintext, round_number, derived[:16], derived[16:32], derived[32:48])


def salt_of(*parts: str) -> bytes:
    """A fixed salt per bid (tests are deterministic; the server draws 32 random bytes)."""
    return hashlib.sha256("salt/".join(parts).encode()).digest()


class Log:
    """The entries of one log, appended in order, each a minute after the one before
    unless a time is given."""

    def __init__(self, start: str = START) -> None:
        self.entries: list[dict[str, Any]] = []
        self.clock = protocol.parse_ts(start)

    def add(self, type_: str, *, v: int = 2, ts: str | None = None, **fields: Any) -> dict[str, Any]:
        if ts is None:
            self.clock += timedelta(minutes=1)
            ts = protocol.format_ts(self.clock)
        else:
            self.clock = max(self.clock, protocol.parse_ts(ts))
        entry = {**fields, "v": v, "seq": len(self.entries), "type": type_, "ts": ts}
        self.entries.append(entry)
        return entry

    def at(self, ts: str) -> Log:
        """Move the clock to ``ts`` (the next entry comes a minute later)."""
        self.clock = protocol.parse_ts(ts)
        return self

    def other(self, ts: str | None = None) -> dict[str, Any]:
        """Something else the marketplace logs, naming no notice."""
        return self.add("agency.approved", ts=ts, agency_id="AG-999")

    def raw(self) -> list[bytes]:
        return [protocol.canonical_json(e) for e in self.entries]

    def of(self, type_: str, notice_id: str | None = None) -> dict[str, Any]:
        return next(
            e
            for e in self.entries
            if e["type"] == type_ and (notice_id is None or e.get("notice_id") == notice_id)
        )


class Notice:
    """One notice's story, written into ``log``."""

    def __init__(
        self,
        log: Log,
        notice_id: str,
        *,
        method: str = "lottery",
        k: int = 1,
        min_candidates: int = 2,
        deadline: str = DEADLINE,
        sealing: str = "server",
        version: int = 2,
    ) -> None:
        self.log, self.notice_id, self.method, self.k, self.min_candidates = (
            log,
            notice_id,
            method,
            k,
            min_candidates,
        )
        self.deadline, self.sealing, self.version = deadline, sealing, version
        self.secret = hashlib.sha256(b"secret " + notice_id.encode()).digest()
        self.bid_counter = 0
        # bid_id -> {"doc": bytes, "salt", "seq", "commitment", "withdrawn": (salt, seq) | None, "agency"}
        self.bids: dict[str, dict[str, Any]] = {}
        self.standing: dict[str, str] = {}  # agency -> bid_id
        self.candidates: list[tuple[str, int]] = []
        self.winners: list[str] = []

    def add(self, type_: str, **fields: Any) -> dict[str, Any]:
        return self.log.add(type_, v=self.version, notice_id=self.notice_id, **fields)

    def publish(self, ts: str | None = None) -> Notice:
        fields: dict[str, Any] = {
            "method": self.method,
            "winners": self.k,
            "min_candidates": self.min_candidates,
            "bid_deadline": self.deadline,
            "terms_sha256": protocol.sha256_hex(b'{"title":"t"}'),
            "commit": protocol.commitment(self.notice_id, self.secret).hex(),
            "scheme": "none",
        }
        if self.version == 2:
            fields["sealing"] = self.sealing
        self.log.add("notice.published", v=self.version, ts=ts, notice_id=self.notice_id, **fields)
        return self

    def amend(self, deadline: str) -> Notice:
        self.deadline = deadline
        self.add(
            "notice.amended",
            terms_sha256=protocol.sha256_hex(b'{"title":"t2"}'),
            bid_deadline=deadline,
            scheme="none",
        )
        return self

    def bid(self, agency_id: str, price: int | None = None, *, ts: str | None = None) -> str:
        self.bid_counter += 1
        bid_id = f"B-{self.notice_id[2:]}-{self.bid_counter:03d}"
        self.standing[agency_id] = bid_id
        if self.version == 1:
            doc = protocol.bid_document(self.notice_id, bid_id, agency_id, price, f"{self.bid_counter:032x}")
            self.bids[bid_id] = {"doc": doc, "agency": agency_id, "withdrawn": None}
            self.add("bid.accepted", bid_id=bid_id, agency_id=agency_id, bid_sha256=protocol.bid_sha256(doc))
            return bid_id
        doc = protocol.bid_document_v2(self.notice_id, bid_id, agency_id, price)
        salt = salt_of(self.notice_id, bid_id)
        commitment = protocol.bid_commitment(salt, doc)
        entry = self.log.add(
            "bid.sealed", ts=ts, commitment=commitment.hex(), **self._tlock(salt, document=doc)
        )
        self.bids[bid_id] = {
            "doc": doc,
            "salt": salt,
            "seq": entry["seq"],
            "commitment": commitment,
            "withdrawn": None,
            "agency": agency_id,
        }
        return bid_id

    @property
    def tlock_round(self) -> int:
        """The round the notice's sealed entries are timelocked to (657413 for TLOCK_DEADLINE)."""
        return protocol.tlock_round(protocol.deadline_unix(protocol.parse_ts(self.deadline)))

    def _tlock(self, salt: bytes, **what: bytes) -> dict[str, str]:
        """For a tlock notice, the real ciphertext of the entry's timelock plaintext, sealed
        with fixed randomness (derived from the salt: the log is the same run after run)."""
        if self.sealing != "tlock":
            return {}
        return {"tlock": seal(protocol.tlock_plaintext(salt, **what), self.tlock_round, salt)}

    def withdraw(self, agency_id: str, *, ts: str | None = None) -> None:
        bid_id = self.standing.pop(agency_id)
        bid = self.bids[bid_id]
        if self.version == 1:
            bid["withdrawn"] = True
            self.add("bid.withdrawn", bid_id=bid_id, agency_id=agency_id)
            return
        salt = salt_of(self.notice_id, bid_id, "withdrawal")
        commitment = protocol.withdrawal_commitment(salt, bid["commitment"]).hex()
        entry = self.log.add(
            "bid.sealed", ts=ts, commitment=commitment, **self._tlock(salt, withdraws=bid["commitment"])
        )
        bid["withdrawn"] = (salt, entry["seq"])

    def openings(self, leave_out: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return [
            protocol.opening(bid["doc"], bid["salt"], bid["seq"], bid["withdrawn"])
            for bid_id, bid in sorted(self.bids.items())
            if bid_id not in leave_out
        ]

    def close(
        self,
        *,
        excluded: dict[str, str] | None = None,
        leave_out: tuple[str, ...] = (),
        ts: str | None = None,
    ) -> Notice:
        excluded = excluded or {}
        if ts is None and self.log.clock < protocol.parse_ts(self.deadline):
            self.log.at(self.deadline)
        self.candidates = protocol.canonical_candidates([(a, 1) for a in self.standing if a not in excluded])
        fields: dict[str, Any] = {
            "secret": self.secret.hex(),
            "candidates": [[a, w] for a, w in self.candidates],
            "excluded": [{"agency_id": a, "reason": r} for a, r in sorted(excluded.items())],
            "eligible": protocol.eligible_digest(self.candidates).hex(),
        }
        if self.version == 1:
            fields["bids"] = sorted(
                (json.loads(self.bids[b]["doc"]) for b in self.standing.values()), key=lambda d: d["bid_id"]
            )
        else:
            fields["openings"] = self.openings(leave_out)
            if self.sealing == "tlock":
                fields["tlock"] = {"round": V3_ROUND, "signature": V3_SIGNATURE}
        self.log.add("bidding.closed", v=self.version, ts=ts, notice_id=self.notice_id, **fields)
        return self

    def draw(self) -> Notice:
        eligible = protocol.eligible_digest(self.candidates)
        seed = protocol.seed(self.notice_id, 1, self.secret, eligible, "none", b"")
        order = protocol.draw_order(seed, self.candidates)
        prices = None
        if self.method == "lowest_price":
            prices = {
                json.loads(self.bids[b]["doc"])["agency_id"]: json.loads(self.bids[b]["doc"])["price_fen"]
                for b in self.standing.values()
            }
        ranking = protocol.rank(self.method, order, prices)
        self.winners, alternates = protocol.split_winners(ranking, self.k)
        self.add(
            "selection.drawn",
            attempt=1,
            scheme="none",
            beacon=None,
            seed=seed.hex(),
            order=order,
            ranking=ranking,
            winners=self.winners,
            alternates=alternates,
        )
        return self

    def final(self) -> Notice:
        self.add("award.final", winners=self.winners)
        return self

    def cancel(self, *, leave_out: tuple[str, ...] | None = None) -> Notice:
        """Cancelled before the deadline; ``leave_out``: the bids it does not open (all of
        them with ``leave_out=None`` and opening none with ``open_none``)."""
        fields: dict[str, Any] = {"reason": "budget withdrawn"}
        if self.version == 2:
            fields["openings"] = self.openings(leave_out or ())
        self.add("notice.cancelled", **fields)
        return self

    def cancel_opening_none(self) -> Notice:
        self.add("notice.cancelled", reason="budget withdrawn", openings=[])
        return self

    def cancel_tlock(self) -> Notice:
        """A tlock notice cancelled before its deadline: nobody can open its bids yet."""
        self.add("notice.cancelled", reason="budget withdrawn", openings=None)
        return self

    def bids_opened(self, *, leave_out: tuple[str, ...] = (), ts: str | None = None) -> Notice:
        """The bids of a cancelled tlock notice, opened once the deadline's round is out."""
        if ts is None and self.log.clock < protocol.parse_ts(self.deadline):
            self.log.at(self.deadline)
        self.log.add(
            "bids.opened",
            ts=ts,
            notice_id=self.notice_id,
            openings=self.openings(leave_out),
            tlock={"round": V3_ROUND, "signature": V3_SIGNATURE},
        )
        return self
