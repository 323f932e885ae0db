"""Seat holds of one show: the unit that decides, in one write, who gets which seat.

One aggregate per show keeps a multi-seat hold all-or-nothing and makes a double
booking impossible by construction: a seat has at most one holder in ``holders``.
State is plain dicts and lists so that snapshots serialize as they are.

A hot show decides thousands of requests, most of them rejected, and every message
about it loads it (from a snapshot or the cache). So the state keeps full records only
of live holds (RESERVED, BOOKED: at most one per seat); a hold that ended (REJECTED,
RELEASED) is remembered by its booking id and outcome alone, which is all that
idempotency needs: a repeated request, payment or cancellation of it changes nothing.
Its seats and times are in the events.

Holds end three ways: BOOKED (payment succeeded within the hold), released when
``reserved_until`` passes, or released because the booking was cancelled. A failed
payment does not release anything: the customer may retry until the deadline.

Words, with one meaning each here, in booking and in payment:

- a *hold*: what inventory keeps for one booking's request, its seats and their state.
  A live hold is RESERVED (until ``reserved_until``), then BOOKED; it ends RELEASED. A
  request that gets no hold is REJECTED.
- *reserve*: give a booking a hold, its seats AVAILABLE -> RESERVED (``SeatsReserved``,
  as in the public contract; ``seats_reserved`` where booking and payment react to it).
  The stored topics of these events (here and in booking) say ``SeatsHeld``, and that
  of a rejection ``HoldRejected``: a stored topic keeps the name it was first written
  with.
- *book*: RESERVED -> BOOKED, once paid in time; *release*: back to AVAILABLE.
- a seat's *holder*: the booking whose live hold has it (``holders``).

"Held" in messages to customers and in the setting ``max_held_per_customer`` (named by
the configuration) means reserved and unpaid; other identifiers say "reserved".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from shared import ids, price_list
from shared.aggregate import Aggregate
from shared.contracts import DemandRule

RESERVED, BOOKED, RELEASED, REJECTED = "RESERVED", "BOOKED", "RELEASED", "REJECTED"
WITHDRAWN = "WITHDRAWN"  # a seat's state once the theatre took it off sale
_IMMUTABLE = (str, int, float, bool, type(None), datetime, UUID)  # shared by copies as they are


def _raised(uplifts: dict[str, int]) -> dict[str, int]:
    return {c: u for c, u in uplifts.items() if u}


class InventoryRuleViolation(Exception):
    """An operator's command the inventory cannot accept (HTTP 409/422)."""


@dataclass(frozen=True)
class HoldLimits:
    max_seats: int = 10  # per request
    hold_for: timedelta = timedelta(minutes=10)
    # Seats one customer may hold unpaid in one show at once, over all their bookings:
    # without it, one client could hold a whole show for the hold time, over and over.
    max_held_per_customer: int = 10
    # Seats one customer may hold unpaid across the shows of one theatre day: without it,
    # one client holds the limit in every show of an evening (CustomerDayHolds). 0: no
    # such limit, and no day counted.
    max_held_per_customer_day: int = 20

    @property
    def counts_days(self) -> bool:
        return self.max_held_per_customer_day > 0


def theatre_day(theatre_id: str, local_start: str) -> str:
    """A show's theatre day: its theatre and the local date it starts on (ISO 8601)."""
    return f"{theatre_id}/{local_start[:10]}"


def seats_rejection(
    seat_ids: list[str], known: dict[str, str], limits: HoldLimits
) -> str | None:
    """Why a request for these seats cannot even be considered, or None."""
    if not seat_ids:
        return "no_seats"
    if len(seat_ids) > limits.max_seats:
        return "too_many_seats"
    if len(set(seat_ids)) != len(seat_ids):
        return "duplicate_seat"
    if any(s not in known for s in seat_ids):
        return "unknown_seat"
    return None


