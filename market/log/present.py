"""The log's cosigners and co-signatures as the API and the pages show them."""

from __future__ import annotations

from typing import Any

from market.log.models import LogCosignature, LogCosigner
from market.log.service import signature_line
from market.protocol import cosign


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
