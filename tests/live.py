"""A real server process for browser tests: ``market serve`` on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from market.core.pgembed import free_port

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


@dataclass
class Server:
    """A ``market serve`` process; ``kill`` is kill -9, with no chance to clean up."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


def start_server(database_url: str, data_dir: Path, *, port: int | None = None, **env: str) -> Server:
    """Start ``market serve`` and wait until /healthz answers; its output is appended to
    ``data_dir/server.log`` (a restart on the same data dir keeps the earlier output)."""
    port = port or free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MARKET_DATA_DIR": str(data_dir),
        "MARKET_PORT": str(port),
        "MARKET_ENV": "test",
        "MARKET_MIN_BID_WINDOW": "0",
        **env,
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "market.cli", "serve"],
            cwd=ROOT,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(server.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become healthy within 60 s")
            time.sleep(0.1)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def running_server(database_url: str, data_dir: Path, **env: str) -> Iterator[Server]:
    server = start_server(database_url, data_dir, **env)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def live_server(database_url: str, data_dir: Path, **env: str) -> Iterator[str]:
    with running_server(database_url, data_dir, **env) as server:
        yield server.url
