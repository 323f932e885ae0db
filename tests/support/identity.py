"""An identity provider for tests: its keys (RSA, Ed25519, P-256, made here), its JWKS
in a file or served over HTTP on 127.0.0.1, and the tokens it (or a forger) signs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://id.cinema.test/realms/cinema"
AUDIENCE = "cinema-api"


@dataclass(frozen=True)
class Key:
    kid: str
    algorithm: str  # RS256, EdDSA, ES256
    private: Any

    @property
    def public(self) -> Any:
        return self.private.public_key()

    @property
    def jwk(self) -> dict[str, Any]:
        to_jwk = {"RS256": RSAAlgorithm, "EdDSA": OKPAlgorithm, "ES256": ECAlgorithm}[self.algorithm]
        return {**to_jwk.to_jwk(self.public, as_dict=True), "kid": self.kid,
                "alg": self.algorithm, "use": "sig"}

    @property
    def public_pem(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)


@cache
def key(algorithm: str, kid: str | None = None) -> Key:
    """One key per algorithm and kid for the whole run (an RSA key takes a moment)."""
    private = {
        "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "EdDSA": ed25519.Ed25519PrivateKey.generate,
        "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    }[algorithm]()
    return Key(kid or f"{algorithm.lower()}-1", algorithm, private)


def jwks(*keys: Key) -> dict[str, Any]:
    return {"keys": [k.jwk for k in keys]}


def claims(subject: str = "alice", ttl: float = 3600, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + int(ttl),
            **extra}


def token(k: Key, **claim_values: Any) -> str:
    return jwt.encode(claims(**claim_values), k.private, algorithm=k.algorithm,
                      headers={"kid": k.kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], body: dict[str, Any], secret: bytes | None) -> str:
    """A token put together by hand: HMAC-SHA256 with ``secret``, or no signature."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(),
                                                     hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def write_jwks(path: Path, *keys: Key) -> Path:
    path.write_text(json.dumps(jwks(*keys)))
    return path


@dataclass
class JwksServer:
    """Serves ``document`` at ``url``; ``fetches`` counts the requests."""

    document: dict[str, Any]
    url: str = ""
    fetches: int = 0
    up: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fetched(self) -> dict[str, Any] | None:
        with self._lock:
            self.fetches += 1
            return self.document if self.up else None


@contextmanager
def serving(document: dict[str, Any]) -> Iterator[JwksServer]:
    served = JwksServer(document)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name for it
            body = served.fetched()
            if body is None:
                self.send_error(503)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}/realms/cinema/certs"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
