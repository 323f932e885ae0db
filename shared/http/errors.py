"""Every error leaves the APIs as ``{"error": <code>, "message": <text>}``.

Each service names its own domain exceptions in a table of ``Problem``s (so no
service's API imports another's domain); this module turns that table plus the
framework's exceptions into litestar exception handlers, in one place.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi.datastructures import ResponseSpec

from shared.recorder import StoreDiverged

log = logging.getLogger("cinema.http")


class ErrorBody(msgspec.Struct, frozen=True, omit_defaults=True):
    error: str  # a short, stable code clients may branch on
    message: str  # for humans
    extra: list[dict[str, Any]] | None = None  # validation: one entry per offending field


class Problem(NamedTuple):
    status: int
    error: str
    message: str = "{}"  # formatted with str(exception)


STATUS_CODES = {
    400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "request_too_large", 422: "unprocessable",
    429: "rate_limited", 503: "unavailable",
}
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")


def _respond(
    status: int, body: ErrorBody, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        body, status_code=status, headers=dict(headers or {}), media_type=MediaType.JSON
    )


def _invalid(_: Request, exc: ValidationException) -> Response:
    extra = [dict(e) for e in exc.extra] if isinstance(exc.extra, list) else []
    for e in extra:
        # msgspec reports an unknown top-level field against the whole body ("data").
        found = _UNKNOWN_FIELD.search(str(e.get("message", "")))
        if found and e.get("key") in (None, "data"):
            e["key"] = found.group(1)
        e["source"] = getattr(e.get("source"), "value", e.get("source"))  # an enum for params
    named = "; ".join(f"{e.get('key')} ({e.get('source')}): {e.get('message')}" for e in extra)
    message = f"{exc.detail}: {named}" if named else exc.detail
    return _respond(400, ErrorBody("invalid_request", message, extra or None))


def _too_large(request: Request, exc: RequestEntityTooLarge) -> Response:
    limit = request.route_handler.resolve_request_max_body_size()
    return _respond(413, ErrorBody("request_too_large", f"the request body exceeds {limit} bytes"))


def _http(_: Request, exc: HTTPException) -> Response:
    code = STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return _respond(exc.status_code, ErrorBody(code, exc.detail), exc.headers)


def _store_unavailable(request: Request, exc: Exception) -> Response:
    # A lost connection or a restarted database: the outcome of a write may be unknown,
    # and the same request with the same Idempotency-Key is safe to send again.
    log.warning("store unavailable in %s %s: %s", request.method, request.url.path, exc)
    return _respond(503, ErrorBody(
        "store_unavailable",
        "the service's database is unavailable or was just restarted; try again"
        " (with the same Idempotency-Key, if any)"), {"Retry-After": "1"})


def _unexpected(request: Request, exc: Exception) -> Response:
    # The details go to the log, never to the client.
    log.exception("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(500, ErrorBody("internal_error", "an unexpected error occurred; it was logged"))


def exception_handlers(problems: Mapping[type[Exception], Problem]) -> dict[Any, Any]:
    """Handlers for the framework's errors and the service's own ``problems``."""

    def domain(_: Request, exc: Exception) -> Response:
        problem = next(problems[c] for c in type(exc).__mro__ if c in problems)
        return _respond(problem.status, ErrorBody(problem.error, problem.message.format(exc)))

    return {
        **{kind: domain for kind in problems},
        ValidationException: _invalid,
        RequestEntityTooLarge: _too_large,
        HTTPException: _http,
        StoreDiverged: _store_unavailable,
        OperationalError: _store_unavailable,
        InterfaceError: _store_unavailable,
        Exception: _unexpected,
    }


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error statuses an endpoint may answer with."""
    return {
        status: ResponseSpec(
            ErrorBody, description=STATUS_CODES.get(status, "error"), generate_examples=False
        )
        for status in statuses
    }
