"""structlog set-up: JSON lines when stdout is not a terminal (systemd, CI), readable
lines on a terminal. Each actor binds its own logger (``get_logger("lane", lane="1")``).

The request id: the session sets ``request_id`` when a request frame arrives
(server/session.py); every line logged on that request's path carries it as
``request_id``. A Trio task copies the context variables when it is spawned, not when
a message is sent, so the id crosses to an actor inside the message's envelope
(actors/runtime.py ``Envelope``: taken at ``tell`` / ``ask``, set while the actor
handles that message). The journal, which writes many requests in one transaction,
names them all on its batch line (``request_ids``).
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

import structlog

# The request being handled by the current task, or None. A plain ContextVar (one
# ``set`` per request, one ``get`` per message sent) and a processor that adds it,
# rather than structlog's ``bind_contextvars``, which makes a dict of tokens and a
# key string each call, and whose ``merge_contextvars`` copies the whole context for
# every line: this sits on the path of every scan.
request_id: ContextVar[str | None] = ContextVar("laneserver_request_id", default=None)


def add_request_id(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current ``request_id``, when there is one."""
    current = request_id.get()
    if current is not None:
        event.setdefault("request_id", current)
    return event


def configure(level: str = "info", *, json: bool | None = None) -> None:
    if json is None:
        json = not sys.stderr.isatty()
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_request_id,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(component: str, **bound: object) -> structlog.typing.FilteringBoundLogger:
    # Lazy: a module-level logger created before ``configure`` still follows it.
    return structlog.get_logger(component=component, **bound)
