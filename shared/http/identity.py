"""Which bearer tokens a service accepts: the development secret's, or an identity
provider's (Keycloak, Auth0, ...).

Without ``CINEMA_TOKEN_JWKS``: HS256 tokens signed with ``CINEMA_TOKEN_SECRET``
(``python -m shared.http.auth`` prints one). With it: tokens the provider signs with
RS256, ES256 or EdDSA, verified with the key their header names (``kid``) among the keys
it publishes (a JWKS, from a file or an http(s) URL), which must carry the configured
issuer and audience, and be within their validity (``exp``, ``nbf``, ``iat``) give or
take ``CINEMA_TOKEN_LEEWAY_S`` of clock skew. The development secret then signs nothing:
an HS256 token is refused, and so are ``alg: none`` and a provider's public key used as
an HMAC secret (the classic confusion), before any key is looked at.

The keys are PyJWT's ``PyJWKClient``'s: kept for ``KEYS_FOR_S`` (5 min), fetched again
at once for a ``kid`` it does not know (the provider rotated its keys), but at most once
per ``REFRESH_COOLDOWN_S`` (30 s), so tokens with made-up ``kid``s cost the provider one
request per half minute. Keys that cannot be fetched at all are the service's trouble,
not the caller's: 503, try again, never a 401 that tells a good token it is bad.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError
from litestar.exceptions import ServiceUnavailableException

from shared.config import Settings, TokenSettings
from shared.http.auth import Caller, Verify, caller_of, unauthorized, verify_secret_token

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256", "EdDSA")
KEYS_FOR_S = 300.0
REFRESH_COOLDOWN_S = 30.0
FETCH_TIMEOUT_S = 5.0


def token_verifier(settings: Settings) -> tuple[Verify, bool]:
    """How the services' APIs verify tokens, and whether that may block on the network."""
    t = settings.tokens
    if not t.jwks:
        return (lambda token: verify_secret_token(settings.token_secret, token)), False
    return ProviderTokens(jwks_client(t.jwks), t), True


def jwks_client(source: str) -> PyJWKClient:
    """The keys at an http(s) URL, or in a file (its path)."""
    options: dict[str, Any] = {"lifespan": KEYS_FOR_S, "cooldown_duration": REFRESH_COOLDOWN_S,
                               "timeout": FETCH_TIMEOUT_S}
    if source.startswith(("https://", "http://")):
        return PyJWKClient(source, **options)
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"CINEMA_TOKEN_JWKS: no file {source} (or give an http(s) URL)")
    return JwksFile(path, **options)


class JwksFile(PyJWKClient):
    """The keys in a file (a mounted secret, a config map), read as the URL's are fetched:
    again after ``lifespan``, and for a ``kid`` it does not know."""

    def __init__(self, path: Path, **options: Any) -> None:
        # PyJWKClient takes only http(s) URIs (a URL from a token must never name a
        # file); this one is the operator's, and never fetched.
        super().__init__("https://jwks.invalid/", **options)
        self.path = path

    def fetch_data(self) -> Any:
        try:
            return json.loads(self.path.read_bytes())
        except (OSError, ValueError) as e:
            raise PyJWKClientConnectionError(f"cannot read the JWKS in {self.path}: {e}") from e


class ProviderTokens:
    def __init__(self, keys: PyJWKClient, settings: TokenSettings) -> None:
        if not (settings.issuer and settings.audience):
            raise ValueError("CINEMA_TOKEN_JWKS needs CINEMA_TOKEN_ISSUER and "
                             "CINEMA_TOKEN_AUDIENCE: a token for another service, or from "
                             "another issuer with keys in the same set, must not pass")
        self.keys, self.settings = keys, settings

    def __call__(self, token: str) -> tuple[Caller, float]:
        t = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise unauthorized("the bearer token is invalid", invalid=True) from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise unauthorized(f"the bearer token's algorithm ({algorithm}) is not accepted:"
                               f" {', '.join(ALGORITHMS)}", invalid=True)
        if not (isinstance(kid, str) and kid):
            raise unauthorized("the bearer token names no key (kid)", invalid=True)
        try:
            key = self.keys.get_signing_key(kid)
        except (PyJWKClientConnectionError, PyJWKSetError) as e:
            log.warning("the identity provider's keys could not be read: %s", e)
            raise ServiceUnavailableException(
                "the identity provider's keys cannot be read now; try again",
                headers={"Retry-After": "5"}) from None
        except PyJWKClientError:
            raise unauthorized(f"the bearer token's key ({kid}) is not one of the issuer's",
                               invalid=True) from None
        try:
            claims = jwt.decode(
                token, key, algorithms=list(ALGORITHMS), issuer=t.issuer, audience=t.audience,
                leeway=t.leeway_s, options={"require": ["sub", "exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("the bearer token has expired", invalid=True) from None
        except jwt.ImmatureSignatureError:
            raise unauthorized("the bearer token is not valid yet", invalid=True) from None
        except jwt.InvalidAudienceError:
            raise unauthorized("the bearer token is for another audience", invalid=True) from None
        except jwt.InvalidIssuerError:
            raise unauthorized("the bearer token's issuer is not trusted", invalid=True) from None
        except jwt.MissingRequiredClaimError as e:
            raise unauthorized(f"the bearer token has no {e.claim} claim", invalid=True) from None
        except jwt.InvalidTokenError:
            raise unauthorized("the bearer token is invalid", invalid=True) from None
        return caller_of(claims, t.roles_claim, t.operator_role), float(claims["exp"])
