"""Gunicorn's settings for the web app: `gunicorn -c python:ivr.gunicorn_conf 'ivr.app:create_app()'`.

Gunicorn's own lines (boot, worker exits, errors) and one line per request go through the
line's logging set-up, so they are JSON (or terminal text) with the same fields as every other
process, scrubbed the same way. A request line names the path without its query string.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn import glogging  # type: ignore[import-untyped]

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


logger_class = LineLogger
accesslog = "-"  # enables `access`; LineLogger decides where the line goes
errorlog = "-"
# Gunicorn 27 opens a control socket in the home folder; the line does not use it, and two lines
# (or a test next to a running line) on one account would fight over it.
control_socket_disable = True