class ShowInventory(Aggregate):
    TOPIC = "cinema.inventory:ShowInventory"
    # 2: ended holds moved from ``holds`` to ``ended``; ``unknown_adopted``. 3: ``cancelled``
    # and ``withdrawn``. 4: prices from pricing. 5: ``day`` (older snapshots are upcast below).
    class_version = 5

    class Created(Aggregate.Created):
        TOPIC = "cinema.inventory:ShowInventory.Created"

    @staticmethod
    def create_id(show_id: str) -> UUID:
        return ids.show_inventory_id(show_id)

    @event("Opened", topic="cinema.inventory:ShowInventory.Opened")
    def __init__(
        self,
        show_id: str,
        seats: dict[str, str],
        prices: dict[str, int],
        currency: str,
        rejected_as_unknown: list[str] | None = None,
        priced: dict[str, Any] | None = None,
        day: str | None = None,
    ) -> None:
        self.show_id = show_id
        # Its theatre day (``theatre_day``) when the theatre scheduled it; None when an
        # operator opened it alone, or before shows knew it: no per-day hold limit then.
        self.day = day
        self.seats = dict(seats)  # seat id -> price category
        self.prices = dict(prices)  # category -> minor units
        self.currency = currency
        # Prices from pricing's ShowPriced (version 0: the list prices the show opened
        # with). ``priced``: a version that arrived before the show opened.
        self.price_version = 0
        self.rounding = 1
        self.caps: dict[str, int] = {}
        self.demand: dict[str, int] | None = None  # a DemandRule's fields
        self.uplifts: dict[str, int] = {}  # category -> demand uplift (percent) now
        if priced is not None:
            self._apply_prices(**priced)
        self.holders: dict[str, str] = {}  # seat id -> booking id (RESERVED or BOOKED)
        # Live holds only: booking id -> {status, seat_ids, reserved_until}.
        self.holds: dict[str, dict] = {}
        # Holds that ended: booking id -> REJECTED or RELEASED.
        self.ended: dict[str, str] = {}
        # Requests rejected as "unknown show" before the show was opened, handed over
        # when it opened (inventory/unknown_shows.py). None in shows opened before that
        # hand-over existed (their Opened event has no such field): for those, the
        # service still looks the old per-booking records up.
        self.unknown_adopted = rejected_as_unknown is not None
        for booking_id in rejected_as_unknown or ():
            self.ended[booking_id] = REJECTED
        self.cancelled = False  # by the theatre: nothing of it is sold any more
        self.withdrawn: list[str] = []  # seats taken out of sale by the theatre (broken)

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Snapshots taken before ended holds left ``holds``."""
        holds = state["holds"]
        state["ended"] = {b: h["status"] for b, h in holds.items()
                          if h["status"] in (REJECTED, RELEASED)}
        state["holds"] = {b: h for b, h in holds.items() if b not in state["ended"]}
        state["unknown_adopted"] = False

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """Snapshots taken before the theatre could cancel shows and withdraw seats."""
        state["cancelled"] = False
        state["withdrawn"] = []

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        """Snapshots taken before prices came from pricing."""
        state.update(price_version=0, rounding=1, caps={}, demand=None, uplifts={})

    @staticmethod
    def upcast_v4_v5(state: dict[str, Any]) -> None:
        """Snapshots taken before shows knew their theatre day."""
        state["day"] = None

    def __deepcopy__(self, memo: dict) -> ShowInventory:
        """What the aggregate cache hands out per message: a copy that shares nothing
        mutable with the cached one. Known attributes are copied by their known shape
        (dicts of immutable values; holds one level deeper), which is much cheaper than
        the generic deepcopy; anything else is deep-copied."""
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        for name, value in vars(self).items():
            if name in ("seats", "prices", "holders", "ended", "caps", "uplifts"):
                value = dict(value)
            elif name == "holds":
                value = {b: {**h, "seat_ids": list(h["seat_ids"])} for b, h in value.items()}
            elif not isinstance(value, _IMMUTABLE):
                value = copy.deepcopy(value, memo)
            setattr(clone, name, value)
        return clone

    @staticmethod
    def validate_layout(seats: dict[str, str], prices: dict[str, int]) -> None:
        if not seats:
            raise InventoryRuleViolation("a show needs at least one seat")
        missing = sorted({c for c in seats.values() if c not in prices})
        if missing:
            raise InventoryRuleViolation(f"no price for categories {missing}")
        if any(p < 0 for p in prices.values()):
            raise InventoryRuleViolation("prices must not be negative")

    # --- queries -------------------------------------------------------------

    def seat_state(self, seat_id: str) -> str:
        holder = self.holders.get(seat_id)
        if holder is None:
            return WITHDRAWN if seat_id in self.withdrawn else "AVAILABLE"
        return str(self.holds[holder]["status"])

    def price_of(self, seat_ids: list[str]) -> int:
        """What these seats cost now: the latest price version, with the demand uplift."""
        return price_list.amount(seat_ids, self.seats, self.prices, self.uplifts,
                                 self.rounding, self.caps)

    def demand_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Per category: seats booked, and seats on sale (withdrawn ones are not)."""
        withdrawn = set(self.withdrawn)
        capacity = price_list.category_counts(
            self.seats, (s for s in self.seats if s not in withdrawn))
        booked = price_list.category_counts(
            self.seats, (s for h in self.holds.values() if h["status"] == BOOKED
                         for s in h["seat_ids"]))
        return booked, capacity

    def hold_of(self, booking_id: UUID) -> dict | None:
        """The live hold ({status, seat_ids, reserved_until}), an ended one by its outcome
        alone ({status: REJECTED or RELEASED, seat_ids: []}), or None if never decided."""
        key = str(booking_id)
        hold = self.holds.get(key)
        if hold is None and key in self.ended:
            return {"status": self.ended[key], "seat_ids": [], "reserved_until": None}
        return hold

    def decided(self, booking_id: UUID) -> bool:
        """Whether a request of this booking was decided here (reserved or rejected)."""
        key = str(booking_id)
        return key in self.holds or key in self.ended

    def due_holds(self, now: datetime) -> list[str]:
        return [b for b, h in self.holds.items() if h["status"] == RESERVED and h["reserved_until"] <= now]

    def next_deadline(self) -> datetime | None:
        return min(
            (h["reserved_until"] for h in self.holds.values() if h["status"] == RESERVED),
            default=None,
        )

    # --- commands -------------------------------------------------------------

    def reserved_by(self, customer_id: str) -> int:
        """Seats reserved (unpaid) for this customer in this show (holds recorded before
        holds named their customer count for nobody)."""
        return sum(len(h["seat_ids"]) for h in self.holds.values()
                   if h["status"] == RESERVED and h.get("customer_id") == customer_id)

    def request_hold(
        self, booking_id: UUID, seat_ids: list[str], now: datetime, limits: HoldLimits,
        customer_id: str = "", quoted_amount: int | None = None,
        day_holds: CustomerDayHolds | None = None,
    ) -> None:
        """Hold all these seats for the booking, or none, at the price they cost now; not
        at all if the customer was quoted another total, or would hold more than the
        limits allow in this show or (``day_holds``: the customer's, for the show's day)
        across its theatre day. Repeating it changes nothing."""
        if self.decided(booking_id):
            return
        reason = seats_rejection(seat_ids, self.seats, limits)
        culprits = [s for s in seat_ids if s not in self.seats] if reason == "unknown_seat" else []
        if reason is None and self.cancelled:
            reason = "show_cancelled"
        if reason is None and (culprits := [s for s in seat_ids if s in self.withdrawn]):
            reason = "seat_withdrawn"
        if reason is None:
            culprits = [s for s in seat_ids if s in self.holders]
            reason = "seats_taken" if culprits else None
        if (reason is None and customer_id
                and self.reserved_by(customer_id) + len(seat_ids) > limits.max_held_per_customer):
            reason = "customer_hold_limit"
        if (reason is None and day_holds is not None
                and not day_holds.has_room(len(seat_ids), now, limits.max_held_per_customer_day)):
            reason = "customer_day_limit"
        amount = self.price_of(seat_ids) if reason is None else 0
        if reason is None and quoted_amount is not None and quoted_amount != amount:
            reason = "price_changed"
        if reason is not None:
            self._reject(
                show_id=self.show_id, booking_id=str(booking_id), reason=reason,
                seat_ids=culprits, at=now,
            )
            return
        self._reserve(
            show_id=self.show_id,
            booking_id=str(booking_id),
            seat_ids=list(seat_ids),
            amount=amount,
            currency=self.currency,
            reserved_until=now + limits.hold_for,
            at=now,
            customer_id=customer_id,
            price_version=self.price_version,
            uplifts={c: u for c, u in self.uplifts.items() if u},
        )
        if day_holds is not None:
            day_holds.hold(str(booking_id), self.show_id, len(seat_ids), now + limits.hold_for, now)

    # Event names as in the public contract; the topics stay as first stored.
    @event("SeatsRejected", topic="cinema.inventory:ShowInventory.HoldRejected")
    def _reject(
        self, show_id: str, booking_id: str, reason: str, seat_ids: list[str], at: datetime
    ) -> None:
        self.ended[booking_id] = REJECTED

    @event("SeatsReserved", topic="cinema.inventory:ShowInventory.SeatsHeld")
    def _reserve(
        self,
        show_id: str,
        booking_id: str,
        seat_ids: list[str],
        amount: int,
        currency: str,
        reserved_until: datetime,
        at: datetime,
        customer_id: str = "",  # absent from holds recorded before the per-customer limit
        price_version: int = 0,  # absent from holds recorded before pricing
        uplifts: dict[str, int] | None = None,
    ) -> None:
        for seat in seat_ids:
            assert seat not in self.holders, f"seat {seat} reserved twice"  # invariant 1
            self.holders[seat] = booking_id
        self.holds[booking_id] = {
            "status": RESERVED,
            "seat_ids": list(seat_ids),
            "reserved_until": reserved_until,
            "customer_id": customer_id,
            "price_version": price_version,
            "amount": amount,
        }

    def payment_succeeded(self, booking_id: UUID, now: datetime) -> None:
        """Book the seats if the hold still stands; a late success never resurrects seats."""
        hold = self.hold_of(booking_id)
        if hold is None or hold["status"] != RESERVED:
            return  # released or booked already: payment refunds on our release
        if now >= hold["reserved_until"]:
            self._release(str(booking_id), "hold_expired", now)
        else:
            self._book(
                show_id=self.show_id, booking_id=str(booking_id),
                seat_ids=list(hold["seat_ids"]), at=now,
            )
            self._note_demand(now)

    @event("SeatsBooked", topic="cinema.inventory:ShowInventory.SeatsBooked")
    def _book(self, show_id: str, booking_id: str, seat_ids: list[str], at: datetime) -> None:
        self.holds[booking_id]["status"] = BOOKED

    def booking_cancelled(self, booking_id: UUID, now: datetime) -> None:
        """The booking is final as cancelled: free whatever it still holds, even if booked,
        because a booking cancels only before it is confirmed (payment then refunds)."""
        hold = self.hold_of(booking_id)
        if hold is not None and hold["status"] in (RESERVED, BOOKED):
            self._release(str(booking_id), "booking_cancelled", now)

    def cancel(self, now: datetime) -> None:
        """The theatre cancelled the show: every live hold is released, booked ones too
        (their bookings are cancelled and refunded), and no request is granted after."""
        if self.cancelled:
            return
        self._record_cancellation(show_id=self.show_id, at=now)
        for booking_id in list(self.holds):
            self._release(booking_id, "show_cancelled", now)

    def move_to_day(self, day: str, now: datetime) -> None:
        """The theatre moved the show to another day: later holds count there."""
        if day != self.day:
            self._record_day(show_id=self.show_id, day=day, at=now)

    @event("DayChanged", topic="cinema.inventory:ShowInventory.DayChanged")
    def _record_day(self, show_id: str, day: str, at: datetime) -> None:
        self.day = day

    @event("Cancelled", topic="cinema.inventory:ShowInventory.Cancelled")
    def _record_cancellation(self, show_id: str, at: datetime) -> None:
        self.cancelled = True

    def withdraw(self, seat_ids: list[str], now: datetime) -> None:
        """The theatre took these seats out of sale: never granted again, and a booking
        that holds one of them, reserved or booked, is released whole (and so cancelled
        and refunded); its other seats go back on sale."""
        new = [s for s in dict.fromkeys(seat_ids) if s in self.seats and s not in self.withdrawn]
        if not new:
            return
        self._record_withdrawal(show_id=self.show_id, seat_ids=new, at=now)
        for booking_id in dict.fromkeys(self.holders[s] for s in new if s in self.holders):
            self._release(booking_id, "seat_withdrawn", now)
        self._note_demand(now)  # fewer seats on sale

    @event("SeatsWithdrawn", topic="cinema.inventory:ShowInventory.SeatsWithdrawn")
    def _record_withdrawal(self, show_id: str, seat_ids: list[str], at: datetime) -> None:
        self.withdrawn.extend(seat_ids)

    # --- prices ------------------------------------------------------------------

    def reprice(self, price_version: int, prices: dict[str, int], currency: str,
                rounding: int, caps: dict[str, int], demand: DemandRule | None,
                now: datetime) -> bool:
        """Pricing published a new version of the show's prices: later holds are priced
        from it; holds already made keep theirs. An older or repeated version changes
        nothing (versions of one show arrive in order, but may be delivered again)."""
        if price_version <= self.price_version:
            return False
        missing = sorted({c for c in self.seats.values() if c not in prices})
        if missing:
            raise InventoryRuleViolation(
                f"price version {price_version} has no price for categories {missing}")
        self._record_prices(show_id=self.show_id, at=now, **self.priced_fields(
            price_version, prices, currency, rounding, caps, demand))
        self._note_demand(now, for_new_version=True)
        return True

    @staticmethod
    def priced_fields(price_version: int, prices: dict[str, int], currency: str,
                      rounding: int, caps: dict[str, int],
                      demand: DemandRule | None) -> dict[str, Any]:
        """A price version as stored in inventory's events (``Repriced``, ``Opened``)."""
        return {"price_version": price_version, "prices": dict(prices), "currency": currency,
                "rounding": rounding, "caps": dict(caps),
                "demand": None if demand is None else {
                    f: getattr(demand, f) for f in DemandRule.__struct_fields__}}

    @event("Repriced", topic="cinema.inventory:ShowInventory.Repriced")
    def _record_prices(self, show_id: str, at: datetime, price_version: int,
                       prices: dict[str, int], currency: str, rounding: int,
                       caps: dict[str, int], demand: dict | None) -> None:
        self._apply_prices(price_version, prices, currency, rounding, caps, demand)

    def _apply_prices(self, price_version: int, prices: dict[str, int], currency: str,
                      rounding: int, caps: dict[str, int], demand: dict | None) -> None:
        self.price_version, self.prices, self.currency = price_version, dict(prices), currency
        self.rounding, self.caps, self.demand = rounding, dict(caps), demand

    def demand_uplifts(self) -> dict[str, int]:
        """The uplift per category that the show's counts give under its demand rule."""
        rule = None if self.demand is None else DemandRule(**self.demand)
        booked, capacity = self.demand_counts()
        return price_list.uplifts(rule, booked, capacity)

    def _note_demand(self, now: datetime, for_new_version: bool = False) -> None:
        """Record a change of the demand uplifts (after seats are booked or released):
        the next hold is priced with them, and pricing quotes with them. A new price
        version with a demand rule is always told its uplifts (pricing keeps them per
        version)."""
        if self.demand is None and not any(self.uplifts.values()):
            return
        uplifts = self.demand_uplifts()
        # Compared by what they raise: a category no longer on sale (its seats withdrawn)
        # is missing from the new ones, and its last uplift must go too.
        if for_new_version or _raised(uplifts) != _raised(self.uplifts):
            booked, capacity = self.demand_counts()
            self._record_demand(show_id=self.show_id, price_version=self.price_version,
                                uplifts=uplifts, booked=booked, capacity=capacity, at=now)

    @event("DemandChanged", topic="cinema.inventory:ShowInventory.DemandChanged")
    def _record_demand(self, show_id: str, price_version: int, uplifts: dict[str, int],
                       booked: dict[str, int], capacity: dict[str, int], at: datetime) -> None:
        self.uplifts = dict(uplifts)

    def release_expired(self, now: datetime) -> list[str]:
        due = self.due_holds(now)
        for booking_id in due:
            self._release(booking_id, "hold_expired", now)
        return due

    def _release(self, booking_id: str, reason: str, at: datetime) -> None:
        hold = self.holds[booking_id]
        seat_ids = list(hold["seat_ids"])
        self._record_release(
            show_id=self.show_id, booking_id=booking_id, seat_ids=seat_ids, reason=reason, at=at
        )
        if hold["status"] == BOOKED:  # fewer seats sold: the uplift may fall back
            self._note_demand(at)

    @event("SeatsReleased", topic="cinema.inventory:ShowInventory.SeatsReleased")
    def _record_release(
        self, show_id: str, booking_id: str, seat_ids: list[str], reason: str, at: datetime
    ) -> None:
        hold = self.holds.pop(booking_id)
        for seat in hold["seat_ids"]:
            if self.holders.get(seat) == booking_id:
                del self.holders[seat]
        self.ended[booking_id] = RELEASED


