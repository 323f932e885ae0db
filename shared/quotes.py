"""A quote: what a set of a show's seats cost when the customer was shown the price.

Pricing issues it, booking reads it back from the customer's booking request; it is a
signed token (HS256, the services' shared secret under a key of its own, so that a
bearer token is never taken for a quote nor the other way round), so no service has to
remember it: nothing to lose when a process or the cache dies. Booking passes the
quoted total on with the request, and inventory refuses a hold priced otherwise
(``price_changed``): the price shown is the price charged.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import jwt
import msgspec

QUOTE_FOR = timedelta(minutes=5)
_AUDIENCE = "cinema-quote"


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    quote_id: UUID
    show_id: str
    seat_ids: list[str]
    amount: int  # minor units: what the seats cost together
    currency: str
    price_version: int  # the show's price version it was made from
    expires_at: datetime


class InvalidQuote(ValueError):
    """A quote that is not ours, altered, or for other seats (HTTP 422)."""


class QuoteExpired(ValueError):
    """A quote past its time: the customer asks for a new one (HTTP 409)."""


def _key(secret: str) -> bytes:
    return hashlib.sha256(f"quotes:{secret}".encode()).digest()


def make(show_id: str, seat_ids: list[str], amount: int, currency: str, price_version: int,
         now: datetime, secret: str, valid_for: timedelta = QUOTE_FOR) -> tuple[Quote, str]:
    """A new quote and its token."""
    quote = Quote(quote_id=uuid4(), show_id=show_id, seat_ids=list(seat_ids), amount=amount,
                  currency=currency, price_version=price_version, expires_at=now + valid_for)
    claims = {"aud": _AUDIENCE, "exp": quote.expires_at, "iat": now,
              **msgspec.to_builtins(quote)}
    return quote, jwt.encode(claims, _key(secret), algorithm="HS256")


def read(token: str, secret: str, now: datetime | None = None) -> Quote:
    """The quote a token carries, checked: signed by us, not altered, not expired."""
    try:
        # Time is checked below by the reader's clock, not this machine's by the library:
        # a quote made by a clock a little ahead (another host's) is valid at once.
        claims = jwt.decode(token, _key(secret), algorithms=["HS256"], audience=_AUDIENCE,
                            options={"verify_exp": False, "verify_iat": False})
        quote = msgspec.convert(claims, Quote, strict=False)
    except (jwt.InvalidTokenError, msgspec.ValidationError) as e:
        raise InvalidQuote(f"not a valid quote: {e}") from None
    if (now or datetime.now(UTC)) >= quote.expires_at:
        raise QuoteExpired(f"quote {quote.quote_id} expired at {quote.expires_at.isoformat()}; "
                           "ask for a new quote") from None
    return quote


def check_matches(quote: Quote, show_id: str, seat_ids: list[str]) -> None:
    """A booking request carries a quote for its own show and seats, or none."""
    if quote.show_id != show_id or sorted(quote.seat_ids) != sorted(seat_ids):
        raise InvalidQuote(f"quote {quote.quote_id} is for show {quote.show_id}, seats "
                           f"{', '.join(quote.seat_ids)}, not this request's")
