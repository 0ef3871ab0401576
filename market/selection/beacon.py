"""The drand quicknet beacon: fetch a committed round from public relays and use it only
once its BLS signature verifies.

A relay is trusted for nothing: it can be down, slow, or answer with a forged round, and
each of those leaves the notice waiting (with the reason shown) rather than drawing with
anything else. There is no fall-back to scheme ``none``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from market import protocol

try:  # wheels exist for CPython 3.11 and 3.12; without it MARKET_BEACON=drand is refused
    import drand_verify
except ImportError:  # pragma: no cover - depends on the environment
    drand_verify = None

QUICKNET_CHAIN_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
TIMEOUT = 5.0
log = logging.getLogger("market.beacon")


@dataclass(frozen=True)
class BeaconRound:
    round: int
    signature: bytes

    @property
    def randomness(self) -> bytes:
        return protocol.beacon_value(self.signature)

    def as_entry(self) -> dict[str, object]:
        """The ``beacon`` field of ``selection.drawn``."""
        return {"round": self.round, "signature": self.signature.hex(), "randomness": self.randomness.hex()}


class BeaconUnavailable(Exception):
    """No verified round yet; ``reason`` is shown on the notice while it waits."""

    def __init__(self, reason: str, *, fault: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fault = fault  # a relay answered with something that did not verify


class Beacon(Protocol):
    async def fetch(self, round_number: int) -> BeaconRound: ...


def emitted_at(round_number: int) -> datetime:
    """When quicknet emits ``round_number``: genesis + (round - 1) * period."""
    return datetime.fromtimestamp(protocol.round_emitted_unix(round_number), tz=UTC)


def available() -> bool:
    """Whether drand rounds can be verified here (the package drand-verify is installed)."""
    return drand_verify is not None


def verify_round(round_number: int, signature_hex: str, randomness_hex: str | None = None) -> BeaconRound:
    """A relay's answer as a BeaconRound, or ValueError when the BLS signature does not
    verify for this round under the quicknet key (or the stated randomness is not the
    hash of the signature)."""
    if drand_verify is None:
        raise ValueError("the package drand-verify is not installed, so no round can be verified")
    try:
        signature = bytes.fromhex(signature_hex)
    except (TypeError, ValueError):
        raise ValueError("the signature is not hex") from None
    try:
        derived = drand_verify.verify_quicknet(round_number, signature_hex)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the BLS signature does not verify for round {round_number}: {exc}") from None
    result = BeaconRound(round=round_number, signature=signature)
    if derived != result.randomness.hex():
        raise ValueError("the randomness drand-verify derived is not the hash of the signature")
    if randomness_hex is not None and randomness_hex.lower() != result.randomness.hex():
        raise ValueError("the relay's randomness is not the hash of the signature")
    return result


class DrandRelays:
    """Asks each relay in turn for ``GET {relay}/{chain_hash}/public/{round}``."""

    def __init__(self, relays: tuple[str, ...], *, timeout: float = TIMEOUT) -> None:
        self.relays = relays
        self.timeout = timeout
        self._tls: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        # Made once: urlopen would otherwise load the system's certificates for every
        # request, tens of milliseconds of CPU each, and the scheduler asks again for every
        # notice that waits on the beacon (half a core while the relays were unreachable).
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _get(self, url: str) -> tuple[int, bytes]:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": "market-drand/1"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._context()) as response:
                return int(response.status), bytes(response.read(64 * 1024))
        except urllib.error.HTTPError as exc:
            return exc.code, b""

    async def fetch(self, round_number: int) -> BeaconRound:
        if datetime.now(UTC) < emitted_at(round_number):
            raise BeaconUnavailable(
                f"drand quicknet round {round_number} is not emitted until {emitted_at(round_number).isoformat()}"
            )
        reasons: list[str] = []
        fault = False
        for relay in self.relays:
            url = f"{relay}/{QUICKNET_CHAIN_HASH}/public/{round_number}"
            try:
                status, body = await asyncio.to_thread(self._get, url)
            except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as exc:
                reasons.append(f"{relay}: unreachable ({getattr(exc, 'reason', exc)})")
                continue
            if status != 200:
                reasons.append(f"{relay}: HTTP {status}")
                continue
            try:
                answer = json.loads(body)
                if answer.get("round") != round_number:
                    raise ValueError(f"answered round {answer.get('round')!r} instead")
                return verify_round(round_number, str(answer["signature"]), answer.get("randomness"))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                # A forged or garbled round is a fault worth an operator's attention: it is
                # logged and refused, and the next relay is asked.
                fault = True
                log.warning("drand relay %s served a round %s that was refused: %s", relay, round_number, exc)
                reasons.append(f"{relay}: refused ({exc})")
        raise BeaconUnavailable("; ".join(reasons) or "no relay configured", fault=fault)
