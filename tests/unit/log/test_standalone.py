"""ops/verify_log.py is the package's verifier, joined into one file: never out of date."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_standalone_verifier_is_built_from_the_package() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "ops/build_verifier.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_standalone_verifier_runs_without_the_package() -> None:
    # -I and cwd=/ : neither the checkout nor the virtual environment's paths help it.
    result = subprocess.run(
        [sys.executable, "-I", str(ROOT / "ops/verify_log.py"), "--help"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert result.returncode == 0 and "--url" in result.stdout, result.stderr


class LogServer:
    """The five log endpoints of MSP/1 section 4 over an in-memory log, on a local port."""

    def __init__(self, entries: list[bytes]) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from market import protocol
        from market.log.signer import LogSigner

        signer = LogSigner(origin="standalone.test/log", private_key=Ed25519PrivateKey.generate())
        leaves = [protocol.leaf_hash(e) for e in entries]
        routes = {
            "/api/v1/log/key": lambda q: signer.verifier_key.encode(),
            "/api/v1/log/checkpoint": lambda q: signer.sign_checkpoint(
                len(entries), protocol.root_from_leaf_hashes(leaves)
            ).encode(),
            "/api/v1/log/entries": lambda q: b"".join(
                e + b"\n" for e in entries[int(q["start"]) : int(q["end"])]
            ),
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                route = routes.get(url.path)
                if route is None:
                    self.send_error(404)
                    return
                body = route(dict(urllib.parse.parse_qsl(url.query)))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_standalone(url: str, *args: str) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-I", str(ROOT / "ops/verify_log.py"), "--url", url, "--json", *args],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
    )
    return result.returncode, json.loads(result.stdout)


def test_standalone_verifier_checks_every_notice() -> None:
    from tests.unit.log.test_notice_checks import v1_lottery
    from tests.unit.log.test_verifier import notices_log

    server = LogServer(notices_log(3))
    try:
        code, report = run_standalone(server.url)
        assert code == 0 and report["ok"], report
        assert sorted(report["notices"]) == ["N-000001", "N-000002", "N-000003"]
        code, report = run_standalone(server.url, "--notice", "N-000404")
        assert code == 1 and report["problems"][0]["message"] == "no entries for notice N-000404"
    finally:
        server.close()
    story = v1_lottery()
    story.of_type("bidding.closed")["bids"][0]["price_fen"] = 1
    server = LogServer(story.raw())
    try:
        code, report = run_standalone(server.url, "--notice", "N-000001")
        assert code == 1 and not report["notices"]["N-000001"]["ok"]
        assert "does not hash to the bid_sha256" in report["notices"]["N-000001"]["problems"][0]["message"]
    finally:
        server.close()
