"""Public event contracts: the only thing services know about each other.

Each contract is a msgspec struct, tagged with its name and version
(``"SeatsReserved.v1"``), decoded strictly: an unknown field, a missing field or
a wrong type is an error, never a silent guess. A change that old consumers
cannot read gets a new version (``.v2``) beside the old one, never an edit.

Every message about a show (a booking's included) carries its ``show_id``: it is the
partition key, so all saga messages of one show are decided in order. A theatre's own
facts (its screens, their layouts) are keyed by the theatre.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args
from uuid import UUID

import msgspec

from shared.services import SERVICES


class PublicEvent(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type"
):
    # "<service>/<aggregate id>/<version>": unique per source event, equal on republish.
    event_id: str
    occurred_at: datetime

    @property
    def key(self) -> str:
        """The Kafka partition key: messages with one key are delivered in order."""
        raise NotImplementedError


class ShowEvent(PublicEvent, frozen=True, kw_only=True):
    show_id: str

    @property
    def key(self) -> str:
        return self.show_id


class BookingEvent(ShowEvent, frozen=True, kw_only=True):
    booking_id: UUID


# --- booking ---------------------------------------------------------------


class BookingRequested(BookingEvent, frozen=True, kw_only=True, tag="BookingRequested.v1"):
    customer_id: str
    seat_ids: list[str]
    payment_method: str
    # The total the customer was quoted (shared/quotes.py): inventory refuses a hold
    # priced otherwise (``price_changed``). None: no quote, the price of the hold stands.
    # Added after v1 shipped, readers first: inventory before a booking that sends it.
    quoted_amount: int | None = None


class PaymentRetryRequested(
    BookingEvent, frozen=True, kw_only=True, tag="PaymentRetryRequested.v1"
):
    attempt: int
    payment_method: str


BookingCancelReason = Literal[
    "seats_unavailable", "hold_expired", "cancelled_by_customer", "payment_refunded",
    # Added with the theatre service (consumers first: see SeatsRejectReason): the show
    # was cancelled, or a seat of the booking was withdrawn; a confirmed booking too.
    "show_cancelled", "seat_withdrawn",
    # Added with pricing, readers first: the seats cost other than the customer's quote.
    "price_changed",
]


class BookingCancelled(BookingEvent, frozen=True, kw_only=True, tag="BookingCancelled.v1"):
    customer_id: str
    reason: BookingCancelReason
    detail: str = ""


class BookingConfirmed(BookingEvent, frozen=True, kw_only=True, tag="BookingConfirmed.v1"):
    customer_id: str
    amount: int


# --- inventory -------------------------------------------------------------


class ShowInventoryOpened(ShowEvent, frozen=True, kw_only=True, tag="ShowInventoryOpened.v1"):
    seats: dict[str, str]  # seat id -> price category
    prices: dict[str, int]  # category -> price in minor units
    currency: str


class SeatsReserved(BookingEvent, frozen=True, kw_only=True, tag="SeatsReserved.v1"):
    seat_ids: list[str]
    amount: int  # minor units, computed by inventory, never by the client
    currency: str
    reserved_until: datetime
    # The show's price version the amount comes from (0: the theatre's list prices), and
    # the demand uplift applied per category (shared/price_list.py). Added after v1
    # shipped, readers first, like the reasons below.
    price_version: int = 0
    uplifts: dict[str, int] = {}


SeatsRejectReason = Literal[
    "seats_taken", "unknown_seat", "unknown_show", "too_many_seats", "duplicate_seat", "no_seats",
    # Added after v1 shipped: an older booking cannot decode it (it would park the message),
    # so booking must be deployed before an inventory that sends it. Booking treats every
    # reason alike (the booking is cancelled with the reason as its detail).
    "customer_hold_limit",  # the customer already holds HoldLimits.max_held_per_customer seats
    "show_cancelled",  # the show was cancelled: nothing of it is sold any more
    "seat_withdrawn",  # a requested seat was withdrawn from sale (broken)
    "price_changed",  # the hold would cost other than the customer's quote
    # The customer already holds HoldLimits.max_held_per_customer_day seats across the
    # shows of the show's theatre day.
    "customer_day_limit",
]


class SeatsRejected(BookingEvent, frozen=True, kw_only=True, tag="SeatsRejected.v1"):
    reason: SeatsRejectReason
    seat_ids: list[str]  # the seats that caused the rejection


class SeatsReleased(BookingEvent, frozen=True, kw_only=True, tag="SeatsReleased.v1"):
    seat_ids: list[str]
    # show_cancelled and seat_withdrawn release booked seats too: the booking is cancelled
    # and its payment refunded.
    reason: Literal["hold_expired", "booking_cancelled", "show_cancelled", "seat_withdrawn"]


class SeatsBooked(BookingEvent, frozen=True, kw_only=True, tag="SeatsBooked.v1"):
    seat_ids: list[str]


# A seat's state on a seat map, as the events above make it.
SEAT_STATES = ("AVAILABLE", "RESERVED", "BOOKED", "WITHDRAWN")


class SeatsOffSale(ShowEvent, frozen=True, kw_only=True, tag="SeatsOffSale.v1"):
    """Inventory took seats off sale (the theatre withdrew them): in inventory's own
    order, before it releases the holds concerned, so its seat map stays one stream."""

    seat_ids: list[str]


class ShowDemandChanged(ShowEvent, frozen=True, kw_only=True, tag="ShowDemandChanged.v1"):
    """The demand uplift inventory applies at a hold changed for some category (its
    booked share crossed a step of the show's demand rule): pricing quotes with it."""

    price_version: int
    uplifts: dict[str, int]  # category -> percent added at a hold now (0: none)
    booked: dict[str, int]  # category -> seats booked
    capacity: dict[str, int]  # category -> seats on sale


# --- payment ---------------------------------------------------------------


class PaymentSucceeded(BookingEvent, frozen=True, kw_only=True, tag="PaymentSucceeded.v1"):
    payment_id: UUID
    attempt: int
    amount: int
    currency: str
    charge_id: str


class PaymentFailed(BookingEvent, frozen=True, kw_only=True, tag="PaymentFailed.v1"):
    payment_id: UUID
    attempt: int
    reason: str  # the provider's decline code, "canceled", or "hold_expired"


class PaymentRefunded(BookingEvent, frozen=True, kw_only=True, tag="PaymentRefunded.v1"):
    payment_id: UUID
    amount: int
    currency: str
    refund_id: str
    # Why the charge could not be honoured (the close: "seats_released:hold_expired" ...),
    # or "refunded_outside": refunded at the provider by someone else (an operator).
    reason: str


class PaymentActionRequired(
    BookingEvent, frozen=True, kw_only=True, tag="PaymentActionRequired.v1"
):
    """The attempt waits for the customer to authenticate (3-D Secure): their client
    completes it with the client secret. An outcome of the attempt follows (succeeded,
    failed), or none if the customer never does, until the hold ends. Added after the
    other payment events, readers first: booking and the projector before payment."""

    attempt: int
    client_secret: str


# --- theatre ---------------------------------------------------------------

SeatCategory = Literal["Regular", "Premium", "Recliner"]


class Seat(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A place in a screen's layout."""

    seat_id: str  # "C7": the row's letter and the seat's number
    row: str
    number: int
    column: int  # its position across the row; gaps and aisles are columns without a seat
    category: SeatCategory
    wheelchair: bool = False  # a wheelchair space
    companion: bool = False  # a companion seat beside a wheelchair space
    in_service: bool = True  # out of service: shown, never sold


class Film(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    title: str
    runtime_minutes: int
    rating: str  # the certificate: "U", "PG", "12A", "15", "18", ...
    language: str
    format: Literal["2D", "3D", "IMAX"]


class TheatreEvent(PublicEvent, frozen=True, kw_only=True):
    theatre_id: str

    @property
    def key(self) -> str:
        return self.theatre_id


class TheatreRegistered(TheatreEvent, frozen=True, kw_only=True, tag="TheatreRegistered.v1"):
    name: str
    city: str
    address: str
    time_zone: str  # IANA name: "Europe/London"


class ScreenLaidOut(TheatreEvent, frozen=True, kw_only=True, tag="ScreenLaidOut.v1"):
    """A screen added, or its layout changed: a new version; shows keep theirs."""

    screen_id: str
    name: str
    layout_version: int
    seats: list[Seat]


class ShowScheduled(ShowEvent, frozen=True, kw_only=True, tag="ShowScheduled.v1"):
    """A show on sale: its seats as laid out when it was scheduled (those in service)."""

    theatre_id: str
    screen_id: str
    layout_version: int
    film: Film
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC: the film's end (the screen is busy until the cleaning gap after)
    local_start: str  # in the theatre's time zone, ISO 8601 with its offset
    seats: dict[str, SeatCategory]  # seat id -> category, every seat on sale
    prices: dict[str, int]  # category -> price in minor units
    currency: str


class ShowRescheduled(ShowEvent, frozen=True, kw_only=True, tag="ShowRescheduled.v1"):
    theatre_id: str
    starts_at: datetime
    ends_at: datetime
    local_start: str


class ShowCancelled(ShowEvent, frozen=True, kw_only=True, tag="ShowCancelled.v1"):
    theatre_id: str
    reason: str


class SeatsWithdrawn(ShowEvent, frozen=True, kw_only=True, tag="SeatsWithdrawn.v1"):
    """Seats of a show on sale taken out of sale (broken): a booking holding one of them
    is cancelled and refunded."""

    theatre_id: str
    seat_ids: list[str]
    reason: str


# --- pricing ---------------------------------------------------------------


class DemandRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A show's demand pricing, applied by inventory at each hold from the show's own
    counts (shared/price_list.py): once ``threshold_percent`` of a category's seats on
    sale are booked, its price rises by ``uplift_percent``, and by as much again for
    every further ``every_percent`` booked (0: one step only), to ``max_uplift_percent``."""

    threshold_percent: int
    uplift_percent: int
    every_percent: int = 0
    max_uplift_percent: int


class ShowPriced(ShowEvent, frozen=True, kw_only=True, tag="ShowPriced.v1"):
    """A show's prices: when it is scheduled, and again whenever a rule change reaches it
    (a new ``price_version``). Inventory prices every hold from the latest version it
    has, and the hold keeps the version it used."""

    theatre_id: str
    price_version: int  # 1, 2, ... per show
    rules_version: int  # the chain's price rules it was computed from (0: the theatre's)
    prices: dict[str, int]  # category -> minor units, before any demand uplift
    currency: str
    rounding: int = 1  # the currency's step in minor units: an uplifted price rounds to it
    caps: dict[str, int] = {}  # category -> the most one seat may cost, uplift included
    demand: DemandRule | None = None
    explanation: dict[str, list[str]] = {}  # category -> the steps that made its price


AnyPublicEvent = (
    BookingRequested
    | PaymentRetryRequested
    | BookingCancelled
    | BookingConfirmed
    | ShowInventoryOpened
    | SeatsReserved
    | SeatsRejected
    | SeatsReleased
    | SeatsBooked
    | SeatsOffSale
    | ShowDemandChanged
    | PaymentSucceeded
    | PaymentFailed
    | PaymentRefunded
    | PaymentActionRequired
    | TheatreRegistered
    | ScreenLaidOut
    | ShowScheduled
    | ShowRescheduled
    | ShowCancelled
    | SeatsWithdrawn
    | ShowPriced
)

# Each service publishes to its own topic; the others subscribe to it.
TOPICS = {s.name: s.topic for s in SERVICES}  # each service's public events

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyPublicEvent)


# Every contract version this code reads, by its tag ("SeatsReserved.v1").
KNOWN_TAGS = frozenset(t.__struct_config__.tag for t in get_args(AnyPublicEvent))


class ContractError(ValueError):
    """A message that is not a valid public event of any known version. ``reason``:
    ``undecodable`` (no value, not a JSON object), ``unknown_contract`` (a type no
    version of this code knows: a newer producer's ``.v2``, a typo) or
    ``invalid_contract`` (a known type whose fields do not match it)."""

    def __init__(self, message: str, reason: str = "undecodable") -> None:
        super().__init__(message)
        self.reason = reason


def encode(event: PublicEvent) -> bytes:
    return _encoder.encode(event)


def decode(data: bytes | None) -> AnyPublicEvent:
    if data is None:  # a Kafka record without a value (a tombstone)
        raise ContractError("no value")
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError as e:
        raise ContractError(str(e), _why_unreadable(data)) from e
    except msgspec.DecodeError as e:
        raise ContractError(f"not JSON: {e}") from e


def _why_unreadable(data: bytes) -> str:
    """JSON that is no valid contract: of an unknown type, or a known one gone wrong."""
    document = msgspec.json.decode(data)
    if not isinstance(document, dict):
        return "undecodable"
    return "invalid_contract" if document.get("type") in KNOWN_TAGS else "unknown_contract"


def event_id(service: str, originator_id: UUID, version: int) -> str:
    return f"{service}/{originator_id}/{version}"
