"""Gunicorn's settings for the web app: `gunicorn -c python:ivr.gunicorn_conf 'ivr.app:create_app()'`.

Gunicorn's own lines (boot, worker exits, errors) and one line per request go through the
line's logging set-up, so they are JSON (or terminal text) with the same fields as every other
process, scrubbed the same way. A request line names the path without its query string.

Each reply leaves a web process in one send, its head (status line and headers) together with its
body's first bytes (`WholeReplyWorker`), so a web process that dies (SIGKILL, OOM) never leaves the
balancer holding half a reply it cannot send elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any

from gunicorn import glogging  # type: ignore[import-untyped]
from gunicorn.workers.sync import SyncWorker  # type: ignore[import-untyped]

from ivr.logging import configure_logging, configure_logging_as
from ivr.settings import SettingsError, load_settings


class LineLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn ships no types
    """Gunicorn's logger, writing through the root handler `configure_logging` installs."""

    def setup(self, cfg: Any) -> None:
        """Drop gunicorn's own handlers and formats; ours renders every record."""
        self.cfg = cfg
        self._access_log_enabled = True
        try:
            configure_logging(load_settings())
        except SettingsError:
            configure_logging_as()  # the app itself reports the bad settings, one line each
        self.loglevel = self.LOG_LEVELS.get(cfg.loglevel.lower(), logging.INFO)
        self.error_log.setLevel(self.loglevel)
        self.access_log.setLevel(logging.INFO)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """One structured line per request: method, path (no query), status, bytes, time."""
        status = str(resp.status).split(None, 1)[0]
        self.access_log.info(
            "request.answered",
            extra={
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "status": int(status) if status.isdigit() else status,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
            },
        )

    def reopen_files(self) -> None:
        """Nothing to reopen: every line goes to stderr."""

    def close_on_exec(self) -> None:
        """Nothing of ours to close."""


class WholeReplySocket:
    """One request's connection, whose reply head is held back to leave with the body's first bytes.

    Gunicorn sends a reply's head and its body in two writes. A web process killed between them
    leaves HAProxy with a 200 and no body: it has already passed the head on, so it cannot send
    the request to another process, and the caller's TwiML is cut (HAProxy logs SD, the client
    reads IncompleteRead). In one write, a reply that fits in one send (TwiML: one piece, a few KB)
    is either wholly in the kernel, which delivers it after the process is gone, or not sent at all,
    and HAProxy re-sends the request (`retry-on empty-response`). A longer body (audio, console
    pages) can still be cut after its first bytes; only browsers and <Play> fetch those.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._head: bytes | None = None
        self._replying = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def sendall(self, data: bytes, flags: int = 0) -> None:
        """The reply's first write (gunicorn's head) is held; the next goes out with it."""
        if not self._replying:
            self._replying = True
            self._head = bytes(data)
            return
        head, self._head = self._head or b"", None
        self._sock.sendall(head + bytes(data), flags)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """A file body: the head first (the kernel copies the file itself)."""
        self._send_head()
        return self._sock.sendfile(file, offset, count)

    def shutdown(self, how: int) -> None:
        """The reply is over (a head without body: 204, HEAD): send the head, then end."""
        self._send_head()
        self._sock.shutdown(how)

    def close(self) -> None:
        """Send a head still held (if the peer is there), then close."""
        with contextlib.suppress(OSError):
            self._send_head()
        self._sock.close()

    def _send_head(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._sock.sendall(head)


class WholeReplyWorker(SyncWorker):  # type: ignore[misc]  # gunicorn ships no types
    """Gunicorn's sync worker (one request per connection), writing each reply in one piece."""

    def handle(self, listener: socket.socket, client: socket.socket, addr: Any) -> None:
        """Serve one connection through a WholeReplySocket (TLS ends at the balancer, not here)."""
        super().handle(listener, client if self.cfg.is_ssl else WholeReplySocket(client), addr)


logger_class = LineLogger
# `-k`/`--worker-class` on the command line replaces it, and with it the one-write replies.
worker_class = WholeReplyWorker
accesslog = "-"  # enables `access`; LineLogger decides where the line goes
errorlog = "-"
# Gunicorn 27 opens a control socket in the home folder; the line does not use it, and two lines
# (or a test next to a running line) on one account would fight over it.
control_socket_disable = True
