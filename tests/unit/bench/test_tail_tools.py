"""The tools that look for where the HTTP benchmarks' tail comes from (issue 24, item 4):
ops/bench/diagnose.py's summary of the servers' samples, and ops/bench/paced.py's client
at a fixed rate. Both servers' probes are exercised end to end by
tests/integration/bench/test_endpoints_bench.py."""

from __future__ import annotations

import asyncio
import importlib
from types import ModuleType

import pytest

diagnose: ModuleType = importlib.import_module("ops.bench.diagnose")
paced: ModuleType = importlib.import_module("ops.bench.paced")


def request(total: float, **spans: float) -> dict[str, float]:
    return {"total": total, **{name: spans.get(name, 0.0) for name in diagnose.SPANS}}


def test_the_summary_says_which_span_the_slowest_requests_spent_their_time_in() -> None:
    usual = [request(0.010, pool_wait=0.006, query=0.003) for _ in range(98)]
    slow = [request(0.200, pool_wait=0.190, query=0.004), request(0.210, pool_wait=0.2, query=0.004)]
    dumps = [
        {"lag": [0.001] * 99 + [0.050], "gc": {"0": [0.0005], "1": [], "2": [0.030]}, "requests": usual[:50]},
        {"lag": [0.001], "gc": {"0": [], "1": [], "2": []}, "requests": usual[50:] + slow},
    ]
    summary = diagnose.summarise(dumps)
    assert summary["requests"] == 100
    assert summary["spans_ms"]["total"]["p50"] == pytest.approx(10.0)
    assert summary["spans_ms"]["total"]["p99"] == pytest.approx(200.0)
    assert summary["tail_ms"]["pool_wait"] == pytest.approx(195.0)  # the two slowest
    assert summary["median_ms"]["pool_wait"] == pytest.approx(6.0)
    assert summary["lag_ms"]["max"] == pytest.approx(50.0) and summary["lag_ms"]["over_20ms"] == 1
    assert summary["gc"]["2"] == {"count": 1, "p99_ms": 30.0, "max_ms": 30.0, "total_ms": 30.0}
    text = "\n".join(diagnose.lines(summary))
    assert "pool_wait 6.0/195.0" in text and "gen2 1x" in text


def test_a_request_s_spans_come_from_its_marks() -> None:
    marks = {
        "t0": 1.0,
        "queue0": 1.001,
        "queue_wait": 0.010,
        "pool_wait": 0.0001,
        "query": 0.004,
        "to_response": 0.0005,
        "response1": 1.016,
        "release": 0.003,
        "release1": 1.019,
        "t_end": 1.020,
    }
    spans = diagnose.spans(marks)
    assert spans["total"] == pytest.approx(0.020)
    assert spans["before_pool"] == pytest.approx(0.001)
    assert spans["send"] == pytest.approx(0.001)  # from the release's end, which came last
    assert spans["queue_wait"] == 0.010 and spans["release"] == 0.003


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert diagnose.percentile(values, 0.5) == 50.0
    assert diagnose.percentile(values, 0.99) == 99.0
    assert diagnose.percentile([], 0.99) == 0.0


async def serve(delay: float) -> tuple[asyncio.Server, str]:
    """A keep-alive HTTP server answering every request after ``delay``: 200, or 404 for /missing."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(delay)
                status = b"404 Not Found" if b" /missing " in head else b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def test_the_paced_client_sends_at_its_rate_and_counts_latency_from_when_a_request_was_due() -> None:
    server, url = await serve(0.02)
    async with server:
        result = await paced.run(url, ["/a", "/b", "/missing"], rate=100, duration=0.6, connections=4)
    assert len(result.latencies) == 60 and result.errors == 0 and result.late == 0
    assert result.non_2xx == 20  # every third path
    assert min(result.latencies) >= 0.02
    assert 60 <= result.requests_per_s <= 100


async def test_a_server_slower_than_the_rate_is_charged_for_the_queue_it_causes() -> None:
    """One connection, 20 ms an answer, 100 requests a second due: each waits for the ones
    before it, so the last of 30 is answered about 0.3 s after it was due."""
    server, url = await serve(0.02)
    async with server:
        result = await paced.run(url, ["/a"], rate=100, duration=0.3, connections=1)
    assert len(result.latencies) == 30
    assert max(result.latencies) > 0.25
