"""The projector as a process: the worker loop plus /health, /ready, /lag, /metrics and the
operators' /ops routes (projections/ops_http.py)."""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

import uvicorn
from litestar import Litestar, get
from litestar.params import QueryParameter
from pymongo.database import Database

from projections.metrics import watch_projector, watch_stuck
from projections.operations import Operations
from projections.ops_http import create_app, rules
from projections.queries import MongoQueries
from projections.sources import stream_readers
from projections.worker import Projector
from shared.config import Settings
from shared.http.errors import error_responses
from shared.http.health import Readiness
from shared.observability import metrics
from shared.runtime import configure_observability

log = logging.getLogger(__name__)


def run(settings: Settings, db: Database) -> None:
    configure_observability("projections", settings)
    projector = Projector(db, stream_readers(settings))
    stop = threading.Event()
    worker = threading.Thread(
        target=projector.run_forever, args=(stop,),
        kwargs={"min_round": settings.tuning.projection_min_round_s}, daemon=True,
    )
    worker.start()

    def readiness() -> dict[str, bool]:
        db.command("ping")
        return {"mongodb": True, "worker_running": worker.is_alive(),
                "following_a_generation": projector.store is not None}

    ops = Operations(MongoQueries(db), rules(settings), stores=projector.readers)
    app = projector_app(projector, readiness, ops, settings)
    unwatch = metrics.together([watch_projector(projector), watch_stuck(ops)])
    port = settings.service_port("projections")
    log.info("projector listening on %s:%s", settings.http_host, port)
    try:
        uvicorn.Server(
            uvicorn.Config(app, host=settings.http_host, port=port, log_level="warning")
        ).run()
    finally:
        unwatch()
        stop.set()
        worker.join(timeout=10)


def projector_app(projector: Projector, readiness: Readiness, ops: Operations,
                  settings: Settings) -> Litestar:
    """The projector's HTTP API: /health, /ready, /lag and /metrics open, the operators'
    /ops routes behind a token (projections/ops_http.py)."""

    @get("/lag", sync_to_thread=False, exclude_from_auth=True, security=[],
         responses=error_responses(400))
    def lag(since: Annotated[float | None, QueryParameter()] = None) -> dict[str, Any]:
        """Per stream: events not yet projected, and the age of the last batch's oldest
        event. Since the process started (or since ``since``, epoch seconds), in ms:
        ``commit_to_view`` per committed transaction (its NOTIFY's arrival -> the round
        that read it acknowledged by MongoDB), ``recorded_to_view`` per public event (its
        recorded timestamp, taken before the service's commit -> the same)."""
        generation = projector.store.generation if projector.store else None
        return {"generation": generation, "streams": projector.lag, "holes": projector.holes,
                "commit_to_view": projector.commit_lags.summary(since),
                "recorded_to_view": projector.lags.summary(since), "rounds": projector.rounds,
                "work": {k: round(v, 3) for k, v in projector.stats.items()},
                "mongodb": {k: [n, round(t, 3)] for k, (n, t) in
                            (projector.store.timings.items() if projector.store else [])}}

    return create_app(ops, settings, readiness, open_routes=[lag])
