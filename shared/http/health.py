"""Liveness and readiness, open to anyone (load balancers and orchestrators carry no token).

``/health`` says the process answers; ``/ready`` says it can do its job now: each
check the runtime reports (database reachable, partitions assigned, loops alive)
is listed, and any false one makes it 503 so traffic goes elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

Readiness = Callable[[], dict[str, bool]]
log = logging.getLogger("cinema.http")


class Alive(msgspec.Struct, frozen=True):
    status: str = "alive"


class Ready(msgspec.Struct, frozen=True):
    ready: bool
    checks: dict[str, bool]


class NotReady(Ready, frozen=True):
    """A 503 carries the error shape every error has, besides the checks."""

    error: str  # not_ready
    message: str  # which checks failed


def health_routes(readiness: Readiness | None) -> list[HTTPRouteHandler]:
    @get("/health", exclude_from_auth=True, tags=["health"], security=[], sync_to_thread=False)
    def health() -> Alive:
        return Alive()

    @get(
        "/ready", exclude_from_auth=True, tags=["health"], security=[], sync_to_thread=True,
        responses={503: ResponseSpec(NotReady, description="a check failed")},
    )
    def ready() -> Response[Ready]:
        try:
            checks = {name: bool(ok) for name, ok in (readiness() if readiness else {}).items()}
        except Exception:  # a probe that cannot even ask is not ready
            log.exception("readiness check failed")
            checks = {"readiness_probe": False}
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            return Response(NotReady(False, checks, "not_ready", f"failing: {', '.join(failed)}"),
                            status_code=503)
        return Response(Ready(True, checks))

    return [health, ready]
