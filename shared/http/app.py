"""Assembles one service's litestar app: its routes behind bearer auth (but those a
caller without a token must reach: a provider's webhooks), health, error mapping, the
request size limit and the OpenAPI document with its docs page.

OpenAPI is served by litestar 2.x's render plugins: ``/schema/openapi.json`` and
Swagger UI at ``/schema`` and ``/schema/swagger``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from shared.config import Settings
from shared.http.auth import BearerAuth
from shared.http.bodies import strictly_typed
from shared.http.errors import Problem, exception_handlers
from shared.http.health import Readiness, health_routes
from shared.http.struct_schemas import StructSchemas
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
            open_routes=self.open_routes,
        )


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
) -> Litestar:
    """``dependencies`` maps handler parameter names to values (the service, limits).

    A handler takes at most one of them (tests/http/test_platform.py checks), and reads
    the caller from ``request.user`` (``CallerRequest``), not from a dependency: litestar
    resolves two or more dependencies of a handler in an anyio task group, a task each,
    a cost paid on every request for handing over constants."""
    provided = {
        name: Provide(_constant(value), sync_to_thread=False)
        for name, value in dependencies.items()
    }
    secured = Router("/", route_handlers=list(routes), security=[{BEARER: []}])
    return Litestar(
        route_handlers=[secured, *open_routes, *health_routes(readiness)],
        dependencies=provided,
        middleware=[
            DefineMiddleware(BearerAuth, secret=settings.token_secret, exclude=[f"^{SCHEMA_PATH}"])
        ],
        exception_handlers=exception_handlers(problems),
        before_request=strictly_typed,
        request_max_body_size=settings.limits.max_request_bytes,
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