class CustomerDayHolds(Aggregate):
    """The seats one customer holds unpaid across the shows of one theatre day: one
    aggregate per customer and day, written in the same transaction as the show's hold
    it counts, so the day's limit holds whichever shows (and partitions, and instances)
    the requests go to: two holds decided at once on two copies conflict on saving, and
    the loser is decided again. A hold counts until it ends (booked or released:
    ``ended``) or its deadline passes, whichever comes first, so an end that never comes
    here costs nothing once the hold would have lapsed."""

    TOPIC = "cinema.inventory:CustomerDayHolds"

    class Created(Aggregate.Created):
        TOPIC = "cinema.inventory:CustomerDayHolds.Created"

    @staticmethod
    def create_id(customer_id: str, day: str) -> UUID:
        return ids.customer_day_holds_id(customer_id, day)

    @event("Started", topic="cinema.inventory:CustomerDayHolds.Started")
    def __init__(self, customer_id: str, day: str) -> None:
        self.customer_id, self.day = customer_id, day
        self.holds: dict[str, dict] = {}  # booking id -> {show_id, seats, until}

    def held(self, now: datetime) -> int:
        """Seats held now: holds that neither ended nor lapsed."""
        return sum(h["seats"] for h in self.holds.values() if h["until"] > now)

    def has_room(self, seats: int, now: datetime, limit: int) -> bool:
        return self.held(now) + seats <= limit

    def hold(self, booking_id: str, show_id: str, seats: int, until: datetime,
             now: datetime) -> None:
        if booking_id not in self.holds:  # lapsed holds leave with it: the state stays small
            lapsed = [b for b, h in self.holds.items() if h["until"] <= now]
            self._hold(booking_id=booking_id, show_id=show_id, seats=seats, until=until,
                       lapsed=lapsed, at=now)

    @event("Held", topic="cinema.inventory:CustomerDayHolds.Held")
    def _hold(self, booking_id: str, show_id: str, seats: int, until: datetime,
              lapsed: list[str], at: datetime) -> None:
        for gone in lapsed:
            self.holds.pop(gone, None)
        self.holds[booking_id] = {"show_id": show_id, "seats": seats, "until": until}

    def ended(self, booking_id: str, now: datetime) -> None:
        """The hold was booked or released: it no longer counts."""
        if booking_id in self.holds:
            self._end(booking_id=booking_id, at=now)

    @event("Ended", topic="cinema.inventory:CustomerDayHolds.Ended")
    def _end(self, booking_id: str, at: datetime) -> None:
        del self.holds[booking_id]


