"""Signed bearer tokens: who the caller is (``sub``) and whether they operate shows.

By default HS256 with ``settings.token_secret`` (development and tests); with an
identity provider's keys configured, its RS256, ES256 or EdDSA tokens instead
(shared/http/identity.py). Claims ``sub`` (the customer id), the roles and ``exp``. The
services trust the token and nothing else about identity, so a customer id never comes
from a request body.

    python -m shared.http.auth alice               # a customer's token, 24 hours
    python -m shared.http.auth ops --operator --ttl-hours 1
"""

from __future__ import annotations

import argparse
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
import jwt
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

ALGORITHM = "HS256"
OPERATOR = "operator"
REALM = 'Bearer realm="cinema-saga"'


@dataclass(frozen=True)
class Caller:
    customer_id: str
    roles: frozenset[str] = frozenset()

    @property
    def is_operator(self) -> bool:
        return OPERATOR in self.roles


# What a handler takes to know its caller: ``request.user``, set by BearerAuth.
CallerRequest = Request[Caller, str, Any]


def issue_token(
    secret: str, subject: str, roles: Iterable[str] = (), ttl: timedelta = timedelta(hours=24)
) -> str:
    if not 1 <= len(subject) <= 64:
        raise ValueError("the subject (customer id) must be 1..64 characters")
    expires = int(time.time() + ttl.total_seconds())
    claims = {"sub": subject, "roles": sorted(set(roles)), "exp": expires}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> Caller:
    """The caller a token names; 401 with the reason when it names no one."""
    return verify_secret_token(secret, token)[0]


# Verifies a token: the caller it names and when it expires (epoch seconds), or raises
# the HTTP error to answer (401 with the reason).
Verify = Callable[[str], tuple[Caller, float]]


def verify_secret_token(secret: str, token: str) -> tuple[Caller, float]:
    """An HS256 token signed with the services' own secret."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("the bearer token has expired", invalid=True) from None
    except jwt.InvalidTokenError:
        raise unauthorized("the bearer token is invalid", invalid=True) from None
    return caller_of(claims), float(claims["exp"])


def caller_of(claims: dict[str, Any], roles_claim: str = "roles",
              operator_role: str = OPERATOR) -> Caller:
    """The caller verified claims name: ``sub``, and the roles at ``roles_claim`` (a
    claim's name, else a dotted path into nested claims), the provider's
    ``operator_role`` read as ours."""
    subject, roles = claims["sub"], _claim_at(claims, roles_claim)
    if not (isinstance(subject, str) and 1 <= len(subject) <= 64):
        raise unauthorized("the token's subject must be 1..64 characters", invalid=True)
    if not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
        raise unauthorized(f"the token's roles ({roles_claim}) must be a list of strings",
                           invalid=True)
    return Caller(subject, frozenset(OPERATOR if r == operator_role else r for r in roles))


def _claim_at(claims: dict[str, Any], path: str) -> Any:
    """A claim by its whole name, else by a dotted path; no roles where there is none."""
    if path in claims:
        return claims[path]
    found: Any = claims
    for part in path.split("."):
        if not isinstance(found, dict) or part not in found:
            return []
        found = found[part]
    return found


def unauthorized(message: str, invalid: bool = False) -> NotAuthorizedException:
    challenge = f'{REALM}, error="invalid_token"' if invalid else REALM  # RFC 6750 section 3
    return NotAuthorizedException(detail=message, headers={"WWW-Authenticate": challenge})


class BearerAuth(AbstractAuthenticationMiddleware):
    """Runs before the body is read: an anonymous request learns nothing about validation."""

    # Tokens already verified, until they expire: a customer polling a booking sends the
    # same token again and again, and checking its signature each time was about a tenth
    # of booking's CPU under load. Keyed by the whole token, so any change is a new one.
    VERIFIED_TOKENS = 10_000

    def __init__(self, app: ASGIApp, verify: Verify, blocking: bool = False,
                 **options: Any) -> None:
        """``blocking``: ``verify`` may wait on the network (an identity provider's keys),
        so it runs off the event loop."""
        super().__init__(app, **options)
        self.verify, self.blocking = verify, blocking
        self._verified: OrderedDict[str, tuple[Caller, float]] = OrderedDict()  # event loop only

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("send 'Authorization: Bearer <token>' (python -m shared.http.auth)")
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            self._verified.move_to_end(token)
            return AuthenticationResult(user=known[0], auth=token)
        # An expired one is refused here.
        if self.blocking:
            caller, expires = await anyio.to_thread.run_sync(self.verify, token)
        else:
            caller, expires = self.verify(token)
        self._verified[token] = (caller, expires)
        if len(self._verified) > self.VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return AuthenticationResult(user=caller, auth=token)


def operator_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard for endpoints that change what is on sale or reveal other customers' data."""
    if not connection.user.is_operator:
        raise PermissionDeniedException(detail="only operators may do this")


def main(argv: list[str] | None = None) -> None:
    from shared.config import Settings  # the same secret the services read

    parser = argparse.ArgumentParser(
        prog="python -m shared.http.auth", description="Print a bearer token."
    )
    parser.add_argument("subject", help="customer id (1..64 characters)")
    parser.add_argument("--operator", action="store_true", help="grant the operator role")
    parser.add_argument("--ttl-hours", type=float, default=24.0)
    args = parser.parse_args(argv)
    roles = [OPERATOR] if args.operator else []
    secret = Settings.from_env().token_secret
    print(issue_token(secret, args.subject, roles, timedelta(hours=args.ttl_hours)))


if __name__ == "__main__":
    main()
