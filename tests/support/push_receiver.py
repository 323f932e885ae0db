"""A push service and its browsers on 127.0.0.1, for the Web Push channel's tests.

There is no push service to run here, so this plays both ends: ``subscribe()`` makes a
subscription as a browser does (a P-256 ECDH key pair and a 16-byte auth secret, with
``cryptography``; the endpoint is this server's), and the server takes the pushes posted
to it as a push service does (RFC 8030): it checks the VAPID ``Authorization`` (RFC
8292: an ES256 JWT for this origin, not expired, signed by the key it names, which must
be the application server's key when one is given), the ``TTL``, ``Topic`` and
``Content-Encoding`` headers, and decrypts the body with the subscription's private key
(RFC 8291, ``aes128gcm``, with ``http_ece``), which proves the real encryption path.

It answers 201, or what a test asks for: ``respond(subscription, 500)`` for the next
push, ``unsubscribe(subscription)`` for 410 from then on. Each push it was sent is kept
as a ``Delivery``, with its plaintext and what, if anything, was wrong with it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notifications.channels import PushSubscription

TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_EXPIRY_S = 24 * 3600  # RFC 8292: a JWT's exp at most 24 hours ahead


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One subscription, with the keys its browser keeps to itself."""

    id: str
    subscription: PushSubscription
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    answers: list[int] = field(default_factory=list)  # the next pushes' statuses
    gone: bool = False


@dataclass(frozen=True)
class Delivery:
    """One push as the push service received it."""

    subscription_id: str
    status: int  # what it answered
    headers: dict[str, str]  # lower-cased names
    plaintext: bytes | None  # decrypted, or None if it could not be
    claims: dict[str, Any] | None  # the VAPID JWT's, once verified
    vapid_key: str  # the k= of the Authorization header
    problem: str  # why it was refused ("" when it was fine)

    def json(self) -> Any:
        assert self.plaintext is not None, self.problem
        return json.loads(self.plaintext)


class PushReceiver:
    """``with PushReceiver(application_server_key) as receiver: ...``"""

    def __init__(self, application_server_key: str | None = None) -> None:
        self.application_server_key = application_server_key
        self._browsers: dict[str, Browser] = {}
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver._receive(self.path, headers, body)
                self.send_response(status)
                if status == 201 or 300 <= status < 400:  # the message's URL, or elsewhere
                    self.send_header("Location", f"{receiver.base}/message/{uuid.uuid4().hex}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the deliveries are the record

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll: shutdown() waits for it.
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- the browser's side ------------------------------------------------

    def subscribe(self) -> Browser:
        private_key = ec.generate_private_key(ec.SECP256R1())
        public = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        auth = os.urandom(16)
        subscription_id = uuid.uuid4().hex
        browser = Browser(
            id=subscription_id,
            subscription=PushSubscription(endpoint=f"{self.base}/push/{subscription_id}",
                                          p256dh=b64url(public), auth=b64url(auth)),
            private_key=private_key, auth=auth)
        with self._lock:
            self._browsers[subscription_id] = browser
        return browser

    def respond(self, browser: Browser, *statuses: int) -> None:
        """Answer the next pushes to this subscription with these statuses, then 201."""
        with self._lock:
            browser.answers.extend(statuses)

    def unsubscribe(self, browser: Browser) -> None:
        """The browser dropped the subscription: 410 Gone from now on."""
        with self._lock:
            browser.gone = True

    def deliveries(self, browser: Browser | None = None) -> list[Delivery]:
        with self._lock:
            return [d for d in self._deliveries if browser is None or d.subscription_id == browser.id]

    # --- the push service's side -------------------------------------------

    def _receive(self, path: str, headers: dict[str, str], body: bytes) -> int:
        match = re.fullmatch(r"/push/([0-9a-f]+)", path)
        with self._lock:
            browser = self._browsers.get(match.group(1)) if match else None
        if browser is None:
            return 404
        claims, key, problem, status = None, "", "", 201
        try:
            claims, key = self._verify_vapid(headers.get("authorization", ""))
        except (ValueError, jwt.InvalidTokenError) as error:
            problem, status = f"VAPID: {error}", 401
        if not problem and self.application_server_key and key != self.application_server_key:
            problem, status = "VAPID: signed by another key than the subscription's", 403
        problem, status = (problem, status) if problem else _check_headers(headers)
        plaintext = None
        try:
            plaintext = http_ece.decrypt(body, private_key=browser.private_key,
                                         auth_secret=browser.auth, version="aes128gcm")
        except Exception as error:  # noqa: BLE001 (any failure to decrypt is the finding)
            if not problem:
                problem, status = f"not decryptable: {error!r}", 400
        with self._lock:
            if status == 201 and browser.gone:
                status = 410
            elif status == 201 and browser.answers:
                status = browser.answers.pop(0)
            self._deliveries.append(Delivery(browser.id, status, headers, plaintext, claims,
                                             key, problem))
        return status

    def _verify_vapid(self, authorization: str) -> tuple[dict[str, Any], str]:
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError(f"not a vapid Authorization: {authorization[:40]!r}")
        fields = dict(part.strip().split("=", 1) for part in params.split(","))
        key = fields["k"]
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
        claims: dict[str, Any] = jwt.decode(
            fields["t"], public, algorithms=["ES256"], audience=self.base,
            options={"require": ["exp", "sub", "aud"]})
        if claims["exp"] > time.time() + MAX_EXPIRY_S:
            raise ValueError(f"exp more than 24 hours ahead: {claims['exp']}")
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            raise ValueError(f"sub is not a mailto: or https: contact: {claims['sub']!r}")
        return claims, key


def _check_headers(headers: dict[str, str]) -> tuple[str, int]:
    if not headers.get("ttl", "").isdigit():
        return f"TTL missing or not a number: {headers.get('ttl')!r}", 400
    if headers.get("content-encoding") != "aes128gcm":
        return f"Content-Encoding {headers.get('content-encoding')!r}", 415
    if "topic" in headers and not TOPIC.fullmatch(headers["topic"]):
        return f"Topic {headers['topic']!r} is not 1-32 URL-safe base64 characters", 400
    return "", 201
