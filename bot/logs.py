"""Logging: readable lines on a terminal, one JSON object per line otherwise (for journald,
containers and log shippers). Secrets are never passed to the logger in the first place."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname.lower(), "logger": record.name,
                "message": record.getMessage()}
        for key in ("recipe", "draft", "platform", "outcome"):
            if hasattr(record, key):
                body[key] = getattr(record, key)
        if record.exc_info:
            body["error"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def setup_logging(verbose: bool = False, *, json_lines: bool | None = None) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_citycrier", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._citycrier = True  # type: ignore[attr-defined]
    use_json = (not sys.stderr.isatty()) if json_lines is None else json_lines
    handler.setFormatter(JSONFormatter() if use_json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    # oauthlib and requests_oauthlib log X credentials at DEBUG: never let them through
    for noisy in ("httpx", "httpcore", "matplotlib", "apscheduler.executors", "PIL",
                  "oauthlib", "requests_oauthlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
