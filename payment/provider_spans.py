"""The payment provider's calls (Stripe's API, or the simulated provider) as CLIENT spans
of the saga's trace, so a trace shows how long each create, confirm or refund took."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payment.intents import PaymentProvider
from shared.observability import tracing

CALLS = frozenset({"create_intent", "confirm", "retrieve", "cancel", "refund"})


class TracedProvider:
    """A provider by delegation, each of its calls in a span (inside a sampled trace)."""

    def __init__(self, provider: PaymentProvider, name: str) -> None:
        self._provider = provider
        self._name = name  # "stripe" or "simulated": the span's peer

    def __getattr__(self, attribute: str) -> Any:
        found = getattr(self._provider, attribute)
        if attribute not in CALLS:
            return found
        return self._traced(attribute, found)

    def _traced(self, call: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def traced(*args: Any, **kwargs: Any) -> Any:
            with tracing.client_span(f"{self._name} {call}",
                                     {"peer.service": self._name, "cinema.call": call}):
                return method(*args, **kwargs)
        return traced


def traced(provider: PaymentProvider, name: str) -> PaymentProvider:
    wrapped: Any = TracedProvider(provider, name)
    return wrapped  # a PaymentProvider by delegation
