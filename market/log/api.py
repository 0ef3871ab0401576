"""The log over HTTP (MSP/1 section 4): checkpoint, key, entries, proofs; and the
witnesses' co-signatures of checkpoints (C2SP tlog-cosignature v1, docs/witness.md)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer
from market.core.errors import Conflict, DomainError, FieldError, InvalidInput, NotFound
from market.core.i18n import N_
from market.core.params import OptionalBigInt
from market.log import cosign, store
from market.log.models import LogCheckpoint, LogCosignature, LogCosigner
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


# -- co-signatures: input, checks and storage -------------------------------------------------

FUTURE_SLACK = 300  # seconds a cosigner's clock may run ahead of ours


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


def _refuse(detail: str, field: str, **params: object) -> InvalidInput:
    exc = InvalidInput(detail, [FieldError(field, detail, dict(params))])
    exc.params = dict(params)
    return exc


def no_checkpoint(size: int) -> NotFound:
    missing = NotFound(N_("The log has no checkpoint of {size} entries."))
    missing.params = {"size": size}
    return missing


def parse_submitted(value: str | CosignatureParts) -> tuple[str | None, bytes, int, bytes]:
    """(name or None, key id, timestamp, signature) of a submitted co-signature."""
    if isinstance(value, str):
        try:
            parsed = cosign.parse_line(value)
        except cosign.CosignatureError:
            raise _refuse(
                N_("Send the co-signature line as “— <name> <base64(key id, timestamp, signature)>”."),
                "cosignature",
            ) from None
        return parsed.name, parsed.key_id, parsed.timestamp, parsed.signature
    try:
        kid = bytes.fromhex(value.key_id)
        signature = cosign.unb64(value.signature)
    except (ValueError, cosign.CosignatureError):
        raise _refuse(
            N_("The key id is 8 hex digits and the signature the base64 of 64 bytes."), "cosignature"
        ) from None
    if len(kid) != 4 or len(signature) != 64:
        raise _refuse(
            N_("The key id is 8 hex digits and the signature the base64 of 64 bytes."), "cosignature"
        )
    return None, kid, value.timestamp, signature


async def list_cosigners(session: AsyncSession) -> list[LogCosigner]:
    return list((await session.execute(sa.select(LogCosigner).order_by(col(LogCosigner.id)))).scalars())


async def register_cosigner(
    session: AsyncSession, *, user: AppUser, name: str, public_key: str, origin: str
) -> tuple[LogCosigner, bool]:
    name = name.strip()
    try:
        cosign.check_name(name)
    except cosign.CosignatureError:
        raise _refuse(
            N_(
                "A cosigner name is 1 to 200 letters, digits or signs, without spaces or “+”, such as supervisor.example.cn/witness."
            ),
            "name",
        ) from None
    if name == origin:
        raise _refuse(N_("A cosigner name must not be the log's own origin."), "name")
    try:
        key = cosign.parse_public_key(public_key)
    except cosign.CosignatureError:
        raise _refuse(
            N_("The public key is the base64 of 32 bytes: a raw Ed25519 public key."), "public_key"
        ) from None
    kid = cosign.key_id(name, key)
    existing = (
        await session.execute(sa.select(LogCosigner).where(col(LogCosigner.key_id) == kid))
    ).scalar_one_or_none()
    if existing is not None:
        if existing.user_id == user.id and bytes(existing.public_key) == key and existing.name == name:
            return existing, False
        raise Conflict(
            N_("This key is already registered."),
            [FieldError("public_key", N_("This key is already registered."))],
        )
    row = LogCosigner(user_id=user.id, name=name, public_key=key, key_id=kid)  # type: ignore[arg-type]
    session.add(row)
    await session.flush()
    return row, True


async def add_cosignature(
    session: AsyncSession, *, size: int, submitted: tuple[str | None, bytes, int, bytes]
) -> tuple[LogCosignature, LogCosigner, bool]:
    name, kid, timestamp, signature = submitted
    checkpoint = await store.checkpoint_at(session, size)
    if checkpoint is None:
        raise no_checkpoint(size)
    cosigner = (
        await session.execute(sa.select(LogCosigner).where(col(LogCosigner.key_id) == kid))
    ).scalar_one_or_none()
    if cosigner is None:
        raise _refuse(
            N_("No cosigner key with the id {key_id} is registered here."), "cosignature", key_id=kid.hex()
        )
    if name is not None and name != cosigner.name:
        raise _refuse(
            N_("The key {key_id} is registered under the name {name}, not this one."),
            "cosignature",
            key_id=kid.hex(),
            name=cosigner.name,
        )
    if timestamp > time.time() + FUTURE_SLACK:
        raise _refuse(N_("The co-signature's time lies in the future."), "cosignature")
    body = cosign.checkpoint_body(checkpoint.note)
    if not cosign.verify(body, bytes(cosigner.public_key), timestamp, signature):
        raise _refuse(
            N_("The co-signature does not verify over the checkpoint of {size} entries."),
            "cosignature",
            size=size,
        )
    assert cosigner.id is not None
    result = await session.execute(
        pg_insert(LogCosignature)
        .values(
            size=size,
            cosigner_id=cosigner.id,
            timestamp=timestamp,
            signature=signature,
            created_at=sa.func.now(),
        )
        .on_conflict_do_nothing(index_elements=["size", "cosigner_id"])
        .returning(LogCosignature.id)
    )
    created = result.scalar_one_or_none() is not None
    row = (
        await session.execute(
            sa.select(LogCosignature).where(
                col(LogCosignature.size) == size, col(LogCosignature.cosigner_id) == cosigner.id
            )
        )
    ).scalar_one()
    return row, cosigner, created


async def cosignatures_for(
    session: AsyncSession, sizes: list[int]
) -> dict[int, list[tuple[LogCosignature, LogCosigner]]]:
    out: dict[int, list[tuple[LogCosignature, LogCosigner]]] = {size: [] for size in sizes}
    if not sizes:
        return out
    rows = await session.execute(
        sa.select(LogCosignature, LogCosigner)
        .join(LogCosigner, col(LogCosigner.id) == LogCosignature.cosigner_id)
        .where(LogCosignature.size.in_(sizes))  # type: ignore[attr-defined]
        .order_by(col(LogCosignature.size), col(LogCosignature.id))
    )
    for sig, signer in rows.tuples():
        out[sig.size].append((sig, signer))
    return out


def signature_line(sig: LogCosignature, signer: LogCosigner) -> str:
    return cosign.signature_line(signer.name, bytes(signer.key_id), sig.timestamp, bytes(sig.signature))


MAX_COSIGNATURE_LINES = 99  # a signed note carries at most 100 signatures (as Go's note package)


async def cosigned_note(session: AsyncSession, checkpoint: LogCheckpoint) -> str:
    """The operator's signed note with every stored co-signature line after its own."""
    pairs = (await cosignatures_for(session, [checkpoint.size]))[checkpoint.size][:MAX_COSIGNATURE_LINES]
    return cosign.append(checkpoint.note, [signature_line(sig, signer) for sig, signer in pairs])


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
