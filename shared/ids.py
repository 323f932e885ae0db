"""Deterministic identities: the same request always names the same aggregate.

Deriving ids (instead of drawing random ones) is what makes creation idempotent:
a repeated request or a redelivered message finds the aggregate it made before.
"""

from uuid import UUID, uuid5

# Fixed forever: changing it would orphan every stored aggregate.
NAMESPACE = UUID("6f1c1f0e-8f4a-4d53-9d1e-3c2b8a7e5d10")


def booking_id(customer_id: str, idempotency_key: str) -> UUID:
    return uuid5(NAMESPACE, f"booking/{customer_id}/{idempotency_key}")


def show_inventory_id(show_id: str) -> UUID:
    return uuid5(NAMESPACE, f"show-inventory/{show_id}")


def customer_day_holds_id(customer_id: str, day: str) -> UUID:
    return uuid5(NAMESPACE, f"customer-day-holds/{customer_id}/{day}")


def unknown_show_requests_id(show_id: str) -> UUID:
    return uuid5(NAMESPACE, f"unknown-show-requests/{show_id}")


def unknown_show_request_id(booking: UUID) -> UUID:
    return uuid5(NAMESPACE, f"unknown-show-request/{booking}")


def payment_id(booking: UUID) -> UUID:
    return uuid5(NAMESPACE, f"payment/{booking}")


# Theatre's ids come from the operator's slugs: a repeated command names the same aggregate.
def theatre_id(theatre: str) -> UUID:
    return uuid5(NAMESPACE, f"theatre/{theatre}")


def screen_id(theatre: str, screen: str) -> UUID:
    return uuid5(NAMESPACE, f"screen/{theatre}/{screen}")


def screen_schedule_id(theatre: str, screen: str) -> UUID:
    return uuid5(NAMESPACE, f"screen-schedule/{theatre}/{screen}")


def show_id(show: str) -> UUID:
    return uuid5(NAMESPACE, f"show/{show}")


def price_book_id() -> UUID:
    """The chain's one book of price rules."""
    return uuid5(NAMESPACE, "price-book")


def show_pricing_id(show: str) -> UUID:
    return uuid5(NAMESPACE, f"show-pricing/{show}")


# Notifications: what the service knows of a booking, each message it decided, each
# customer's contact details, and the show and theatre facts its messages quote.
def booking_notices_id(booking: UUID) -> UUID:
    return uuid5(NAMESPACE, f"booking-notices/{booking}")


def notification_id(booking: UUID, kind: str, occasion: str, channel: str, copy: int) -> UUID:
    """One message: a notice (kind and occasion, e.g. the attempt that failed) of a
    booking, by one channel to one of the customer's destinations on it."""
    return uuid5(NAMESPACE, f"notification/{booking}/{kind}/{occasion}/{channel}/{copy}")


def contact_id(customer: str) -> UUID:
    return uuid5(NAMESPACE, f"contact/{customer}")


def show_details_id(show: str) -> UUID:
    return uuid5(NAMESPACE, f"show-details/{show}")


def theatre_details_id(theatre: str) -> UUID:
    return uuid5(NAMESPACE, f"theatre-details/{theatre}")
