"""The log's cosigners and co-signatures as the API and the pages show them, and each
entry type's name for people."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from market import protocol
from market.log.models import LogCosignature, LogCosigner
from market.log.service import signature_line
from market.protocol import cosign
from market.supervision.present import TYPE_LABELS, china_ts


def type_label(entry_type: str) -> str:
    """An entry type's label (a catalog message), as the supervisor's timeline names it
    (market/supervision/present.py, the one list); the type itself for one it does not know."""
    return TYPE_LABELS.get(entry_type, entry_type)


def logged_at(ts: Any) -> datetime | None:
    """An entry's ``ts`` (UTC, as written in the entry) as an aware time, or None."""
    try:
        return protocol.parse_ts(str(ts))
    except ValueError:
        return None


# What every log page's template uses to name and date entries.
ENTRY_WORDS: dict[str, Any] = {"type_label": type_label, "china_ts": china_ts}


def cosigner_public(row: LogCosigner) -> dict[str, Any]:
    key = bytes(row.public_key)
    return {
        "name": row.name,
        "key_id": bytes(row.key_id).hex(),
        "public_key": cosign.b64(key),
        "vkey": cosign.vkey(row.name, key),
        "registered_at": row.created_at.isoformat(),
    }


def cosignature_public(row: LogCosignature, signer: LogCosigner) -> dict[str, Any]:
    return {
        "size": row.size,
        "name": signer.name,
        "key_id": bytes(signer.key_id).hex(),
        "timestamp": row.timestamp,
        "line": signature_line(row, signer),
        "received_at": row.created_at.isoformat(),
    }
