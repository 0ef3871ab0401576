"""A client at a fixed rate: latency at equal offered load (issue 24, item 4).

wrk keeps its connections busy (a closed loop): a faster server is sent more requests,
so two servers' percentiles compare at different throughputs. This client sends requests
at a fixed rate whatever the answers (an open loop, as wrk2 does, which is not installed
here): request i is due at ``start + i / rate``, is sent on the first of ``connections``
keep-alive connections that is free, and its latency counts from when it was due, so a
server that falls behind is charged for the queue it causes (no coordinated omission).

    .venv/bin/python ops/bench/endpoints.py --only list_json --rate 120   # uses this instead of wrk
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class PacedResult:
    requests_per_s: float  # answered per second of the run
    latencies: list[float]  # seconds, from when each request was due
    non_2xx: int
    errors: int
    late: int  # requests still unanswered when the run ended (counted as errors by no one)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one request and read its whole answer; its status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError("an answer without Content-Length")
    await reader.readexactly(length)
    return status


async def run(
    base_url: str, paths: list[str], *, rate: float, duration: float, connections: int
) -> PacedResult:
    """Send ``rate`` requests a second for ``duration`` seconds, walking ``paths`` in turn."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    due: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    counts = {"non_2xx": 0, "errors": 0}
    last = [0.0]  # when the last answer came
    total = int(rate * duration)
    finished = asyncio.Event()  # every request answered (or failed)

    def count_one() -> None:
        if len(latencies) + counts["errors"] >= total:
            finished.set()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (item := await due.get()) is not None:
                when, request = item
                try:
                    status = await _exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, RuntimeError, ValueError):
                    counts["errors"] += 1
                    count_one()
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                last[0] = time.perf_counter()
                latencies.append(last[0] - when)
                if not 200 <= status < 400:
                    counts["non_2xx"] += 1
                count_one()
        finally:
            writer.close()

    requests = [f"GET {p} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode("ascii") for p in paths]
    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    await asyncio.sleep(0.2)  # the connections open before the clock starts
    start = time.perf_counter()
    for i in range(total):
        when = start + i / rate
        delay = when - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait((when, requests[i % len(requests)]))
    # Answers still owed get a moment; what remains unanswered is reported as late.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10.0):
            await finished.wait()
    elapsed = max(duration, last[0] - start)
    late = total - len(latencies) - counts["errors"]
    for _ in workers:
        due.put_nowait(None)
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return PacedResult(
        requests_per_s=len(latencies) / elapsed,
        latencies=latencies,
        non_2xx=counts["non_2xx"],
        errors=counts["errors"],
        late=late,
    )


def measure(
    base_url: str, paths: list[str], *, rate: float, duration: float, connections: int
) -> PacedResult:
    """``run`` on an event loop of its own (uvloop's, as the servers have: less of the
    client's own time in the latencies)."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run(base_url, paths, rate=rate, duration=duration, connections=connections))
