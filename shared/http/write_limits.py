"""Too many writes: 429 ``rate_limited`` with ``Retry-After``, before the request's body
is read (OWASP API4 and API6: one client must not wear a service out, nor hold a show's
seats hostage with a stream of requests).

Every authenticated write (POST, PUT, PATCH, DELETE) of a customer counts against their
limit and their address's (shared/rate_limits.py). Operators are not limited, nor are
routes without a bearer token (health, a provider's signed webhooks). The address is
the connection's: behind a load balancer, uvicorn takes it from ``X-Forwarded-For``
when the balancer's address is in ``FORWARDED_ALLOW_IPS`` (docs/operations.md).
"""

from __future__ import annotations

import math

import anyio
from litestar.exceptions import TooManyRequestsException
from litestar.types import ASGIApp, Receive, Scope, Send

from shared.http.auth import Caller
from shared.rate_limits import WriteLimiter

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LimitWrites:
    """ASGI middleware, inside BearerAuth (it needs the caller)."""

    def __init__(self, app: ASGIApp, limiter: WriteLimiter) -> None:
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = scope.get("user")
        if (scope.get("method") in WRITES
                and isinstance(caller, Caller) and not caller.is_operator):
            client = scope.get("client")
            address = client[0] if client else "unknown"
            check = self.limiter.check
            if self.limiter.remote:  # a round trip to Redis: off the event loop
                refusal = await anyio.to_thread.run_sync(check, caller.customer_id, address)
            else:
                refusal = check(caller.customer_id, address)
            if refusal is not None:
                raise TooManyRequestsException(
                    detail=str(refusal),
                    headers={"Retry-After": str(max(1, math.ceil(refusal.retry_after_s)))})
        await self.app(scope, receive, send)
