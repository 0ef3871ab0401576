"""Checking an MSP/2 bid receipt against a server, as the bidder would (``market receipt
check FILE --url URL``): the receipt is the marketplace's signature, the log holds the
sealed entry it names, the entry's commitment opens with the receipt's salt to the bidder's
own document, the entry is in the signed tree, and once bidding has ended the notice's
closing (or cancellation) opened exactly this bid (docs/protocol/msp.md section 6).

Needs only the standard library, ``cryptography`` and ``protocol``: a bidder checks the
marketplace with nothing of the marketplace's but its public endpoints.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from market import protocol
from market.protocol import entry_types

RECEIPT_FORMAT = "market-bid-receipt/2"
CLAIMS = ("v", "notice_id", "bid_id", "agency_id", "commitment", "salt", "seq", "leaf_hash")


class CheckError(Exception):
    """The server could not be read."""


@dataclass
class ReceiptReport:
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    opened_in: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def human(self) -> str:
        lines = [f"  ok    {c}" for c in self.checks]
        lines += [f"  FAIL  {p}" for p in self.problems]
        lines += [f"  note  {n}" for n in self.notes]
        lines.append("RECEIPT VERIFIED" if self.ok else f"RECEIPT FAILED ({len(self.problems)} problem(s))")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": self.checks,
            "problems": self.problems,
            "notes": self.notes,
            "opened_in": self.opened_in,
        }


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_es256(token: str, jwk: dict[str, Any]) -> dict[str, Any] | None:
    """The claims of a compact JWS signed with ES256 under ``jwk``, or None. Only ES256 is
    accepted, whatever the header says."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_unb64url(header_b64))
        if not isinstance(header, dict) or header.get("alg") != "ES256":
            return None
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            return None
        x = int.from_bytes(_unb64url(str(jwk["x"])), "big")
        y = int.from_bytes(_unb64url(str(jwk["y"])), "big")
        key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        raw = _unb64url(signature_b64)
        if len(raw) != 64:
            return None
        signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(_unb64url(payload_b64))
    except (ValueError, KeyError, TypeError, binascii.Error, InvalidSignature):
        return None
    return claims if isinstance(claims, dict) else None