# --- requests for a show that is not open (yet): why and how in inventory/unknown_shows.py


class UnknownShowRequests(Aggregate):
    """Requests for a show id that inventory does not know (yet): one aggregate per show
    id, each request rejected once (its rejection is published like any other event).

    Opening the show closes it, in the same transaction, and the show takes over the
    booking ids rejected here (``ShowInventory.ended``). That hand-over is what lets a
    request to an open show be decided from the show alone: a request decided "unknown"
    is recorded here before the show opened, or its write conflicts with the close (the
    same version of this aggregate) and the request is decided again, against the show.
    So once the show is open, every such rejection is in the show's own state."""

    TOPIC = "cinema.inventory:UnknownShowRequests"
    class_version = 2  # 2: ``priced`` (older snapshots are upcast below)

    class Created(Aggregate.Created):
        TOPIC = "cinema.inventory:UnknownShowRequests.Created"

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["priced"] = None

    @staticmethod
    def create_id(show_id: str) -> UUID:
        return ids.unknown_show_requests_id(show_id)

    @event("Started", topic="cinema.inventory:UnknownShowRequests.Started")
    def __init__(self, show_id: str) -> None:
        self.show_id = show_id
        self.booking_ids: list[str] = []
        self.closed = False
        # The latest prices pricing published before the show opened (``priced_fields``):
        # the show opens with them.
        self.priced: dict[str, Any] | None = None

    def keep_prices(self, priced: dict[str, Any], at: datetime) -> None:
        """Prices for this show arrived before it opened: kept for the opening (the
        latest version only)."""
        assert not self.closed, f"show {self.show_id} is open"
        if self.priced is None or priced["price_version"] > self.priced["price_version"]:
            self._keep_prices(show_id=self.show_id, priced=priced, at=at)

    @event("PricesKept", topic="cinema.inventory:UnknownShowRequests.PricesKept")
    def _keep_prices(self, show_id: str, priced: dict[str, Any], at: datetime) -> None:
        self.priced = dict(priced)

    def reject(self, booking_id: UUID, at: datetime) -> None:
        """Reject a request for this unknown show, once per booking."""
        assert not self.closed, f"show {self.show_id} is open"
        if str(booking_id) not in self.booking_ids:
            self._reject(show_id=self.show_id, booking_id=str(booking_id), at=at)

    @event("Rejected", topic="cinema.inventory:UnknownShowRequests.Rejected")
    def _reject(self, show_id: str, booking_id: str, at: datetime) -> None:
        self.booking_ids.append(booking_id)

    @event("Closed", topic="cinema.inventory:UnknownShowRequests.Closed")
    def close(self) -> None:
        self.closed = True


class UnknownShowRequest(Aggregate):
    """Before UnknownShowRequests: one aggregate per rejected booking. No longer written;
    kept to read what older stores hold (its rejections are published and projected, and
    still stand: inventory/unknown_shows.py)."""

    TOPIC = "cinema.inventory:UnknownShowRequest"

    class Created(Aggregate.Created):
        TOPIC = "cinema.inventory:UnknownShowRequest.Created"

    @staticmethod
    def create_id(booking_id: UUID) -> UUID:
        return ids.unknown_show_request_id(booking_id)

    @event("Rejected", topic="cinema.inventory:UnknownShowRequest.Rejected")
    def __init__(self, booking_id: UUID, show_id: str, at: datetime) -> None:
        self.booking_id = booking_id
        self.show_id = show_id
