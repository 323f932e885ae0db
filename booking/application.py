"""Booking service: customers' commands and reactions to inventory and payment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from copy import deepcopy
from functools import singledispatchmethod
from typing import Any, Generic, NamedTuple, TypeVar
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, Tracking

from booking.domain import Booking
from booking.publishing import to_public
from booking.shared_claims import SOLD_TTL, Learned, SharedClaims
from booking.taken_seats import Claim, TakenSeats
from shared import contracts as c
from shared.config import Tuning
from shared.redis_link import RedisDown
from shared.service import ServiceApplication


class BookingNotFound(LookupError):
    """No such booking, or not the caller's (the two are indistinguishable: 404)."""


class IdempotencyConflict(Exception):
    """The idempotency key was used before for a different request (HTTP 409/422)."""


class SeatsTaken(Exception):
    """Inventory already holds or has sold some of the seats asked for, for another
    booking, or another booking asked for them first and waits for inventory's answer
    (HTTP 409): nothing was recorded; choose other seats, or ask again shortly."""

    def __init__(self, show_id: str, seat_ids: list[str]) -> None:
        super().__init__(show_id, seat_ids)
        self.show_id, self.seat_ids = show_id, seat_ids

    def __str__(self) -> str:
        return (f"already held, sold or being booked on {self.show_id}: "
                f"{', '.join(self.seat_ids)}")


class Requested(NamedTuple):
    booking: Booking
    created: bool  # False: this idempotency key made it before, nothing was written now
    position: int | None  # where its events landed (a consistency token); None: a repeat


T = TypeVar("T")


class Written(NamedTuple, Generic[T]):
    """A command's outcome and the position of its write in booking's event sequence."""
    outcome: T
    position: int


