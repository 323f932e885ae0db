"""Every HTTP API's observation: requests counted and timed by route template (never
the raw path, which holds ids) and status, and ``/metrics`` for Prometheus.

``/metrics`` is open like ``/health``: scrapers carry no token, and it tells nothing of
any customer (no ids in labels). The services listen on loopback by default; in a
container, only the scraping network should reach it (compose.yaml publishes no
metrics port to the host beyond the services' own).
"""

from __future__ import annotations

import time
from contextlib import nullcontext

from litestar import Response, get
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry.trace import StatusCode

from shared.observability import metrics, tracing

METRICS_PATH = "/metrics"
# Asked again and again by machines: counted, never traced.
UNTRACED = frozenset({METRICS_PATH, "/health", "/ready", "/lag"})


def _traceparent(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"traceparent":
            return value.decode("latin-1")
    return None


class ObservedHttp:
    """ASGI middleware; litestar runs it after routing, so the route's template is known."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering
        method, route = scope["method"], scope["path_template"]
        traced = (tracing.server_span(f"{method} {route}", _traceparent(scope),
                                      {"http.request.method": method, "http.route": route,
                                       "cinema.service": self.service})
                  if tracing.enabled() and route not in UNTRACED else nullcontext())

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with traced as span:
            try:
                await self.app(scope, receive, answer)
            except Exception as error:  # answered by the app's exception handlers, outside
                status = getattr(error, "status_code", 500)
                raise
            finally:
                if span is not None:
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(StatusCode.ERROR)
                metrics.child(metrics.HTTP_REQUESTS, self.service, method, route, str(status)).inc()
                metrics.child(metrics.HTTP_DURATION, self.service, method, route).observe(
                    time.perf_counter() - started)


def observed_http(service: str) -> DefineMiddleware:
    """The middleware, for an app's ``middleware`` list (first: it sees refusals too)."""
    return DefineMiddleware(ObservedHttp, service=service)


def metrics_routes() -> list[HTTPRouteHandler]:
    # In a worker thread: the scrape-time gauges may ask a database.
    @get(METRICS_PATH, exclude_from_auth=True, tags=["health"], security=[],
         sync_to_thread=True, include_in_schema=False)
    def scrape() -> Response[bytes]:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return [scrape]
