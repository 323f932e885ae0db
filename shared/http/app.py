"""Assembles one service's litestar app: its routes behind bearer auth (but those a
caller without a token must reach: a provider's webhooks), the limits on writes, the
operators' read of its dead letters, health, error mapping, the request size limit and
the OpenAPI document with its docs page.

OpenAPI is served by litestar 2.x's render plugins: ``/schema/openapi.json`` and
Swagger UI at ``/schema`` and ``/schema/swagger``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from shared.config import Settings
from shared.http.auth import BearerAuth
from shared.http.bodies import strictly_typed
from shared.http.errors import Problem, error_responses, exception_handlers
from shared.http.health import Readiness, health_routes
from shared.http.identity import token_verifier
from shared.http.ops import ops_routes
from shared.http.struct_schemas import StructSchemas
from shared.http.write_limits import WRITES, LimitWrites
from shared.messaging.dead_letters import DeadLetters
from shared.observability import logs
from shared.observability.http import metrics_routes, observed_http
from shared.rate_limits import WriteLimiter
from shared.redis_link import RedisLink
from shared.views import ViewQueries

SCHEMA_PATH = "/schema"
BEARER = "bearer"


@dataclass(frozen=True)
class ServiceApi:
    """A service's HTTP API, declared once; ``create_app`` builds it for a running service."""

    title: str
    description: str
    routes: Sequence[Any]
    problems: Mapping[type[Exception], Problem]
    # The handlers' one dependency, ``api``: built from the service, its read side (the
    # views; None in some tests) and the settings.
    handlers_take: Callable[[Any, ViewQueries | None, Settings], Any]
    # Routes called without a bearer token, which authenticate their callers themselves
    # (a webhook's signature); each handler also says ``exclude_from_auth=True``.
    open_routes: Sequence[Any] = ()

    def create_app(self, service: Any, settings: Settings, readiness: Readiness | None = None,
                   views: ViewQueries | None = None) -> Litestar:
        return service_app(
            title=self.title, description=self.description, routes=self.routes,
            settings=settings, readiness=readiness, problems=self.problems,
            dependencies={"api": self.handlers_take(service, views, settings)},
            open_routes=self.open_routes, dead_letters=getattr(service, "dead_letters", None),
            name=getattr(service, "service", self.title),
        )


def documents_write_limits(handler: Any) -> None:
    """A customer's write may be refused by the write limits (shared/http/write_limits.py):
    its OpenAPI entry says so, whatever the handler declared."""
    if isinstance(handler, HTTPRouteHandler) and handler.http_methods & WRITES:
        handler.responses = {**error_responses(429), **(handler.responses or {})}


def service_app(
    *,
    title: str,
    description: str,
    routes: Sequence[Any],
    settings: Settings,
    readiness: Readiness | None,
    dependencies: Mapping[str, Any],
    problems: Mapping[type[Exception], Problem],
    open_routes: Sequence[Any] = (),
    dead_letters: DeadLetters | None = None,
    name: str = "",
) -> Litestar:
    """``dependencies`` maps handler parameter names to values (the service, limits);
    ``dead_letters``: the service's, read by operators at ``/ops/dead-letters``; ``name``:
    the service's, which scopes its limits on writes and labels its metrics.

    A handler takes at most one of them (tests/http/test_platform.py checks), and reads
    the caller from ``request.user`` (``CallerRequest``), not from a dependency: litestar
    resolves two or more dependencies of a handler in an anyio task group, a task each,
    a cost paid on every request for handing over constants."""
    provided = {
        name: Provide(_constant(value), sync_to_thread=False)
        for name, value in dependencies.items()
    }
    verify, blocking = token_verifier(settings)
    link = RedisLink(settings.redis_url) if settings.redis_url else None
    limiter = WriteLimiter(settings.write_limits, link,
                           namespace=f"{settings.topic_prefix}rate:{{{name or title}}}:")
    ops = ops_routes(dead_letters) if dead_letters is not None else []
    for route in routes:
        documents_write_limits(route)
    secured = Router("/", route_handlers=[*routes, *ops], security=[{BEARER: []}])
    return Litestar(
        route_handlers=[secured, *open_routes, *health_routes(readiness), *metrics_routes()],
        dependencies=provided,
        middleware=[
            observed_http(name or title),  # first: it counts the refusals of those after it
            DefineMiddleware(BearerAuth, verify=verify, blocking=blocking,
                             exclude=[f"^{SCHEMA_PATH}"]),
            DefineMiddleware(LimitWrites, limiter=limiter),  # inside: it needs the caller
        ],
        exception_handlers=exception_handlers(problems),
        before_request=strictly_typed,
        request_max_body_size=settings.limits.max_request_bytes,
        logging_config=logs.LITESTAR,
        plugins=[StructSchemas()],
        openapi_config=OpenAPIConfig(
            title=title,
            version="1.0.0",
            description=description,
            path=SCHEMA_PATH,
            # The first plugin also answers at the root, /schema.
            render_plugins=[SwaggerRenderPlugin(), JsonRenderPlugin()],
            components=Components(
                security_schemes={
                    BEARER: SecurityScheme(
                        type="http", scheme="bearer", bearer_format="JWT",
                        description="python -m shared.http.auth SUBJECT [--operator]",
                    )
                }
            ),
            use_handler_docstrings=True,
        ),
    )


def _constant(value: Any) -> Any:
    def provide() -> Any:
        return value

    return provide
