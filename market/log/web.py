"""The public log pages: the audit log with its latest checkpoint and who co-signed it,
one entry with its inclusion proof, how to verify it all without trusting this server, and
how to witness and co-sign it (with the supervisors' key registration)."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market import protocol
from market.accounts.models import Role
from market.accounts.session import load_viewer, optional_viewer
from market.core.errors import DomainError, FieldError, NotFound
from market.core.i18n import N_
from market.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from market.log import present, queries, service, store
from market.log.models import LogCheckpoint
from market.security.auth import requires_role
from market.web.forms import FormErrors, clean, errors_beside_fields
from market.web.templating import redirect, render, wants_partial

DEFAULT_LIMIT = 50
RECENT_CHECKPOINTS = 10


def _invalid(detail: str, field: str, **params: object) -> DomainError:
    return DomainError(
        detail=detail,
        status=422,
        title=N_("Invalid input"),
        errors=[FieldError(field, detail, params)],
        params=params,
    )


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise _invalid(N_("Show between 1 and {max} entries at a time."), "limit", max=MAX_LIMIT)
    return limit


def _before(cursor: str | None) -> int | None:
    """The seq a page continues below; a cursor this server did not issue is bad input."""
    bad = _invalid(N_("This “Show more” link is not valid; start again from the newest entries."), "cursor")
    try:
        before = decode_cursor(cursor)
    except DomainError:
        raise bad from None
    if before is not None and before < 0:
        raise bad
    return before


def _list_url(**params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "/log" + ("?" + urlencode(kept) if kept else "")


def _checkpoint_view(row: LogCheckpoint) -> dict[str, Any]:
    return {
        "size": row.size,
        "root_hex": bytes(row.root).hex(),
        "root_b64": base64.b64encode(bytes(row.root)).decode("ascii"),
        "note": row.note,
        "origin": row.note.split("\n", 1)[0],
        "created_at": row.created_at,
    }


class LogPages(Controller):
    path = "/log"
    include_in_schema = False

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        entry_type: Annotated[str | None, QueryParameter(name="type")] = None,
        notice_id: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = DEFAULT_LIMIT,
    ) -> Response[str]:
        limit = _check_limit(limit)
        before = _before(cursor)
        entry_type = (entry_type or "").strip() or None
        notice_id = (notice_id or "").strip() or None
        rows, last = await queries.list_entries(
            session, type=entry_type, notice_id=notice_id, before=before, limit=limit
        )
        filters = {
            "type": entry_type,
            "notice_id": notice_id,
            "limit": limit if limit != DEFAULT_LIMIT else None,
        }
        more_url = _list_url(**filters, cursor=encode_cursor(last)) if last is not None else None
        context: dict[str, Any] = {
            **present.ENTRY_WORDS,
            "rows": rows,
            "more_url": more_url,
            "entry_type": entry_type,
            "notice_id": notice_id,
            "limit": limit,
            "default_limit": DEFAULT_LIMIT,
            "filtered": bool(entry_type or notice_id),
            "continued": before is not None,
            "newest_url": _list_url(**filters),
        }
        headers = {"Vary": "Cookie, Accept-Language, HX-Request"}
        if wants_partial(request):
            template = "log/partials/entry_rows.html" if cursor else "log/partials/results.html"
            return render(request, template, headers=headers, **context)
        types = await queries.entry_types(session)
        if entry_type and entry_type not in types:
            types.append(entry_type)  # keep the select showing what the URL asks for
        checkpoint = await store.ensure_checkpoint(session, request.app.state.log_signer)
        recent = await _recent_checkpoints(session)
        return render(
            request,
            "log/index.html",
            headers=headers,
            types=types,
            checkpoint=_checkpoint_view(checkpoint),
            cosigners=(await _cosigners_by_size(session, [checkpoint.size])).get(checkpoint.size, []),
            recent=recent,
            verifier_key=request.app.state.log_signer.verifier_key,
            **context,
        )

    @get("/entries/{seq:int}")
    async def entry(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession], seq: FromPath[int]
    ) -> Response[str]:
        row = await queries.get_entry(session, seq)
        if row is None:
            missing = NotFound(N_("The log has no entry {seq}."))
            missing.params = {"seq": seq}
            raise missing
        checkpoint = await store.ensure_checkpoint(session, request.app.state.log_signer)
        entry = bytes(row.entry)
        leaf = protocol.leaf_hash(entry)
        fields = json.loads(entry)
        proof: list[bytes] | None = None
        verified = False
        if seq < checkpoint.size:
            stored_leaf, proof = await store.inclusion_proof(session, seq, checkpoint.size)
            verified = stored_leaf == leaf and protocol.verify_inclusion(
                leaf, seq, checkpoint.size, proof, bytes(checkpoint.root)
            )
        return render(
            request,
            "log/entry.html",
            seq=seq,
            entry_type=row.type,
            notice_id=row.notice_id,
            ts=fields.get("ts", ""),
            logged_at=present.logged_at(fields.get("ts", "")),
            **present.ENTRY_WORDS,
            exact=entry.decode("utf-8"),
            pretty=json.dumps(fields, indent=2, sort_keys=True, ensure_ascii=False),
            length=len(entry),
            leaf_hex=leaf.hex(),
            proof=[h.hex() for h in proof] if proof is not None else None,
            verified=verified,
            checkpoint=_checkpoint_view(checkpoint),
            scheme_none=fields.get("scheme") == "none",
            proof_api=f"/api/v1/log/proof/inclusion?index={seq}&size={checkpoint.size}",
            entries_api=f"/api/v1/log/entries?start={seq}&end={seq + 1}",
        )

    @get("/verify")
    async def verify(self, request: Request[Any, Any, Any]) -> Response[str]:
        return render(
            request,
            "log/verify.html",
            base=_base(request),
            verifier_key=request.app.state.log_signer.verifier_key,
        )

    @get("/witness")
    async def witness(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        registered: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await _witness_page(request, session, registered=registered)

    @post("/witness", guards=[requires_role(Role.supervisor)])
    async def register(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        values = clean(dict(await request.form()))
        values = {"name": values.get("name", "").strip(), "public_key": values.get("public_key", "").strip()}
        try:
            async with session.begin_nested():
                if not values["name"] or not values["public_key"]:
                    raise DomainError(
                        detail=N_("This field is required."),
                        status=422,
                        title=N_("Invalid input"),
                        errors=[
                            FieldError(f, N_("This field is required."))
                            for f in ("name", "public_key")
                            if not values[f]
                        ],
                    )
                row, _ = await service.register_cosigner(
                    session,
                    user=user,
                    name=values["name"],
                    public_key=values["public_key"],
                    origin=request.app.state.log_signer.origin,
                )
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            errors = errors_beside_fields(exc, lambda f: f if f in values else None)
            return await _witness_page(request, session, values=values, errors=errors, status_code=exc.status)
        return redirect(f"/log/witness?registered={bytes(row.key_id).hex()}#cosigners")


def _base(request: Request[Any, Any, Any]) -> str:
    # MARKET_PUBLIC_URL (checked at start-up to be a plain URL), never the Host header, so
    # the commands shown are safe to paste into a shell.
    return request.app.state.settings.base_url


async def _recent_checkpoints(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await queries.recent_checkpoints(session, RECENT_CHECKPOINTS)
    signers = await _cosigners_by_size(session, [row.size for row in rows])
    return [{**_checkpoint_view(row), "cosigners": signers.get(row.size, [])} for row in rows]


async def _cosigners_by_size(session: AsyncSession, sizes: list[int]) -> dict[int, list[dict[str, Any]]]:
    found = await service.cosignatures_for(session, sizes)
    return {
        size: [
            {
                "name": signer.name,
                "key_id": bytes(signer.key_id).hex(),
                "timestamp": sig.timestamp,
                "line": service.signature_line(sig, signer),
            }
            for sig, signer in pairs
        ]
        for size, pairs in found.items()
    }


async def _witness_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    *,
    registered: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response[str]:
    cosigners = [
        {**present.cosigner_public(row), "registered": row.created_at}
        for row in await service.list_cosigners(session)
    ]
    viewer = await optional_viewer(request, session)
    just_registered = next((c for c in cosigners if registered and c["key_id"] == registered), None)
    return render(
        request,
        "log/witness.html",
        status_code=status_code,
        base=_base(request),
        origin=request.app.state.log_signer.origin,
        verifier_key=request.app.state.log_signer.verifier_key,
        cosigners=cosigners,
        just_registered=just_registered,
        may_register=service.may_register_cosigner(viewer),
        values=values or {},
        errors=errors or FormErrors(),
    )
