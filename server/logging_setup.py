"""Logging for the service: every handler that writes a line goes through :class:`RedactingFilter`."""

from __future__ import annotations

import logging

from tools.redact import RedactingFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers whose handlers the service writes through (uvicorn's own, when it set them up).
SERVICE_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "idp", "server")


def configure_logging(level: str) -> None:
    """One stderr handler on the root logger, redacting; uvicorn's loggers propagate to it."""
    root = logging.getLogger()
    root.setLevel(level)
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    install_redaction()


def install_redaction() -> None:
    """Add the filter to every handler of the service's loggers (idempotent)."""
    for name in SERVICE_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            # uvicorn's access formatter unpacks record.args, which the filter has folded into
            # the message; those lines are redacted when they reach the root handler instead.
            if type(handler.formatter).__name__ == "AccessFormatter":
                continue
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
