"""Where the current act comes from (the web with the client's address, the command line, the system), for
the audit log's "from where" without passing a request through every service.

The web's middleware and the CLI set it for the duration of a request or command; `audit_record` reads it.
A context variable, so threads and concurrent requests each see their own.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator


@dataclasses.dataclass(frozen=True)
class Origin:
    channel: str = ""  # "web", "cli", "admin", "api"; empty for the system's own work (the daily cycle)
    remote_addr: str | None = None


_SYSTEM = Origin()
_current: contextvars.ContextVar[Origin | None] = contextvars.ContextVar("onboard90_origin", default=None)


def current_origin() -> Origin:
    return _current.get() or _SYSTEM


@contextlib.contextmanager
def acting_from(origin: Origin) -> Iterator[Origin]:
    token = _current.set(origin)
    try:
        yield origin
    finally:
        _current.reset(token)


class OriginMiddleware:
    """Marks every web request's audit rows with the channel ("web", "admin" under /admin/, "api" under
    /api/) and the client's address (REMOTE_ADDR: behind a reverse proxy, the proxy sets it through the WSGI
    server)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        channel = "admin" if path.startswith("/admin/") else "api" if path.startswith("/api/") else "web"
        with acting_from(Origin(channel=channel, remote_addr=request.META.get("REMOTE_ADDR") or None)):
            return self.get_response(request)
