"""Issue 16, item 7: a webhook's time counts from its arrival at the balancer, queue included.

The shipped HAProxy configuration (deploy/haproxy/haproxy.cfg, the one bench.rehearsal runs)
stamps every request with X-Request-Start; the line reads it. Tested with Debian's real haproxy in
front of a backend that holds each request back, as a busy gunicorn would.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from bench.rehearsal import haproxy_config
from ivr.voice.routes import queued_for
from tests.support.services import free_port

HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


class Backend(BaseHTTPRequestHandler):
    """Answers /healthz at once; holds a webhook 0.3 s (busy) and notes when it got its header."""

    seen: ClassVar[list[tuple[str, float]]] = []

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        time.sleep(0.3)  # the time a waiting request spends queued behind a busy worker
        self.seen.append((self.headers.get("X-Request-Start", ""), time.time()))
        self._answer()

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def balancer(tmp_path: Path) -> Iterator[int]:
    if HAPROXY is None:
        pytest.fail("haproxy is not installed (tests/run.sh installs it)")
    backend = ThreadingHTTPServer(("127.0.0.1", free_port()), Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port = free_port()
    config = tmp_path / "haproxy.cfg"
    # Two servers, as in production: the same backend twice (a second line must land in its section).
    config.write_text(haproxy_config(port, [backend.server_address[1]] * 2))
    check = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr + check.stdout
    proc = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        backend.shutdown()


def test_the_shipped_balancer_stamps_arrival_and_the_line_counts_the_wait(balancer: int) -> None:
    Backend.seen.clear()
    sent = time.time()
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{balancer}/voice/step", data=b"x=1"),
                           timeout=5).read()
    [(header, handled_at)] = Backend.seen
    assert header.startswith("t="), header
    waited = queued_for(header, now=handled_at)
    # The backend looked at the header 0.3 s after the balancer took the request in.
    assert 0.25 <= waited <= handled_at - sent + 0.05, (header, waited)
