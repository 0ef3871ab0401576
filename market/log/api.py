"""The log over HTTP (MSP/1 section 4): checkpoint, key, entries, proofs; and the
witnesses' co-signatures of checkpoints (C2SP tlog-cosignature v1, docs/witness.md)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import Role
from market.accounts.session import load_viewer
from market.core.errors import DomainError, FieldError
from market.core.i18n import N_
from market.core.params import OptionalBigInt
from market.log import store
from market.log.present import cosignature_public, cosigner_public
from market.log.service import (
    add_cosignature,
    cosigned_note,
    list_cosigners,
    no_checkpoint,
    refuse,
    register_cosigner,
)
from market.protocol import cosign
from market.security.auth import requires_role
from market.web.openapi import problems

JSONL = "application/jsonl"
IMMUTABLE = "public, max-age=31536000, immutable"
FRESH = "public, max-age=2"


def bad_request(detail: str, field: str) -> DomainError:
    return DomainError(detail=detail, status=400, title=N_("Bad request"), errors=[FieldError(field, detail)])


class LogApi(Controller):
    path = "/api/v1/log"
    tags = ["log"]

    @get(
        "/checkpoint",
        media_type=MediaType.TEXT,
        summary="The latest signed checkpoint (C2SP signed note); with cosigned=1 the witnesses' co-signature lines follow the operator's",
    )
    async def checkpoint(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        cosigned: FromQuery[bool] = False,
    ) -> Response[str]:
        row = await store.ensure_checkpoint(session, request.app.state.log_signer)
        note = await cosigned_note(session, row) if cosigned else row.note
        return Response(note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": FRESH})

    @get("/key", media_type=MediaType.TEXT, summary="The verifier key of the checkpoints")
    async def key(self, request: Request[Any, Any, Any]) -> Response[str]:
        return Response(
            request.app.state.log_signer.verifier_key + "\n",
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @get(
        "/entries",
        media_type=JSONL,
        summary="Entries [start, end) as JSON lines, each exactly the stored bytes; at most 1000",
    )
    async def entries(
        self, session: NamedDependency[AsyncSession], start: FromQuery[int], end: FromQuery[int]
    ) -> Response[bytes]:
        size = await store.committed_size(session)
        if start < 0:
            raise bad_request("start must not be negative", "start")
        if end < start:
            raise bad_request("end must not be smaller than start", "end")
        if start > size:
            raise bad_request(f"start {start} is beyond the log, which has {size} entries", "start")
        stop = min(end, size, start + store.MAX_ENTRIES_PER_READ)
        rows = await store.read_entries(session, start, stop)
        body = b"".join(row + b"\n" for row in rows)
        # A full page never changes again; one cut short by the log's end will grow.
        complete = stop == end
        return Response(
            body,
            media_type=JSONL,
            headers={"Cache-Control": IMMUTABLE if complete else FRESH, "X-Log-Size": str(size)},
        )

    @get("/proof/inclusion", summary="Inclusion proof of entry `index` in the tree of `size` entries")
    async def inclusion(
        self, session: NamedDependency[AsyncSession], index: FromQuery[int], size: FromQuery[int]
    ) -> Response[dict[str, Any]]:
        log_size = await store.committed_size(session)
        if size < 1 or size > log_size:
            raise bad_request(f"size must be between 1 and the log's size {log_size}", "size")
        if not 0 <= index < size:
            raise bad_request("index must be at least 0 and smaller than size", "index")
        leaf, hashes = await store.inclusion_proof(session, index, size)
        body = {"index": index, "size": size, "leaf_hash": leaf.hex(), "hashes": [h.hex() for h in hashes]}
        return Response(body, headers={"Cache-Control": IMMUTABLE})

    @get(
        "/proof/consistency", summary="Consistency proof from the tree of `first` entries to that of `second`"
    )
    async def consistency(
        self, session: NamedDependency[AsyncSession], first: FromQuery[int], second: FromQuery[int]
    ) -> Response[dict[str, Any]]:
        log_size = await store.committed_size(session)
        if first < 0:
            raise bad_request("first must not be negative", "first")
        if first > second:
            raise bad_request("first must not exceed second", "first")
        if second > log_size:
            raise bad_request(f"second exceeds the log's size {log_size}", "second")
        hashes = await store.consistency_proof(session, first, second)
        body = {"first": first, "second": second, "hashes": [h.hex() for h in hashes]}
        return Response(body, headers={"Cache-Control": IMMUTABLE})

    # -- witnesses: cosigner keys and co-signatures (docs/witness.md) -------------------------

    @get("/cosigners", summary="The registered cosigner keys (C2SP tlog-cosignature v1, Ed25519)")
    async def cosigners(self, session: NamedDependency[AsyncSession]) -> list[dict[str, Any]]:
        return [cosigner_public(c) for c in await list_cosigners(session)]

    @post(
        "/cosigners",
        status_code=201,
        guards=[requires_role(Role.supervisor)],
        summary="A supervisor registers an Ed25519 public key of their own witness (idempotent)",
    )
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CosignerInput],
        session: NamedDependency[AsyncSession],
    ) -> Response[dict[str, Any]]:
        user = await load_viewer(request, session)
        row, created = await register_cosigner(
            session,
            user=user,
            name=data.name,
            public_key=data.public_key,
            origin=request.app.state.log_signer.origin,
        )
        return Response(cosigner_public(row), status_code=201 if created else 200)

    @post(
        "/cosignatures",
        status_code=201,
        summary="Submit a co-signature of the stored checkpoint of `size` entries by a registered key (idempotent)",
    )
    async def cosignature(
        self, data: JSONBody[CosignatureInput], session: NamedDependency[AsyncSession]
    ) -> Response[dict[str, Any]]:
        submitted = parse_submitted(data.cosignature)
        row, cosigner, created = await add_cosignature(session, size=data.size, submitted=submitted)
        return Response(cosignature_public(row, cosigner), status_code=201 if created else 200)

    @get(
        "/cosignatures",
        media_type=MediaType.TEXT,
        responses=problems(404),  # no checkpoint of that size
        summary="The checkpoint of `size` entries (default: the latest) with every co-signature line appended",
    )
    async def cosigned(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        size: FromQuery[OptionalBigInt] = None,
    ) -> Response[str]:
        if size is None:
            row = await store.ensure_checkpoint(session, request.app.state.log_signer)
        else:
            found = await store.checkpoint_at(session, size)
            if found is None:
                raise no_checkpoint(size)
            row = found
        return Response(
            await cosigned_note(session, row),
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": FRESH},
        )


# -- co-signatures: input -------------------------------------------------------------------


class CosignerInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=cosign.MAX_NAME)
    public_key: str = Field(min_length=1, max_length=100)


class CosignatureParts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_id: str = Field(min_length=8, max_length=8)  # hex
    timestamp: int = Field(ge=0, le=cosign.MAX_TIMESTAMP)
    signature: str = Field(min_length=1, max_length=200)  # base64 of the 64-byte Ed25519 signature


class CosignatureInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(ge=0)
    cosignature: str | CosignatureParts


def parse_submitted(value: str | CosignatureParts) -> tuple[str | None, bytes, int, bytes]:
    """(name or None, key id, timestamp, signature) of a submitted co-signature."""
    if isinstance(value, str):
        try:
            parsed = cosign.parse_line(value)
        except cosign.CosignatureError:
            raise refuse(
                N_("Send the co-signature line as “— <name> <base64(key id, timestamp, signature)>”."),
                "cosignature",
            ) from None
        return parsed.name, parsed.key_id, parsed.timestamp, parsed.signature
    try:
        kid = bytes.fromhex(value.key_id)
        signature = cosign.unb64(value.signature)
    except (ValueError, cosign.CosignatureError):
        raise refuse(
            N_("The key id is 8 hex digits and the signature the base64 of 64 bytes."), "cosignature"
        ) from None
    if len(kid) != 4 or len(signature) != 64:
        raise refuse(
            N_("The key id is 8 hex digits and the signature the base64 of 64 bytes."), "cosignature"
        )
    return None, kid, value.timestamp, signature
