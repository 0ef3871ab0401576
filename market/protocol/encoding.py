"""MSP canonical JSON, hashing primitives and the one spelling of time (sections 1 and 3 of
docs/protocol/msp.md), and the protocol versions. Pure: see ``market.protocol``."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Final

# The protocol version new entries carry (``v``). MSP/1 entries stay valid for ever and are
# checked by MSP/1's rules; a notice's entries all carry its notice.published's version.
VERSION: Final = 2
VERSIONS: Final = (1, 2)

# ---------------------------------------------------------------------------------------
# Canonical JSON
# ---------------------------------------------------------------------------------------

# JSON numbers are IEEE doubles in most readers (JavaScript among them): beyond 2^53 two
# programs could read the same digits as different integers, so such values never enter.
MAX_SAFE_INTEGER: Final = 2**53 - 1

JSONValue = dict[str, Any] | list[Any] | str | int | bool | None


class CanonicalJSONError(ValueError):
    """A value that has no canonical JSON form under MSP/1, or bytes that are not one."""


def _child_path(path: str, key: str) -> str:
    # Plain keys read as `$.a.b`; anything else is quoted so the path stays unambiguous.
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _check_canonical(value: object, path: str) -> None:
    """Refuse, naming where it sits, anything that json.dumps would emit differently from
    RFC 8785 or that another reader could read back differently."""
    # bool before int: bool is a subclass of int, and true/false are fine as they are.
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(
                f"{path}: integer {value} is outside ±(2^53 - 1); "
                "canonical JSON readers may not read it back exactly"
            )
        return
    if isinstance(value, str):
        # A lone surrogate cannot be encoded as UTF-8, and ensure_ascii=False would
        # otherwise pass it through to a failing encode without saying where it was.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CanonicalJSONError(f"{path}: string holds a lone surrogate") from None
        return
    if isinstance(value, float):
        # Floats have no single decimal spelling across languages; money is integer fen.
        raise CanonicalJSONError(f"{path}: floats are not allowed ({value!r})")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(
                    f"{path}: object key {key!r} is a {type(key).__name__}, not a string"
                )
            # sort_keys orders by code point, RFC 8785 by UTF-16 unit: they agree only
            # on ASCII, so non-ASCII keys are refused rather than sorted two ways.
            if not key.isascii():
                raise CanonicalJSONError(f"{path}: object key {key!r} is not ASCII")
            _check_canonical(item, _child_path(path, key))
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_canonical(item, f"{path}[{index}]")
        return
    # Tuples, sets, datetimes, Decimals...: the caller converts them explicitly, so the
    # bytes never depend on how json.dumps happens to treat a type.
    raise CanonicalJSONError(f"{path}: values of type {type(value).__name__} are not allowed")


def canonical_json(value: JSONValue) -> bytes:
    """The canonical JSON bytes of ``value`` (section 1): RFC 8785 on the restricted data
    model, which for it is exactly sorted keys, no spaces, UTF-8 without escapes."""
    _check_canonical(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _refuse_float(text: str) -> Any:
    raise CanonicalJSONError(f"non-integer number {text} in canonical JSON")


def _refuse_constant(text: str) -> Any:
    raise CanonicalJSONError(f"{text} is not JSON")


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Parse one canonical JSON object, refusing bytes that are not exactly its canonical
    form (so that a stored entry has one spelling and one hash)."""
    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_constant)
    except CanonicalJSONError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CanonicalJSONError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CanonicalJSONError(f"expected a JSON object, got {type(value).__name__}")
    # Re-encoding catches everything else at once: spaces, key order, duplicate keys,
    # escapes such as \u00e9 or \/, and integers spelled 1e3 or -0.
    if canonical_json(value) != data:
        raise CanonicalJSONError("JSON is valid but not in canonical form")
    return value


# ---------------------------------------------------------------------------------------
# Primitives (section 1)
# ---------------------------------------------------------------------------------------

U64_LIMIT: Final = 2**64
_U32_LIMIT: Final = 2**32
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def H(x: bytes) -> bytes:
    """SHA-256."""
    return hashlib.sha256(x).digest()


def sha256_hex(x: bytes) -> str:
    return hashlib.sha256(x).hexdigest()


def u32be(n: int) -> bytes:
    if not 0 <= n < _U32_LIMIT:
        raise ValueError(f"{n} does not fit in an unsigned 32-bit integer")
    return n.to_bytes(4, "big")


def U64(n: int) -> bytes:
    if not 0 <= n < U64_LIMIT:
        raise ValueError(f"{n} does not fit in an unsigned 64-bit integer")
    return n.to_bytes(8, "big")


def LP(x: bytes | str) -> bytes:
    """Length-prefixed bytes: without the prefix, ("ab", "c") and ("a", "bc") would hash
    alike."""
    data = x.encode("utf-8") if isinstance(x, str) else x
    return u32be(len(data)) + data


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a public identifier (section 1), else raise ValueError."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not an id ([A-Za-z0-9._:-]{{1,64}})")
    return value


def check_digest(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ValueError(f"{what} must be 32 raw bytes")
    return value


# ---------------------------------------------------------------------------------------
# Time (section 1): one spelling, so that entries holding times hash the same everywhere
# ---------------------------------------------------------------------------------------

_TS_PATTERN: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z"
)


def format_ts(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC. Naive datetimes are refused: guessing their
    zone would put a wrong time into a log that is never corrected in place."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: give a timezone-aware one")
    u = dt.astimezone(UTC)
    # Spelled out instead of strftime, whose %Y does not pad years below 1000 on glibc.
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}"
        f"T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"
    )


def parse_ts(s: str) -> datetime:
    """The aware UTC datetime that ``s`` spells; anything but the exact format is refused."""
    match = _TS_PATTERN.fullmatch(s) if isinstance(s, str) else None
    if match is None:
        raise ValueError(f"{s!r} is not a time of the form YYYY-MM-DDTHH:MM:SS.ffffffZ")
    year, month, day, hour, minute, second, micro = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError as exc:  # 2026-02-30, 25:00 and the like
        raise ValueError(f"{s!r} is not a valid time: {exc}") from None


def deadline_unix(dt: datetime) -> int:
    """A deadline as whole Unix seconds, rounded up so that the beacon round chosen from it
    is never emitted less than an hour after the real deadline."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: give a timezone-aware one")
    delta = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    whole = delta.days * 86400 + delta.seconds
    return whole + (1 if delta.microseconds else 0)
