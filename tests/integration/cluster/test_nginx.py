"""The shipped nginx configuration (ops/deploy/nginx/market.conf) in front of an app host
with MARKET_TRUSTED_PROXIES=1, read from the side of those who gain from it being wrong:

- an attacker guessing passwords through nginx cannot dodge the log-in rate limit by
  writing his own X-Forwarded-For (nginx appends the address it saw, and the app takes
  that one), and two clients behind nginx are not one client to the limiter (as they
  would be if the app counted nginx's address);
- a live draw page's stream passes through nginx and its first event arrives at once
  (Litestar's SSE answers carry X-Accel-Buffering: no, which alone turns nginx's
  buffering off for them; the configuration's proxy_buffering off is for any stream
  that would not say so, and this check does not tell the two apart);
- a body over the app's 12 MB limit is refused at nginx.

The clients connect from 127.0.0.2 and 127.0.0.3 (loopback answers every 127/8 address),
so that nginx sees addresses other than its own and the app's peer (127.0.0.1)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from ops.cluster import Nginx
from tests.integration.reliability.helpers import ENV, make_cast, open_notice
from tests.live import running_server

LIMIT = 3  # log-in attempts per address per window


def client_from(address: str, base_url: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30)


async def log_in(client: httpx.AsyncClient, spoofed: str) -> int:
    body = {"email": "nobody@example.com", "password": "not-the-password"}
    answer = await client.post("/api/v1/auth/token", json=body, headers={"X-Forwarded-For": spoofed})
    return answer.status_code


@pytest.mark.committing
async def test_nginx_passes_the_real_client_streams_events_and_bounds_bodies(
    committed_database_url: str, tmp_path: Path
) -> None:
    env = {
        **ENV,
        "MARKET_TRUSTED_PROXIES": "1",
        "MARKET_AUTH_RATE_LIMIT": str(LIMIT),
        "MARKET_AUTH_RATE_WINDOW": "600",
        "MARKET_SCHEDULER_INTERVAL": "600",
    }
    with (
        running_server(committed_database_url, tmp_path / "data", **env) as server,
        Nginx(tmp_path / "nginx", [f"127.0.0.1:{server.port}"]) as proxy,
    ):
        # -- the log-in rate limit counts the client nginx saw ----------------------------------
        async with (
            client_from("127.0.0.2", proxy.url) as attacker,
            client_from("127.0.0.3", proxy.url) as other,
        ):
            tries = [await log_in(attacker, f"203.0.113.{i}") for i in range(LIMIT + 1)]
            assert tries == [401] * LIMIT + [429], tries
            assert await log_in(other, "127.0.0.2") == 401  # its own count, not the attacker's

        # -- server-sent events pass unbuffered -------------------------------------------------
        async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as client:
            cast = await make_cast(client, committed_database_url, 0)
            notice_id = await open_notice(client, cast.owner, seconds=600, title="反向代理事件流测试")
            asked = time.monotonic()
            headers = {"Accept": "text/event-stream", "Accept-Language": "en"}
            stream_timeout = httpx.Timeout(5, read=5)
            async with client.stream(
                "GET", f"/notices/{notice_id}/draw/events", headers=headers, timeout=stream_timeout
            ) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                # The first event (the panel, a few kB) comes at once.
                first = await asyncio.wait_for(anext(response.aiter_lines()), timeout=5)
                assert first.startswith(("event:", "id:", "data:", ":")), first
            assert time.monotonic() - asked < 5

            # -- a body over 12 MB stops at nginx -------------------------------------------------
            big = await client.post(
                "/api/v1/notices", content=b"x" * (12 * 1024 * 1024 + 1), headers=cast.owner
            )
            assert big.status_code == 413
            assert "nginx" in big.text  # nginx's own page: no app host read it
    assert "413" in (tmp_path / "nginx" / "market.access.log").read_text()
