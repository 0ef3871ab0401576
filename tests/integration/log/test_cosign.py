"""Witness co-signatures (C2SP tlog-cosignature v1): supervisors register keys, anyone
holding a registered key co-signs a stored checkpoint, and the co-signed note carries the
operator's line and the witnesses' lines, each verifying on its own."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from httpx import AsyncClient

from market import protocol
from market.accounts.models import Role
from market.core.db import Database
from market.protocol import cosign
from tests.helpers import PASSWORD, bearer, create_staff, csrf_from, register, token_for

NAME = "supervisor.example.cn/alice"


def pub_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(cosign.public_bytes(key)).decode()


async def supervisor_token(client: AsyncClient, db: Database) -> str:
    return await token_for(client, await create_staff(db, role=Role.supervisor))


async def latest(client: AsyncClient) -> tuple[str, str, int]:
    key = (await client.get("/api/v1/log/key")).text.strip()
    note = (await client.get("/api/v1/log/checkpoint")).text
    _, size, _ = protocol.open_checkpoint(note, key)
    return key, note, size


async def test_only_supervisors_register_keys_and_registration_is_idempotent(
    client: AsyncClient, db: Database
) -> None:
    key = Ed25519PrivateKey.generate()
    body = {"name": NAME, "public_key": pub_b64(key)}
    assert (await client.post("/api/v1/log/cosigners", json=body)).status_code == 401
    owner = await register(client, org=None)
    owner_token = await token_for(client, owner["email"])
    refused = await client.post("/api/v1/log/cosigners", json=body, headers=bearer(owner_token))
    assert refused.status_code == 403

    token = await supervisor_token(client, db)
    created = await client.post("/api/v1/log/cosigners", json=body, headers=bearer(token))
    assert created.status_code == 201, created.text
    kid = cosign.key_id(NAME, cosign.public_bytes(key))
    assert created.json()["key_id"] == kid.hex()
    assert created.json()["vkey"] == cosign.vkey(NAME, cosign.public_bytes(key))
    again = await client.post("/api/v1/log/cosigners", json=body, headers=bearer(token))
    assert again.status_code == 200 and again.json()["key_id"] == kid.hex()

    # Another supervisor may not claim the same key; malformed input is refused clearly.
    other = await supervisor_token(client, db)
    assert (await client.post("/api/v1/log/cosigners", json=body, headers=bearer(other))).status_code == 409
    bad_key = await client.post(
        "/api/v1/log/cosigners", json={"name": NAME, "public_key": "AAAA"}, headers=bearer(token)
    )
    assert bad_key.status_code == 422 and bad_key.json()["errors"][0]["field"] == "public_key"
    bad_name = await client.post(
        "/api/v1/log/cosigners", json={"name": "has space", "public_key": pub_b64(key)}, headers=bearer(token)
    )
    assert bad_name.status_code == 422 and bad_name.json()["errors"][0]["field"] == "name"

    listed = (await client.get("/api/v1/log/cosigners")).json()
    assert [c["key_id"] for c in listed] == [kid.hex()]


async def test_cosign_the_checkpoint_and_serve_both_signatures(client: AsyncClient, db: Database) -> None:
    token = await supervisor_token(client, db)
    key = Ed25519PrivateKey.generate()
    response = await client.post(
        "/api/v1/log/cosigners", json={"name": NAME, "public_key": pub_b64(key)}, headers=bearer(token)
    )
    assert response.status_code == 201
    for _ in range(3):
        await register(client, org=None)
    log_key, note, size = await latest(client)
    assert size >= 3

    body = cosign.checkpoint_body(note)
    signed = cosign.sign(body, NAME, key)
    posted = await client.post("/api/v1/log/cosignatures", json={"size": size, "cosignature": signed.line})
    assert posted.status_code == 201, posted.text
    assert posted.json()["line"] == signed.line
    # Idempotent: the same (or a later) co-signature of the same checkpoint is accepted once.
    assert (
        await client.post("/api/v1/log/cosignatures", json={"size": size, "cosignature": signed.line})
    ).status_code == 200

    for url in ("/api/v1/log/checkpoint?cosigned=1", f"/api/v1/log/cosignatures?size={size}"):
        cosigned = (await client.get(url)).text
        assert cosigned == note + signed.line + "\n"
        lines = cosigned[len(body) + 1 :].splitlines()
        assert len(lines) == 2 and lines[0].startswith(
            "\u2014 " + protocol.parse_verifier_key(log_key)[0] + " "
        )
        # Each line verifies under its own key: the operator's, then the witness's.
        assert protocol.open_checkpoint(cosigned, log_key)[1] == size
        found = cosign.open_cosigned(cosigned, NAME, cosign.public_bytes(key))
        assert found.timestamp == signed.timestamp
    # The plain checkpoint stays the operator's alone.
    assert (await client.get("/api/v1/log/checkpoint")).text == note

    # The structured form, for a later checkpoint.
    await register(client, org=None)
    _, note2, size2 = await latest(client)
    parts = cosign.sign(cosign.checkpoint_body(note2), NAME, key)
    structured = {
        "key_id": parts.key_id.hex(),
        "timestamp": parts.timestamp,
        "signature": base64.b64encode(parts.signature).decode(),
    }
    response = await client.post("/api/v1/log/cosignatures", json={"size": size2, "cosignature": structured})
    assert response.status_code == 201, response.text
    assert cosign.open_cosigned(
        (await client.get("/api/v1/log/checkpoint?cosigned=1")).text, NAME, cosign.public_bytes(key)
    )


async def test_unknown_keys_bad_signatures_and_unknown_checkpoints_are_refused(
    client: AsyncClient, db: Database
) -> None:
    token = await supervisor_token(client, db)
    key = Ed25519PrivateKey.generate()
    await client.post(
        "/api/v1/log/cosigners", json={"name": NAME, "public_key": pub_b64(key)}, headers=bearer(token)
    )
    await register(client, org=None)
    _, note, size = await latest(client)
    body = cosign.checkpoint_body(note)

    stranger = cosign.sign(body, NAME, Ed25519PrivateKey.generate())
    unknown = await client.post("/api/v1/log/cosignatures", json={"size": size, "cosignature": stranger.line})
    assert unknown.status_code == 422 and stranger.key_id.hex() in unknown.json()["detail"]

    # Signed over another checkpoint body: a bad signature for this size.
    wrong_body = cosign.sign(
        protocol.checkpoint_text(protocol.parse_checkpoint(body)[0], size, bytes(32)), NAME, key
    )
    bad = await client.post("/api/v1/log/cosignatures", json={"size": size, "cosignature": wrong_body.line})
    assert bad.status_code == 422 and "does not verify" in bad.json()["detail"]
    # A signature by the right key over the right body but with the timestamp changed.
    good = cosign.sign(body, NAME, key)
    tampered = cosign.signature_line(NAME, good.key_id, good.timestamp + 1, good.signature)
    assert (
        await client.post("/api/v1/log/cosignatures", json={"size": size, "cosignature": tampered})
    ).status_code == 422
    # The right key under another name.
    renamed = cosign.signature_line("someone.else/w", good.key_id, good.timestamp, good.signature)
    assert (
        await client.post("/api/v1/log/cosignatures", json={"size": size, "cosignature": renamed})
    ).status_code == 422
    garbled = await client.post("/api/v1/log/cosignatures", json={"size": size, "cosignature": "not a line"})
    assert garbled.status_code == 422
    missing = await client.post(
        "/api/v1/log/cosignatures", json={"size": size + 100, "cosignature": good.line}
    )
    assert missing.status_code == 404
    assert (await client.get(f"/api/v1/log/cosignatures?size={size + 100}")).status_code == 404
    # Nothing was stored by the refusals.
    assert (await client.get("/api/v1/log/checkpoint?cosigned=1")).text == note


async def test_pages_show_cosigners_and_supervisors_register_through_the_form(
    client: AsyncClient, db: Database
) -> None:
    email = await create_staff(db, role=Role.supervisor)
    page = await client.get("/log/witness")
    assert page.status_code == 200 and "market log witness --url" in page.text
    assert 'action="/log/witness' not in page.text  # no form for visitors

    token = csrf_from((await client.get("/login")).text)
    login = await client.post(
        "/login", data={"_csrf_token": token, "email": email, "password": PASSWORD}, follow_redirects=False
    )
    assert login.status_code == 303
    page = await client.get("/log/witness")
    assert 'action="/log/witness' in page.text
    key = Ed25519PrivateKey.generate()
    refused = await client.post(
        "/log/witness",
        data={"_csrf_token": csrf_from(page.text), "name": NAME, "public_key": "not base64"},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    posted = await client.post(
        "/log/witness",
        data={"_csrf_token": csrf_from(page.text), "name": NAME, "public_key": pub_b64(key)},
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    kid = cosign.key_id(NAME, cosign.public_bytes(key)).hex()
    shown = await client.get(posted.headers["location"])
    assert kid in shown.text and NAME in shown.text

    _, note, size = await latest(client)
    signed = cosign.sign(cosign.checkpoint_body(note), NAME, key)
    client.cookies.clear()
    assert (
        await client.post("/api/v1/log/cosignatures", json={"size": size, "cosignature": signed.line})
    ).status_code == 201
    audit = await client.get("/log")
    assert audit.status_code == 200 and NAME in audit.text and "log-checkpoints" in audit.text

    zh = await client.get("/log/witness", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 200 and kid in zh.text and "见证与联署日志" in zh.text
    assert "联署人" in (await client.get("/log", headers={"Accept-Language": "zh-CN"})).text
