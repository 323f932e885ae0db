"""Tokens from an identity provider: RS256, EdDSA and ES256 keys made here, published as a
JWKS in a file or over HTTP on 127.0.0.1; what passes, what is refused and why."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jwt
import pytest

from shared.config import Settings, TokenSettings
from shared.http import identity
from shared.http.auth import issue_token
from tests.support.api import Api, http_settings, serve
from tests.support.embedded import embedded_system
from tests.support.identity import (
    AUDIENCE,
    ISSUER,
    bearer,
    claims,
    forged,
    jwks,
    key,
    serving,
    token,
    write_jwks,
)
from tests.support.tokens import SECRET

RSA, ED, EC = key("RS256"), key("EdDSA"), key("ES256")


@contextmanager
def provider_api(source: str, **tokens: object) -> Iterator[Api]:
    settings = http_settings(tokens=TokenSettings(
        jwks=source, issuer=ISSUER, audience=AUDIENCE, leeway_s=30, **tokens))  # type: ignore[arg-type]
    with serve(embedded_system(), settings) as api:
        yield api


@pytest.fixture
def jwks_file(tmp_path: Path) -> str:
    return str(write_jwks(tmp_path / "jwks.json", RSA, ED, EC))


def answer(api: Api, value: str) -> tuple[int, str]:
    r = api.booking.get("/bookings", headers=bearer(value))
    if r.status_code == 401:
        assert r.headers["www-authenticate"] == 'Bearer realm="cinema-saga", error="invalid_token"'
        assert r.json()["error"] == "unauthorized"
    return r.status_code, r.json().get("message", "") if r.status_code != 200 else ""


@pytest.mark.parametrize("signer", [RSA, ED, EC], ids=["RS256", "EdDSA", "ES256"])
def test_the_providers_tokens_pass_from_a_file(jwks_file: str, signer) -> None:
    with provider_api(jwks_file) as api:
        assert answer(api, token(signer)) == (200, "")


@pytest.mark.parametrize("signer", [RSA, ED], ids=["RS256", "EdDSA"])
def test_the_providers_tokens_pass_from_a_url_fetched_once(signer) -> None:
    with serving(jwks(RSA, ED)) as provider, provider_api(provider.url) as api:
        for subject in ("alice", "bob", "carol"):
            assert answer(api, token(signer, subject=subject)) == (200, "")
        assert provider.fetches == 1


def without(name: str) -> dict:
    body = claims()
    del body[name]
    return body


OTHER_RSA = key("RS256", "rs256-other")  # a key the provider never published


# Made when the test runs: times are relative to now.
@pytest.mark.parametrize(("make", "says"), [
    (lambda: token(RSA, aud="another-api"), "the bearer token is for another audience"),
    (lambda: token(RSA, iss="https://id.elsewhere.test/"), "the bearer token's issuer is not trusted"),
    (lambda: token(ED, ttl=-31), "the bearer token has expired"),  # beyond the 30 s of leeway
    (lambda: token(RSA, nbf=claims()["iat"] + 60), "the bearer token is not valid yet"),
    (lambda: token(OTHER_RSA), "the bearer token's key (rs256-other) is not one of the issuer's"),
    (lambda: jwt.encode(claims(), OTHER_RSA.private, algorithm="RS256", headers={"kid": RSA.kid}),
     "the bearer token is invalid"),  # another key's signature under a published kid
    (lambda: jwt.encode(claims(), RSA.private, algorithm="RS256"), "names no key (kid)"),
    (lambda: jwt.encode(without("aud"), RSA.private, algorithm="RS256", headers={"kid": RSA.kid}),
     "the bearer token has no aud claim"),
    (lambda: jwt.encode(without("sub"), RSA.private, algorithm="RS256", headers={"kid": RSA.kid}),
     "the bearer token has no sub claim"),
    (lambda: forged({"alg": "none", "kid": RSA.kid}, claims(), None),
     "the bearer token's algorithm (none) is not accepted: RS256, ES256, EdDSA"),
    # The provider's public key as an HMAC secret: anyone could sign with it.
    (lambda: forged({"alg": "HS256", "typ": "JWT", "kid": RSA.kid}, claims(), RSA.public_pem),
     "the bearer token's algorithm (HS256) is not accepted"),
    # The development secret signs nothing once a provider is configured.
    (lambda: issue_token(SECRET, "alice"), "the bearer token's algorithm (HS256) is not accepted"),
    # A key of one algorithm under a token that claims another.
    (lambda: forged({"alg": "ES256", "kid": RSA.kid}, claims(), b"x"), "the bearer token is invalid"),
    (lambda: "not.a.token", "the bearer token is invalid"),
], ids=["audience", "issuer", "expired", "not-yet", "unknown-kid", "wrong-signature", "no-kid",
        "no-aud", "no-sub", "alg-none", "hs256-with-public-key", "dev-secret", "alg-mismatch",
        "garbage"])
def test_refused_with_401_and_the_reason(jwks_file: str, make, says: str) -> None:
    with provider_api(jwks_file) as api:
        status, message = answer(api, make())
    assert status == 401 and says in message, message


def test_clock_skew_within_the_leeway_is_tolerated(jwks_file: str) -> None:
    with provider_api(jwks_file) as api:
        assert answer(api, token(RSA, ttl=-15)) == (200, "")  # expired 15 s ago: skew
        assert answer(api, token(ED, nbf=claims()["iat"] + 15)) == (200, "")


def test_roles_from_a_nested_claim_named_by_the_provider(jwks_file: str) -> None:
    keycloak = {"realm_access": {"roles": ["offline_access", "cinema-operator"]}}
    with provider_api(jwks_file, roles_claim="realm_access.roles",
                      operator_role="cinema-operator") as api:
        assert api.inventory.get("/ops/dead-letters",
                                 headers=bearer(token(RSA, **keycloak))).status_code == 200
        customer = bearer(token(RSA, realm_access={"roles": ["offline_access"]}))
        assert api.inventory.get("/ops/dead-letters", headers=customer).status_code == 403
        no_roles = bearer(token(RSA))
        assert api.inventory.get("/ops/dead-letters", headers=no_roles).status_code == 403


def test_roles_from_a_namespaced_claim(jwks_file: str) -> None:
    auth0 = {"https://cinema.test/roles": ["operator"]}
    with provider_api(jwks_file, roles_claim="https://cinema.test/roles") as api:
        assert api.inventory.get("/ops/dead-letters",
                                 headers=bearer(token(ED, **auth0))).status_code == 200
        wrong = bearer(token(ED, **{"https://cinema.test/roles": "operator"}))
        r = api.inventory.get("/ops/dead-letters", headers=wrong)
        assert r.status_code == 401 and "must be a list of strings" in r.json()["message"]


def test_an_unknown_kid_refetches_the_keys_at_most_once_per_cooldown() -> None:
    rotated = key("RS256", "rs256-2")
    with serving(jwks(RSA)) as provider, provider_api(provider.url) as api:
        assert answer(api, token(RSA))[0] == 200
        provider.document = jwks(RSA, rotated)  # the provider rotates its keys
        for n in range(5):  # within the cooldown of the last fetch: none refetches
            status, message = answer(api, token(rotated, subject=f"user-{n}"))
            assert status == 401 and "(rs256-2) is not one of the issuer's" in message
            assert answer(api, token(key("RS256", f"made-up-{n}")))[0] == 401
        assert provider.fetches == 1


def test_a_rotated_key_is_fetched_when_first_seen(monkeypatch) -> None:
    monkeypatch.setattr(identity, "REFRESH_COOLDOWN_S", 0.0)
    rotated = key("EdDSA", "eddsa-2")
    with serving(jwks(ED)) as provider, provider_api(provider.url) as api:
        assert answer(api, token(ED))[0] == 200
        provider.document = jwks(ED, rotated)
        assert answer(api, token(rotated)) == (200, "")
        assert provider.fetches == 2


def test_keys_that_cannot_be_fetched_are_503_not_the_callers_fault() -> None:
    with serving(jwks(RSA)) as provider, provider_api(provider.url) as api:
        provider.up = False
        r = api.booking.get("/bookings", headers=bearer(token(RSA)))
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert r.json()["error"] == "unavailable"
        assert "identity provider's keys cannot be read" in r.json()["message"]
        provider.up = True
        assert answer(api, token(RSA))[0] == 200


def test_a_provider_without_issuer_or_audience_or_keys_is_refused_at_start(tmp_path) -> None:
    path = str(write_jwks(tmp_path / "jwks.json", RSA))
    for tokens in (TokenSettings(jwks=path, audience=AUDIENCE),
                   TokenSettings(jwks=path, issuer=ISSUER),
                   TokenSettings(jwks=str(tmp_path / "missing.json"), issuer=ISSUER,
                                 audience=AUDIENCE)):
        with pytest.raises(ValueError, match="CINEMA_TOKEN"):
            identity.token_verifier(Settings(tokens=tokens))
