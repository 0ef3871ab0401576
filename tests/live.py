"""A real server process for browser tests: ``market serve`` on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from market.pgembed import free_port

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("MARKET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextmanager
def live_server(database_url: str, data_dir: Path, **env: str) -> Iterator[str]:
    port = free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MARKET_DATA_DIR": str(data_dir),
        "MARKET_PORT": str(port),
        "MARKET_ENV": "test",
        "MARKET_MIN_BID_WINDOW": "0",
        **env,
    }
    log = (data_dir / "server.log").open("wb") if data_dir.mkdir(parents=True, exist_ok=True) is None else None
    process = subprocess.Popen(
        [sys.executable, "-m", "market.cli", "serve"], cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early: {(data_dir / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become healthy within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        if log:
            log.close()
