"""The Web Push channel: each ``Push`` encrypted for its subscription (RFC 8291,
``aes128gcm``) and posted to the subscription's push service, signed with the server's
VAPID key (RFC 8292), with ``pywebpush``.

The payload is JSON: ``title``, ``body``, ``booking_id``, ``message_id`` (the service
worker shows the first two and can drop a copy it has shown by the last). Headers:
``TTL`` (how long the push service keeps it for an offline browser) and ``Topic``,
derived from the message id: a push service keeps one undelivered message per topic, so
a resend replaces its first copy rather than adding another.

Failures (``DeliveryFailed``): 404 and 410 mean the subscription is gone (the browser
unsubscribed or expired it): permanent, and the subscription should be forgotten. 400,
403 and 413 say this request can never be taken (malformed, a key the subscription was
not made with, too large): permanent. 429, 5xx, other answers, timeouts and connection
errors: retryable.

Endpoints come from browsers, so only ``https`` ones are posted to (the push services'
own), unless ``allow_http`` (the tests' local push service), and a redirect is not
followed (permanent). One HTTP session is kept
(keep-alive per push service); sends are serialised by a lock. The private key is
never logged nor shown.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from urllib.parse import urlsplit

import requests
from py_vapid import VapidException
from pywebpush import Vapid, WebPushException, webpush

from notifications import vapid
from notifications.channels import DeliveryFailed, Push
from shared.config import Settings

# RFC 8291: a push message's body is at most 4096 bytes; aes128gcm adds a 86-byte header
# (salt, record size, the sender's key), a 16-byte tag and a padding delimiter.
MAX_PAYLOAD_BYTES = 4096 - 86 - 16 - 1
GONE = frozenset({404, 410})
NEVER_TAKEN = frozenset({400, 403, 413})


def topic(message_id: str) -> str:
    """The push ``Topic`` of a message: at most 32 characters of the URL-safe base64
    alphabet (RFC 8030), here 24 bytes of the id's SHA-256, exactly 32 characters."""
    digest = hashlib.sha256(message_id.encode()).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def payload(push: Push) -> bytes:
    return json.dumps({"title": push.title, "body": push.body, "booking_id": push.booking_id,
                       "message_id": push.message_id}, ensure_ascii=False,
                      separators=(",", ":")).encode()


class WebPushChannel:
    """``PushChannel`` through the subscriptions' push services."""

    def __init__(self, vapid_private_key: str, subject: str, *, timeout_s: float = 10.0,
                 allow_http: bool = False) -> None:
        self._signer = Vapid(vapid.private_key(vapid_private_key))
        self.subject = subject  # mailto: or https: (RFC 8292)
        # A subject py_vapid refuses would fail every send: refuse it here instead.
        self._signer.sign({"sub": subject, "aud": "https://push.invalid"})
        self.timeout_s = timeout_s
        self.allow_http = allow_http
        self._session = requests.Session()
        # A push service answers; it does not send us elsewhere (an endpoint is the
        # browser's word, and a redirect could point anywhere, inside our network too).
        self._session.max_redirects = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> WebPushChannel:
        """From ``CINEMA_VAPID_PRIVATE_KEY``, ``_SUBJECT``, ``CINEMA_PUSH_TIMEOUT_S`` and
        ``CINEMA_PUSH_ALLOW_HTTP``."""
        channels = settings.channels
        return cls(channels.vapid_private_key, channels.vapid_subject,
                   timeout_s=channels.push_timeout_s, allow_http=channels.push_allow_http)

    @property
    def public_key(self) -> str:
        """The applicationServerKey browsers must subscribe with."""
        return vapid.public_key_of(self._signer.private_key)

    def __repr__(self) -> str:
        return f"WebPushChannel(subject={self.subject!r})"

    def send(self, push: Push) -> None:
        body = payload(push)
        if len(body) > MAX_PAYLOAD_BYTES:
            raise DeliveryFailed(f"payload of {len(body)} bytes, over {MAX_PAYLOAD_BYTES}",
                                 permanent=True)
        endpoint = push.subscription.endpoint
        parts = urlsplit(endpoint)
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            raise DeliveryFailed(f"not a push service's endpoint: {endpoint!r}", permanent=True)
        subscription = {"endpoint": endpoint, "keys": {"p256dh": push.subscription.p256dh,
                                                       "auth": push.subscription.auth}}
        try:
            with self._lock:
                webpush(
                    subscription,
                    body.decode(),
                    vapid_private_key=self._signer,
                    # A new dict each time: webpush writes the audience (the endpoint's
                    # origin) and the expiry into it.
                    vapid_claims={"sub": self.subject},
                    ttl=push.ttl_s,
                    headers={"Topic": topic(push.message_id)},
                    timeout=self.timeout_s,
                    requests_session=self._session,
                )
        except WebPushException as error:
            raise _failure(error) from None
        except requests.TooManyRedirects:
            raise DeliveryFailed("the push service redirected: not followed", permanent=True) from None
        except (requests.exceptions.InvalidURL, VapidException) as error:
            # An endpoint whose origin is no URL, or none py_vapid signs for (an IPv6 literal).
            raise DeliveryFailed(f"not a valid endpoint: {error}", permanent=True) from None
        except requests.RequestException as error:
            raise DeliveryFailed(f"push service not reachable: {error!r}") from None
        except ValueError as error:  # the subscription's keys are not keys
            raise DeliveryFailed(f"not a valid subscription: {error}", permanent=True) from None

    def close(self) -> None:
        self._session.close()


def _failure(error: WebPushException) -> DeliveryFailed:
    status = error.status_code
    if status is None:  # raised before any request: the subscription is unusable
        return DeliveryFailed(f"not a valid subscription: {error.message}", permanent=True)
    if status in GONE:
        return DeliveryFailed(f"subscription gone ({status})", permanent=True)
    if status in NEVER_TAKEN:
        return DeliveryFailed(f"push refused ({status})", permanent=True)
    return DeliveryFailed(f"push service answered {status}")