class Server:
    """The public endpoints a receipt check reads."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str, **params: Any) -> bytes:
        url = f"{self.base}{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raise CheckError(f"GET {url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CheckError(f"GET {url}: {exc}") from None

    def json(self, path: str, **params: Any) -> Any:
        return json.loads(self.get(path, **params))

    def entry(self, seq: int) -> bytes:
        lines = self.get("/api/v1/log/entries", start=seq, end=seq + 1).split(b"\n")
        if not lines or not lines[0]:
            raise CheckError(f"the server has no entry {seq}")
        return lines[0]


def check_receipt(data: dict[str, Any], server: Server) -> ReceiptReport:
    report = ReceiptReport()
    try:
        _check(data, server, report)
    except CheckError as exc:
        report.problems.append(f"could not read the server: {exc}")
    return report


def _check(data: dict[str, Any], server: Server, report: ReceiptReport) -> None:
    if data.get("format") != RECEIPT_FORMAT:
        report.problems.append(
            f"not a receipt file of format {RECEIPT_FORMAT} (format {data.get('format')!r})"
        )
        return
    claims = verify_es256(str(data.get("receipt", "")), server.json("/api/v1/log/receipt-key"))
    if claims is None or any(c not in claims for c in CLAIMS) or claims.get("v") != 2:
        report.problems.append(
            "the receipt does not verify under the server's receipt key (/api/v1/log/receipt-key)"
        )
        return
    report.checks.append("the receipt's signature verifies under the server's receipt key")
    notice_id, bid_id, seq = claims["notice_id"], claims["bid_id"], claims["seq"]
    # The bidder's own document, opened by the receipt's salt: this is the commitment the log must hold.
    document = str(data.get("document", "")).encode("utf-8")
    try:
        doc = protocol.parse_canonical(document)
        salt = bytes.fromhex(claims["salt"])
        commitment = protocol.bid_commitment(salt, document).hex()
    except (ValueError, protocol.CanonicalJSONError) as exc:
        report.problems.append(f"the bid document or salt in the file is malformed: {exc}")
        return
    wanted = {"notice_id": notice_id, "bid_id": bid_id, "agency_id": claims["agency_id"]}
    if any(doc.get(k) != v for k, v in wanted.items()):
        report.problems.append("the bid document does not name the receipt's notice, bid and agency")
    if commitment != claims["commitment"]:
        report.problems.append("the salt and document do not open the receipt's commitment")
        return
    report.checks.append(f"the salt opens the commitment to your bid document ({_price(doc)})")

    raw = server.entry(seq)
    if protocol.leaf_hash(raw).hex() != claims["leaf_hash"]:
        report.problems.append(f"entry {seq} is not the entry the receipt names (its leaf hash differs)")
        return
    entry = json.loads(raw)
    if entry.get("type") != entry_types.BID_SEALED or entry.get("commitment") != commitment:
        report.problems.append(f"entry {seq} is not a bid.sealed entry with your commitment")
        return
    report.checks.append(f"entry {seq} of the log is your sealed bid, and names nothing but its commitment")

    key = server.get("/api/v1/log/key").decode("utf-8").strip()
    try:
        _, size, root = protocol.open_checkpoint(server.get("/api/v1/log/checkpoint").decode("utf-8"), key)
    except (ValueError, protocol.NoteError) as exc:
        report.problems.append(f"the server's checkpoint does not verify: {exc}")
        return
    if size <= seq:
        report.notes.append(
            f"the latest checkpoint ({size} entries) does not cover entry {seq} yet; try again in a few seconds"
        )
    else:
        proof = server.json("/api/v1/log/proof/inclusion", index=seq, size=size)
        hashes = [bytes.fromhex(h) for h in proof.get("hashes", [])]
        if not protocol.verify_inclusion(bytes.fromhex(claims["leaf_hash"]), seq, size, hashes, root):
            report.problems.append(f"entry {seq} is not in the signed tree of {size} entries")
            return
        report.checks.append(
            f"entry {seq} is in the signed tree of {size} entries (inclusion proof verified)"
        )
    _check_opening(server, report, notice_id=notice_id, bid_id=bid_id, seq=seq, salt=claims["salt"], doc=doc)


def _price(doc: dict[str, Any]) -> str:
    price = doc.get("price_fen")
    return "no price: a lottery bid" if price is None else f"price {price} fen"


def _check_opening(
    server: Server,
    report: ReceiptReport,
    *,
    notice_id: str,
    bid_id: str,
    seq: int,
    salt: str,
    doc: dict[str, Any],
) -> None:
    record = server.json(f"/api/v1/notices/{urllib.parse.quote(notice_id)}/selection")
    seqs = record.get("seqs") or {}
    ending = seqs.get("closed") if seqs.get("closed") is not None else seqs.get("cancelled")
    if ending is None:
        report.notes.append(
            "bidding has not ended: the bid stays sealed until the notice closes or is cancelled"
        )
        return
    entry = json.loads(server.entry(int(ending)))
    openings = entry.get("openings")
    if not isinstance(openings, list):
        report.problems.append(f"entry {ending} ends the bidding but opens no bids")
        return
    mine = [
        o
        for o in openings
        if isinstance(o, dict) and isinstance(o.get("bid"), dict) and o["bid"].get("bid_id") == bid_id
    ]
    if (
        len(mine) != 1
        or mine[0].get("seq") != seq
        or mine[0].get("salt") != salt
        or mine[0].get("bid") != doc
    ):
        report.problems.append(
            f"your bid (entry {seq}) was not opened by entry {ending}, which ended the bidding: it was left out or altered"
        )
        return
    report.opened_in = int(ending)
    withdrawn = mine[0].get("withdrawn")
    state = f"withdrawn in entry {withdrawn.get('seq')}" if isinstance(withdrawn, dict) else "standing"
    report.checks.append(f"opened in entry {ending} as you placed it ({state})")


def main(path: str, url: str, *, as_json: bool = False) -> int:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    report = check_receipt(data if isinstance(data, dict) else {}, Server(url))
    print(json.dumps(report.as_dict(), indent=2) if as_json else report.human())
    return 0 if report.ok else 1
