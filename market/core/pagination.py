"""Opaque cursors for list endpoints (api-v1.md: ``cursor`` and ``limit``, at most 100)."""

from __future__ import annotations

import base64
import json

from market.core.errors import FieldError, InvalidInput
from market.core.i18n import N_

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a page starts after; a cursor that is not ours is bad input, not a 500."""
    if not cursor:
        return None
    bad = InvalidInput(
        N_("The cursor is not valid"), [FieldError("cursor", N_("This is not a cursor this server issued."))]
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (ValueError, KeyError, TypeError):
        raise bad from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad
    return value


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            N_("limit must be between 1 and {max}"),
            [FieldError("limit", N_("Between 1 and {max}."), {"max": MAX_LIMIT})],
            {"max": MAX_LIMIT},
        )
    return limit
