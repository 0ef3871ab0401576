"""Where a server's latency goes under load: probes for the HTTP benchmarks (issue 24, item 4).

ops/bench/endpoints.py ``--diagnose`` starts both servers (market and the bare baseline)
with this module loaded into every worker process (a ``sitecustomize`` on PYTHONPATH that
calls ``install`` when MARKET_BENCH_DIAGNOSE names a directory). Nothing in market knows of
it: the probes patch the libraries both servers share, so both are measured alike.

What each worker records, per wrk run (``SIGUSR1`` writes the samples to
``<dir>/<pid>.json`` and starts afresh; the benchmark sends one before and one after a run):

- ``lag``: how late a task sleeping ``LAG_INTERVAL`` wakes up, i.e. how long the event
  loop ran other work before it came back to its timers: a stall (one long callback, a
  collector pause) shows as one large value;
- ``gc0``/``gc1``/``gc2``: the length of every collection, by generation (gc.callbacks);
- per request, from the moment uvicorn hands the request to the app to its last body
  byte (``total``): ``before_pool`` (middleware, routing, parameters, until a pooled
  connection is asked for), ``queue_wait`` (``asyncio.Semaphore.acquire``: market's queue
  in front of its readers' pool, market.core.db.Database.reading), ``pool_wait`` (asyncpg's
  ``Pool.acquire``: waiting for a free connection), ``query`` (``fetch``/``fetchrow``: the round trip and waiting for the loop
  to read the answer), ``to_response`` (Litestar's ``to_response``: the body encoded),
  ``release`` (``Pool.release``: asyncpg's reset round trip), and ``send`` (from the later
  of the ends of ``to_response`` and of the release to the last byte handed to uvicorn).

``summarise`` turns the samples into percentiles and, for the slowest requests (at or
above the 99th percentile of ``total``), the mean of each span: where the tail's time went.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import math
import os
import signal
import time
from pathlib import Path
from typing import Any

ENV = "MARKET_BENCH_DIAGNOSE"
LAG_INTERVAL = 0.005  # seconds the loop-lag probe sleeps between samples
SPANS = ("before_pool", "queue_wait", "pool_wait", "query", "to_response", "release", "send")
# The request being served, as a dict of span name to seconds (and the marks they need).
_REQUEST: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "bench_request", default=None
)


class Probe:
    """The samples of one process, kept in lists and written out on SIGUSR1."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.reset()
        self._gc_started = 0.0
        self._lag_task: asyncio.Task[None] | None = None

    def reset(self) -> None:
        self.lag: list[float] = []
        self.gc: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.requests: list[dict[str, float]] = []

    # -- collector ---------------------------------------------------------------------------

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc[info["generation"]].append(time.perf_counter() - self._gc_started)

    # -- event loop --------------------------------------------------------------------------

    async def watch_loop(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL)
            self.lag.append(time.perf_counter() - began - LAG_INTERVAL)

    def start_lag_probe(self) -> None:
        if self._lag_task is None:
            self._lag_task = asyncio.get_running_loop().create_task(self.watch_loop(), name="bench-loop-lag")

    # -- requests ----------------------------------------------------------------------------

    def wrap_app(self, app: Any) -> Any:
        probe = self

        async def timed(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            probe.start_lag_probe()
            marks: dict[str, float] = {"t0": time.perf_counter()}
            _REQUEST.set(marks)

            async def timed_send(message: dict[str, Any]) -> None:
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    marks["t_end"] = time.perf_counter()

            await app(scope, receive, timed_send)
            if "t_end" in marks:
                probe.requests.append(spans(marks))

        return timed

    def dump(self, *_: Any) -> None:
        """Write the samples so far (seconds) and start afresh: the SIGUSR1 handler."""
        data = {
            "pid": os.getpid(),
            "lag": self.lag,
            "gc": {str(g): v for g, v in self.gc.items()},
            "requests": self.requests,
        }
        self.reset()
        tmp = self.out / f".{os.getpid()}.json"
        tmp.write_text(json.dumps(data))
        tmp.replace(self.out / f"{os.getpid()}.json")


def spans(marks: dict[str, float]) -> dict[str, float]:
    """The spans of one request from its marks (perf_counter seconds)."""
    t0, end = marks["t0"], marks["t_end"]
    out = {"total": end - t0}
    out["before_pool"] = marks.get("queue0", marks.get("acquire0", t0)) - t0
    for name in ("queue_wait", "pool_wait", "query", "to_response", "release"):
        out[name] = marks.get(name, 0.0)
    out["send"] = end - max(marks.get("response1", end), marks.get("release1", 0.0))
    return out


def _add(name: str, seconds: float) -> None:
    marks = _REQUEST.get()
    if marks is not None:
        marks[name] = marks.get(name, 0.0) + seconds


def _timed(name: str, method: Any, first_mark: str | None = None, last_mark: str | None = None) -> Any:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        marks = _REQUEST.get()
        if first_mark and marks is not None and first_mark not in marks:
            marks[first_mark] = began
        try:
            return await method(*args, **kwargs)
        finally:
            now = time.perf_counter()
            _add(name, now - began)
            if last_mark and marks is not None:
                marks[last_mark] = now

    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Load the probes into this process if MARKET_BENCH_DIAGNOSE names a directory."""
    directory = os.environ.get(ENV)
    if not directory:
        return
    import asyncpg.connection
    import asyncpg.pool
    import uvicorn.config
    from litestar.handlers.http_handlers.base import HTTPRouteHandler

    probe = Probe(Path(directory))
    gc.callbacks.append(probe.on_gc)
    pool = asyncpg.pool.Pool
    pool._acquire = _timed("pool_wait", pool._acquire, first_mark="acquire0")  # type: ignore[attr-defined]
    pool.release = _timed("release", pool.release, last_mark="release1")  # type: ignore[method-assign]
    semaphore = asyncio.Semaphore
    semaphore.acquire = _timed("queue_wait", semaphore.acquire, first_mark="queue0")  # type: ignore[method-assign]
    conn = asyncpg.connection.Connection
    conn.fetch = _timed("query", conn.fetch)  # type: ignore[method-assign]
    conn.fetchrow = _timed("query", conn.fetchrow)  # type: ignore[method-assign]
    HTTPRouteHandler.to_response = _timed(  # type: ignore[method-assign]
        "to_response", HTTPRouteHandler.to_response, last_mark="response1"
    )
    load = uvicorn.config.Config.load

    def wrapped_load(self: Any) -> None:
        load(self)
        self.loaded_app = probe.wrap_app(self.loaded_app)

    uvicorn.config.Config.load = wrapped_load  # type: ignore[method-assign]
    signal.signal(signal.SIGUSR1, probe.dump)


# -- reading the samples (in the benchmark's process) ------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(dumps: list[dict[str, Any]]) -> dict[str, Any]:
    """Percentiles in ms over every worker's samples of one run, and the tail's breakdown."""
    lag = [v for d in dumps for v in d["lag"]]
    requests = [r for d in dumps for r in d["requests"]]
    ms = 1000.0
    out: dict[str, Any] = {
        "requests": len(requests),
        "lag_ms": {
            "p50": percentile(lag, 0.5) * ms,
            "p99": percentile(lag, 0.99) * ms,
            "max": max(lag, default=0.0) * ms,
            "over_20ms": sum(1 for v in lag if v > 0.02),
        },
        "gc": {},
        "spans_ms": {},
        "tail_ms": {},
        "median_ms": {},
    }
    for gen in ("0", "1", "2"):
        pauses = [v for d in dumps for v in d["gc"][gen]]
        out["gc"][gen] = {
            "count": len(pauses),
            "p99_ms": percentile(pauses, 0.99) * ms,
            "max_ms": max(pauses, default=0.0) * ms,
            "total_ms": sum(pauses) * ms,
        }
    for name in ("total", *SPANS):
        values = [r[name] for r in requests]
        out["spans_ms"][name] = {"p50": percentile(values, 0.5) * ms, "p99": percentile(values, 0.99) * ms}
    if requests:
        cut = percentile([r["total"] for r in requests], 0.99)
        tail = [r for r in requests if r["total"] >= cut]
        middle = sorted(requests, key=lambda r: r["total"])[len(requests) // 4 : 3 * len(requests) // 4]
        for name in ("total", *SPANS):
            out["tail_ms"][name] = sum(r[name] for r in tail) / len(tail) * ms
            out["median_ms"][name] = sum(r[name] for r in middle) / len(middle) * ms
    return out


def lines(summary: dict[str, Any]) -> list[str]:
    """The summary in a few lines of text."""
    lag, gcs = summary["lag_ms"], summary["gc"]
    out = [
        f"in server: {summary['requests']} requests, total p50 {summary['spans_ms']['total']['p50']:.1f} ms, "
        f"p99 {summary['spans_ms']['total']['p99']:.1f} ms; loop lag p50 {lag['p50']:.1f}, p99 {lag['p99']:.1f}, "
        f"max {lag['max']:.1f} ms ({lag['over_20ms']} over 20 ms)",
        "gc: "
        + "; ".join(
            f"gen{g} {v['count']}x, p99 {v['p99_ms']:.1f}, max {v['max_ms']:.1f}, sum {v['total_ms']:.0f} ms"
            for g, v in gcs.items()
        ),
    ]
    if summary["tail_ms"]:
        out.append(
            "mean ms, p25-p75 requests / slowest 1%: "
            + ", ".join(
                f"{n} {summary['median_ms'][n]:.1f}/{summary['tail_ms'][n]:.1f}" for n in ("total", *SPANS)
            )
        )
    return out


SITECUSTOMIZE = "from ops.bench.diagnose import install\n\ninstall()\n"


def site_dir(workdir: Path) -> Path:
    """A directory holding the ``sitecustomize`` that loads the probes, for PYTHONPATH."""
    path = workdir / "diagnose-site"
    path.mkdir(parents=True, exist_ok=True)
    (path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return path


def collect(out: Path, pids: list[int], *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Ask each worker for its samples (SIGUSR1) and read what they write."""
    for pid in pids:
        (out / f"{pid}.json").unlink(missing_ok=True)
        os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    dumps = []
    for pid in pids:
        path = out / f"{pid}.json"
        while not path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {pid} wrote no diagnosis to {path}")
            time.sleep(0.02)
        dumps.append(json.loads(path.read_text()))
    return dumps
