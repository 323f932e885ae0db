"""Requests for a show that is not open (yet): each rejected as ``unknown_show``, once.

Why this exists: booking does not know which shows are on sale, so a request may name
a show inventory has not opened, one that never opens or one opened a moment later (a
show put on sale just after a customer asked for it: docs/growth.md). Inventory rejects
it, once per booking, and the rejection must still stand when the request is delivered
again after the show opened (a redelivery, or a republished copy at a new position):
decided again, against the open show, it could reserve seats for a booking that was
cancelled as ``unknown_show``.

How: the requests for one show id are rejected on one record (``UnknownShowRequests``).
Opening the show closes that record in the same write and hands its booking ids over to
the show (``ShowInventory.ended``); a rejection racing with the opening conflicts with
the close and is decided again, against the show. So an open show decides every
request from its own state, without reading anything else.

Older stores: before that record, each rejection was an aggregate of its own
(``UnknownShowRequest``). Nothing writes those any more, but a store written by an
older inventory holds them, and their rejections must stand too: a show takes them
over when it opens, and a show opened before the hand-over existed (``unknown_adopted``
False) looks them up per request. The methods under "old per-booking records" below
are all that reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from eventsourcing.application import ProcessingEvent

from inventory.domain import ShowInventory, UnknownShowRequest, UnknownShowRequests
from shared import contracts as c
from shared import ids

if TYPE_CHECKING:
    from inventory.application import InventoryService


class HandOver(NamedTuple):
    requests: UnknownShowRequests  # closed, to be saved with the show
    rejected: list[str]  # bookings rejected as unknown, for the show to take over
    priced: dict[str, Any] | None  # prices that arrived before the show (priced_fields)


class UnknownShows:
    """Inventory's requests for shows that are not open: rejected here, then handed over
    to the show when it opens."""

    def __init__(self, service: InventoryService) -> None:
        self.service = service
        # show id -> bookings rejected by old per-booking records, read up to _old_read_to.
        self._old_by_show: dict[str, set[str]] = {}
        self._old_read_to = 0

    def reject_unless_opened(
        self, message: c.BookingRequested, processing: ProcessingEvent, now: datetime
    ) -> ShowInventory | None:
        """Reject a request for a show that was not found open, once per booking. If the
        show has opened since it was looked for, the show, to decide the request."""
        requests = self.service.find(UnknownShowRequests.create_id(message.show_id))
        if requests is None or not requests.closed:
            if not self._old_record_rejected(message.booking_id):
                requests = requests or UnknownShowRequests(show_id=message.show_id)
                requests.reject(message.booking_id, now)
                processing.collect_events(requests)
            return None
        # Opened since we looked: the opening closed this record in the same write.
        show = self.service.aggregate_of(message)
        assert show is not None, f"show {message.show_id}: requests closed, show missing"
        return show

    def hand_over(self, show_id: str) -> HandOver:
        """For opening a show: its record of requests, closed, every booking rejected as
        unknown so far, and the prices that arrived before it, for the show to take over.
        The record and the show are saved in one write."""
        requests = self.service.find(UnknownShowRequests.create_id(show_id))
        rejected = set(self._old_rejections(show_id))
        if requests is None:
            requests = UnknownShowRequests(show_id=show_id)
        else:
            rejected.update(requests.booking_ids)
        requests.close()
        return HandOver(requests, sorted(rejected), requests.priced)

    def keep_prices(self, message: c.ShowPriced, processing: ProcessingEvent,
                    now: datetime) -> ShowInventory | None:
        """Keep prices for a show that was not found open, for its opening. If the show
        has opened since it was looked for, the show, to take them."""
        requests = self.service.find(UnknownShowRequests.create_id(message.show_id))
        if requests is None or not requests.closed:
            requests = requests or UnknownShowRequests(show_id=message.show_id)
            requests.keep_prices(ShowInventory.priced_fields(
                message.price_version, message.prices, message.currency, message.rounding,
                message.caps, message.demand), now)
            processing.collect_events(requests)
            return None
        show = self.service.aggregate_of(message)
        assert show is not None, f"show {message.show_id}: requests closed, show missing"
        return show

    def rejected_before_opening(self, show: ShowInventory, message: c.BookingRequested) -> bool:
        """Whether an open show must leave this request alone: rejected before the show
        opened. A show knows every such rejection itself (``hand_over``), except one
        opened before the hand-over existed: for it, an old per-booking record."""
        return (not show.unknown_adopted and not show.decided(message.booking_id)
                and self._old_record_rejected(message.booking_id))

    # --- old per-booking records (UnknownShowRequest): read, never written -------------

    def _old_record_rejected(self, booking_id: UUID) -> bool:
        return self.service.find(ids.unknown_show_request_id(booking_id)) is not None

    def _old_rejections(self, show_id: str) -> set[str]:
        """Bookings rejected as unknown for this show by old per-booking records.
        Nothing writes those any more, so reading the log once per process (and what
        was appended since, at each opening) finds them all."""
        for n in self.service.notifications(UnknownShowRequest.Rejected.TOPIC,
                                            after=self._old_read_to):
            e: Any = self.service.mapper.to_domain_event(n)  # UnknownShowRequest.Rejected
            self._old_by_show.setdefault(e.show_id, set()).add(str(e.booking_id))
            self._old_read_to = n.id
        return self._old_by_show.get(show_id, set())
