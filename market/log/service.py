"""The log's own state changes beyond appending: the witnesses' cosigner keys and their
co-signatures of checkpoints (C2SP tlog-cosignature v1, docs/witness.md), with their rules
and their SQL. The API and the pages parse, call these, and shape the answer."""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from market.core.i18n import N_
from market.halls.rules import PROVINCE
from market.log import store
from market.log.models import LogCheckpoint, LogCosignature, LogCosigner
from market.protocol import cosign

FUTURE_SLACK = 300  # seconds a cosigner's clock may run ahead of ours


def refuse(detail: str, field: str, **params: object) -> InvalidInput:
    exc = InvalidInput(detail, [FieldError(field, detail, dict(params))])
    exc.params = dict(params)
    return exc


def no_checkpoint(size: int) -> NotFound:
    missing = NotFound(N_("The log has no checkpoint of {size} entries."))
    missing.params = {"size": size}
    return missing


OUTSIDE = N_("This is outside your jurisdiction.")


def may_register_cosigner(who: AppUser | None) -> bool:
    """Province-level supervisors register the witnesses who co-sign the log's
    checkpoints: the log is the whole deployment's, not one hall's."""
    return who is not None and who.role == Role.supervisor and who.jurisdiction == PROVINCE


async def list_cosigners(session: AsyncSession) -> list[LogCosigner]:
    return list((await session.execute(sa.select(LogCosigner).order_by(col(LogCosigner.id)))).scalars())


async def register_cosigner(
    session: AsyncSession, *, user: AppUser, name: str, public_key: str, origin: str
) -> tuple[LogCosigner, bool]:
    if not may_register_cosigner(user):
        raise Forbidden(OUTSIDE)
    name = name.strip()
    try:
        cosign.check_name(name)
    except cosign.CosignatureError:
        raise refuse(
            N_(
                "A cosigner name is 1 to 200 letters, digits or signs, without spaces or “+”, such as supervisor.example.cn/witness."
            ),
            "name",
        ) from None
    if name == origin:
        raise refuse(N_("A cosigner name must not be the log's own origin."), "name")
    try:
        key = cosign.parse_public_key(public_key)
    except cosign.CosignatureError:
        raise refuse(
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
        raise refuse(
            N_("No cosigner key with the id {key_id} is registered here."), "cosignature", key_id=kid.hex()
        )
    if name is not None and name != cosigner.name:
        raise refuse(
            N_("The key {key_id} is registered under the name {name}, not this one."),
            "cosignature",
            key_id=kid.hex(),
            name=cosigner.name,
        )
    if timestamp > time.time() + FUTURE_SLACK:
        raise refuse(N_("The co-signature's time lies in the future."), "cosignature")
    body = cosign.checkpoint_body(checkpoint.note)
    if not cosign.verify(body, bytes(cosigner.public_key), timestamp, signature):
        raise refuse(
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
        .returning(col(LogCosignature.id))
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
