"""The log over HTTP (MSP/1 section 4): checkpoint, key, entries, proofs."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from market.errors import DomainError, FieldError
from market.i18n import N_
from market.log import store

JSONL = "application/jsonl"
IMMUTABLE = "public, max-age=31536000, immutable"
FRESH = "public, max-age=2"


def bad_request(detail: str, field: str) -> DomainError:
    return DomainError(detail=detail, status=400, title=N_("Bad request"), errors=[FieldError(field, detail)])


class LogApi(Controller):
    path = "/api/v1/log"
    tags = ["log"]

    @get("/checkpoint", media_type=MediaType.TEXT, summary="The latest signed checkpoint (C2SP signed note)")
    async def checkpoint(self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]) -> Response[str]:
        row = await store.ensure_checkpoint(session, request.app.state.log_signer)
        return Response(row.note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": FRESH})

    @get("/key", media_type=MediaType.TEXT, summary="The verifier key of the checkpoints")
    async def key(self, request: Request[Any, Any, Any]) -> Response[str]:
        return Response(
            request.app.state.log_signer.verifier_key + "\n",
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @get("/entries", summary="Entries [start, end) as JSON lines, each exactly the stored bytes; at most 1000")
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

    @get("/proof/consistency", summary="Consistency proof from the tree of `first` entries to that of `second`")
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