class BookingService(ServiceApplication):
    service = "booking"

    def __init__(self, *args: Any, claim_ttl: float = Tuning.seat_claim_s,
                 shared_claims: SharedClaims | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.taken_seats = TakenSeats(claim_ttl=claim_ttl)
        # The claims every instance sees (shared_claims.py); None: this instance's alone.
        self.shared_claims = shared_claims
        self._learned: list[Learned] = []  # for shared_claims, written after each batch

    def close(self) -> None:
        if self.shared_claims is not None:
            self.shared_claims.close()
        super().close()

    def to_public(self, domain_event: Any) -> c.PublicEvent | None:
        return to_public(domain_event)

    def partitions_revoked(self) -> None:
        self.taken_seats.forget()  # another instance follows those shows now

    # --- commands --------------------------------------------------------------

    def request_booking(
        self,
        customer_id: str,
        idempotency_key: str,
        show_id: str,
        seat_ids: list[str],
        payment_method: str,
        quoted_amount: int | None = None,
    ) -> Requested:
        """Create the booking, or return the one this key created before (created=False).
        Refused (SeatsTaken) without recording anything if inventory is known to hold
        or have sold one of the seats for another booking, or another booking recorded
        here (or, with shared claims, by any instance) asked for one first and is still
        waiting for inventory's answer."""
        booking_id = Booking.create_id(customer_id, idempotency_key)
        claim = self.taken_seats.claim(show_id, seat_ids, str(booking_id))  # in memory: first
        shared = Claim([], [])
        if not claim.taken:
            shared = self._claim_shared(show_id, seat_ids, str(booking_id))
            if shared.taken:
                self.taken_seats.unclaim(show_id, claim.claimed, str(booking_id))
        if taken := claim.taken or shared.taken:
            if not self._made_before(booking_id):
                raise SeatsTaken(show_id, taken)
            existing = self.find(booking_id)  # a repeat: the same answer as the first time
            assert existing is not None
            return self._repeated(existing, show_id, seat_ids, payment_method)
        # No write lock and no read first: a new booking races nothing in this process
        # (nothing reacts to it before it is stored), so concurrent requests are written
        # side by side; a repeated key loses the version check and is read back instead.
        # The claim comes first, so inventory's answer cannot arrive before it.
        try:
            booking = Booking(
                customer_id=customer_id,
                idempotency_key=idempotency_key,
                show_id=show_id,
                seat_ids=seat_ids,
                payment_method=payment_method,
                requested_at=self.clock.now(),
                quoted_amount=quoted_amount,
            )
            position = self.save_all(booking)  # outside writing(): stored, not cached
            return Requested(booking, True, position)
        except IntegrityError:  # this key made a booking before (here or in another instance)
            self._unclaim(show_id, claim.claimed, shared.claimed, str(booking_id))
            existing = self.find(booking_id)
            assert existing is not None
        except BaseException:
            self._unclaim(show_id, claim.claimed, shared.claimed, str(booking_id))
            raise
        return self._repeated(existing, show_id, seat_ids, payment_method)

    def _claim_shared(self, show_id: str, seat_ids: list[str], booking_id: str) -> Claim:
        """The claim every instance sees; without Redis, none (this instance's own knowledge
        decides alone, and inventory, as always, at last)."""
        if self.shared_claims is None:
            return Claim([], [])
        try:
            return self.shared_claims.claim(show_id, seat_ids, booking_id)
        except RedisDown:
            return Claim([], [])

    def _unclaim(self, show_id: str, local: list[str], shared: list[str], booking_id: str) -> None:
        self.taken_seats.unclaim(show_id, local, booking_id)
        if self.shared_claims is not None and shared:
            try:
                self.shared_claims.unclaim(show_id, shared, booking_id)
            except RedisDown:
                pass  # the claim lapses by itself

    def _made_before(self, booking_id: UUID) -> bool:
        """Whether this key made a booking: one indexed read of the store, without the
        write lock (refusing must not wait for the consumer's transactions, as find()
        outside writing() would) and without decoding anything."""
        return bool(self.recorder.select_events(booking_id, limit=1))

    @staticmethod
    def _repeated(existing: Booking, show_id: str, seat_ids: list[str],
                  payment_method: str) -> Requested:
        if not existing.is_same_request(show_id, seat_ids, payment_method):
            raise IdempotencyConflict(
                "this Idempotency-Key was already used for a different booking request"
            )
        return Requested(existing, False, None)

    def retry_payment(
        self, booking_id: UUID, customer_id: str, payment_method: str
    ) -> Written[int]:
        """The new attempt's number, and where it was written."""
        return self._command(booking_id, customer_id,
                             lambda b: b.retry_payment(payment_method, self.clock.now()))

    def cancel(self, booking_id: UUID, customer_id: str) -> Written[Booking]:
        """The cancelled booking (a copy: the cached object stays with the writers), and
        where it was written."""
        def cancel(booking: Booking) -> Booking:
            booking.cancel_by_customer(self.clock.now())
            return deepcopy(booking)
        return self._command(booking_id, customer_id, cancel)

    def _command(self, booking_id: UUID, customer_id: str,
                 decide: Callable[[Booking], T]) -> Written[T]:
        """A customer's command, decided on the booking as stored now (find_current) and
        decided again if another instance's consumer wrote the booking in between."""
        for attempt in range(1, self.MAX_CONFLICT_RETRIES + 1):
            try:
                with self.writing():
                    booking = self._owned(self.find_current(booking_id), booking_id, customer_id)
                    outcome = decide(booking)
                    return Written(outcome, self.save_all(booking))
            except IntegrityError:
                if attempt == self.MAX_CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def get_booking(self, booking_id: UUID, customer_id: str | None = None) -> Booking:
        return self._owned(self.find(booking_id), booking_id, customer_id)

    def get_booking_as_requested(self, booking_id: UUID, customer_id: str | None = None) -> Booking:
        """The booking as its request made it (PENDING): see ``find_as_created``."""
        return self._owned(self.find_as_created(booking_id), booking_id, customer_id)

    @staticmethod
    def _owned(booking: Booking | None, booking_id: UUID, customer_id: str | None) -> Booking:
        if booking is None or (customer_id is not None and booking.customer_id != customer_id):
            raise BookingNotFound(str(booking_id))
        return booking

    # --- reactions -------------------------------------------------------------

    @singledispatchmethod
    def policy(self, message: c.PublicEvent, processing: ProcessingEvent) -> None:
        pass

    def aggregate_of(self, message: c.BookingEvent) -> Booking | None:
        return self.find(message.booking_id)  # None: not ours (another deployment's)

    # Inventory's seat events also tell which seats are taken (see taken_seats.py), to this
    # instance and, through shared_claims, to the others.

    def handle_batch(self, messages: Sequence[tuple[c.PublicEvent | None, Tracking | None]],
                     record: bool = True) -> bool | None:
        try:
            return super().handle_batch(messages, record)
        finally:
            self._share_learned()

    def _learn(self, show_id: str, seat_ids: list[str], booking_id: UUID,
               ttl: float | None) -> None:
        if self.shared_claims is not None:
            self._learned.append(Learned(show_id, seat_ids, str(booking_id), ttl))

    def _share_learned(self) -> None:
        """Write what the batch told, in one round trip (the consumer's thread alone
        learns, so the list is its own)."""
        learned, self._learned = self._learned, []
        if self.shared_claims is not None and learned:
            try:
                self.shared_claims.learn(learned)
            except RedisDown:
                pass  # the keys lapse; the others refuse less until the next messages

    @policy.register
    def on_seats_reserved(self, message: c.SeatsReserved, processing: ProcessingEvent) -> None:
        self.taken_seats.taken_by(message.show_id, message.seat_ids, str(message.booking_id))
        held_for = (message.reserved_until - self.clock.now()).total_seconds()
        self._learn(message.show_id, message.seat_ids, message.booking_id, held_for)
        self._react(message, processing, lambda b: b.seats_reserved(
            message.amount, message.currency, message.reserved_until, message.occurred_at))

    @policy.register
    def on_seats_rejected(self, message: c.SeatsRejected, processing: ProcessingEvent) -> None:
        taken = message.seat_ids if message.reason == "seats_taken" else ()
        self.taken_seats.rejected(message.show_id, str(message.booking_id), taken)
        if self.shared_claims is not None:  # its claims are on the seats it asked for
            booking = self.aggregate_of(message)
            asked = booking.seat_ids if booking is not None else message.seat_ids
            self._learn(message.show_id, list(asked), message.booking_id, None)
        self._react(message, processing,
                    lambda b: b.seats_rejected(message.reason, message.occurred_at))

    @policy.register
    def on_seats_released(self, message: c.SeatsReleased, processing: ProcessingEvent) -> None:
        self.taken_seats.released(message.show_id, message.seat_ids)
        self._learn(message.show_id, message.seat_ids, message.booking_id, None)
        self._react(message, processing,
                    lambda b: b.seats_released(message.reason, message.occurred_at))

    @policy.register
    def on_seats_booked(self, message: c.SeatsBooked, processing: ProcessingEvent) -> None:
        self.taken_seats.taken_by(message.show_id, message.seat_ids, str(message.booking_id))
        self._learn(message.show_id, message.seat_ids, message.booking_id, SOLD_TTL)
        self._react(message, processing, lambda b: b.seats_booked(message.occurred_at))

    @policy.register
    def on_payment_succeeded(
        self, message: c.PaymentSucceeded, processing: ProcessingEvent
    ) -> None:
        self._react(message, processing,
                    lambda b: b.payment_succeeded(message.attempt, message.occurred_at))

    @policy.register
    def on_payment_failed(self, message: c.PaymentFailed, processing: ProcessingEvent) -> None:
        self._react(message, processing, lambda b: b.payment_failed(
            message.attempt, message.reason, message.occurred_at))

    @policy.register
    def on_payment_action_required(
        self, message: c.PaymentActionRequired, processing: ProcessingEvent
    ) -> None:
        self._react(message, processing, lambda b: b.payment_action_required(
            message.attempt, message.client_secret, message.occurred_at))

    @policy.register
    def on_payment_refunded(self, message: c.PaymentRefunded, processing: ProcessingEvent) -> None:
        self._react(message, processing,
                    lambda b: b.payment_refunded(message.refund_id, message.amount,
                                                   message.occurred_at))
