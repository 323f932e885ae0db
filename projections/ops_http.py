"""The projector's API for operators: a booking's path across the services, and the
stuck bookings. Behind a bearer token with the operator role; /health, /ready, /lag and
/metrics stay open (shared.http.app)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from projections.operations import Operations, SagaNotFound
from projections.stuck import StuckRules
from shared.config import Settings
from shared.http.app import service_app
from shared.http.auth import operator_only
from shared.http.errors import Problem, error_responses
from shared.http.health import Readiness

PROBLEMS: dict[type[Exception], Problem] = {
    SagaNotFound: Problem(404, "booking_not_found", "no booking {} in the views"),
}


def rules(settings: Settings) -> StuckRules:
    o = settings.observability
    return StuckRules(pending=timedelta(seconds=o.stuck_pending_s),
                      reconcile_after=settings.gateway.reconcile_after,
                      margin=timedelta(seconds=o.stuck_margin_s))


@get("/ops/bookings/{booking_id:uuid}/trace", guards=[operator_only], sync_to_thread=True,
     tags=["operations"], responses=error_responses(401, 403, 404))
def booking_trace(ops: NamedDependency[Operations], booking_id: FromPath[UUID]) -> dict[str, Any]:
    """A booking's path across the services, from the views: every event, when, which
    service recorded it, how long each hop took (``after_ms``); its trace id (to find
    its spans in Jaeger), and whether it is stuck."""
    return ops.saga(booking_id)


@get("/ops/stuck-bookings", guards=[operator_only], sync_to_thread=True,
     tags=["operations"], responses=error_responses(401, 403))
def stuck_bookings(ops: NamedDependency[Operations]) -> dict[str, Any]:
    """Bookings that have not moved on for longer than their step should take, the
    longest stuck first, with what each waits for; and the thresholds used."""
    r = ops.rules
    return {"bookings": ops.stuck(),
            "thresholds_s": {"pending": r.pending.total_seconds(),
                             "payment": (r.reconcile_after + r.margin).total_seconds(),
                             "margin": r.margin.total_seconds()}}


def create_app(ops: Operations, settings: Settings, readiness: Readiness | None,
               open_routes: list[HTTPRouteHandler]) -> Litestar:
    return service_app(
        title="cinema-saga projector",
        description="The views' lag, and what operators ask of the sagas.",
        routes=[booking_trace, stuck_bookings], settings=settings, readiness=readiness,
        dependencies={"ops": ops}, problems=PROBLEMS, open_routes=open_routes,
        name="projections",
    )
