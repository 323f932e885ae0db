"""Where the payment provider's webhooks reach payment, and telling a local Stripe server.

Stripe itself learns an endpoint (its URL, the events it wants) and hands out the
endpoint's signing secret in its Dashboard, once, when the system is deployed: the
secret goes into ``CINEMA_STRIPE_WEBHOOK_SECRET`` and nothing here talks to Stripe about
endpoints. localstripe keeps endpoints in memory only, under ids its caller chooses
(``POST /_config/webhooks/{id}``), forgets them when it restarts, and signs with the
secret it is given: so whoever starts the system (the launcher) registers payment's
endpoint with it at every start, with the secret from the settings. Registering again
under the same id replaces the registration: it is idempotent.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from urllib.parse import urlsplit

from shared.config import Settings

PATH = "/webhooks/stripe"  # payment's route (payment/http.py)
# The events payment reads (payment/stripe_provider.event_from_stripe): the list to give
# Stripe's Dashboard too. localstripe sends only the first two.
EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "charge.refunded",
)


def on_local_stripe(settings: Settings) -> bool:
    """Whether payment runs on the Stripe provider against a local Stripe server."""
    if settings.gateway.provider != "stripe":
        return False
    from payment.stripe_provider import is_local_stripe  # the SDK only when it is used

    return is_local_stripe(settings.stripe_api_base)


def endpoint_id(url: str) -> str:
    """One registration per payment address: a system started again replaces its own,
    and systems on other ports, sharing the local Stripe server, keep theirs."""
    where = urlsplit(url)
    return f"cinema-payment-{where.hostname}-{where.port}"


def register_with_local_stripe(settings: Settings, payment_url: str) -> str | None:
    """Register payment's endpoint (``payment_url`` + PATH) when it runs on a local Stripe
    server; the URL registered, or None when there is nothing to register."""
    if not on_local_stripe(settings):
        return None
    url = payment_url.rstrip("/") + PATH
    configure_local_stripe(settings, endpoint_id(url), url, EVENTS)
    return url


def silence_on_local_stripe(settings: Settings, payment_url: str) -> None:
    """Send the endpoint no more events (localstripe cannot delete one): for a system that
    stops, whose address may soon be another program's."""
    if on_local_stripe(settings):
        url = payment_url.rstrip("/") + PATH
        configure_local_stripe(settings, endpoint_id(url), url, ())


def configure_local_stripe(settings: Settings, registration: str, url: str,
                           events: Sequence[str]) -> None:
    """localstripe's registration ``registration`` now sends ``events`` to ``url``, signed
    with the settings' webhook secret."""
    base = settings.stripe_api_base.rstrip("/")
    body = json.dumps({"url": url, "secret": settings.stripe_webhook_secret,
                       "events": list(events)})
    request = urllib.request.Request(
        f"{base}/_config/webhooks/{registration}", data=body.encode(), method="POST",
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10):  # an answer other than 2xx raises
            pass
    except OSError as error:
        raise OSError(f"localstripe at {base} did not take the webhook endpoint {url}"
                      f" (is it up? scripts/infra up): {error}") from error


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m payment.webhook_endpoint http://payment:8003``: register payment's
    endpoint with the local Stripe server the settings name (compose runs it once)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m payment.webhook_endpoint",
                                     description=main.__doc__)
    parser.add_argument("payment_url", help="payment's base URL as the Stripe server sees it")
    url = register_with_local_stripe(Settings.from_env(), parser.parse_args(argv).payment_url)
    print(f"registered {url}" if url else "not on a local Stripe server: nothing to register")


if __name__ == "__main__":
    main()
