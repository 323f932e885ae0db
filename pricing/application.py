"""Pricing service: the chain's price rules, each show's prices from them, lookups and
quotes answered from the price cache.

It reacts to the theatre's shows (scheduled: priced; moved: priced again; cancelled: no
longer priced) and to inventory's demand uplifts (kept for quotes), and publishes a
show's prices (``ShowPriced``) whenever they change. Operators change the rules and set
a show's demand rule over the API; a rule change for every show on sale from a moment
on is applied by the timer once that moment comes.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, ClassVar, NamedTuple, TypeVar

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from pricing.domain import Applies, PriceBook, ShowPricing
from pricing.price_cache import CacheDown, CacheStats, InProcessPriceCache, PriceCache
from pricing.price_sheet import PriceSheet
from pricing.publishing import to_public
from pricing.rules import PriceRules, RuleChange, due, governing
from shared import contracts as c
from shared import ids, quotes
from shared.clock import Clock
from shared.contracts import DemandRule
from shared.service import ServiceApplication, Written

log = logging.getLogger(__name__)
T = TypeVar("T")


class ShowNotFound(LookupError):
    pass


class Quoted(NamedTuple):
    quote: quotes.Quote
    token: str
    sheet: PriceSheet


class PricingService(ServiceApplication):
    service = "pricing"
    # A hot show's demand uplifts change a few times; its prices with each rule change.
    snapshotting_intervals: ClassVar = {ShowPricing: 50, PriceBook: 20}

    def __init__(self, env: EnvType | None = None, clock: Clock | None = None,
                 recorder: ProcessRecorder | None = None, cache: PriceCache | None = None,
                 max_seats: int = 10) -> None:
        super().__init__(env, clock, recorder)
        self.cache: PriceCache = cache or InProcessPriceCache()
        self.cache_stats = CacheStats()
        self.max_seats = max_seats
        self._unput: set[str] = set()  # shows whose sheet the cache missed: put again
        self._unput_lock = threading.Lock()
        # The shows on record (show id -> on sale since), learned from the store.
        self._shows: set[str] = set()
        self._shows_read_to = 0
        self._repriced_through: datetime | None = None  # the timer's last look at due changes

    def to_public(self, domain_event: Any) -> c.PublicEvent | None:
        return to_public(domain_event)

    # --- rules ---------------------------------------------------------------------

    def change_rules(self, rules: PriceRules, applies: Applies, effective_from: datetime | None,
                     changed_by: str, note: str = "") -> Written:
        """Record a new version of the chain's rules. One in effect now reprices the shows
        on sale it governs at once (each show its own write): every show, if it is for all
        shows; if for new shows, any put on sale at this very moment."""
        def decide() -> tuple[RuleChange, list[Aggregate]]:
            book = self.find_current(ids.price_book_id()) or PriceBook()
            change = book.change(rules, applies, effective_from, changed_by, self.clock.now(),
                                 note)
            return change, [book]
        done = self.write(decide)
        if done.result.effective_from <= self.clock.now():
            self.reprice_shows(f"rules v{done.result.version}")
        return done

    def rule_changes(self) -> list[RuleChange]:
        with self.writing():
            book = self.find_current(ids.price_book_id())
            return book.rule_changes() if book is not None else []

    def set_demand(self, show_id: str, rule: DemandRule | None, by: str) -> Written:
        def decide() -> tuple[PriceSheet, list[Aggregate]]:
            show = self._show(show_id)
            changed = show.set_demand(rule, by, self.clock.now())
            return PriceSheet.of(show), [show] if changed else []
        return self.write(decide)

    def reprice_due(self) -> int:
        """The timer: reprice the shows on sale when a rule change for all shows comes
        into effect, and learn the shows other instances opened. Safe from any number of
        instances: a show is priced again only if its prices would change."""
        now = self.clock.now()
        self._put_unput()
        looked_from, self._repriced_through = self._repriced_through, now
        if looked_from is not None and not due(self.rule_changes(), looked_from, now):
            return 0
        # The first look (at start) reprices all: a change may have come due meanwhile.
        return self.reprice_shows("rules in effect")

    def reprice_shows(self, cause: str) -> int:
        """Price every show on sale by the rules that govern it now (a new version only
        where a price changes)."""
        self._learn_shows()
        # Read once for the pass: a change recorded meanwhile makes a pass of its own.
        changes = self.rule_changes()
        repriced = 0
        for show_id in sorted(self._shows):
            def decide(show_id: str = show_id) -> tuple[bool, list[Aggregate]]:
                show = self.find_current(ids.show_pricing_id(show_id))
                now = self.clock.now()
                if show is None or not show.on_sale(now):
                    return False, []
                changed = show.price(governing(changes, show.on_sale_since, now), now, cause)
                return changed, [show] if changed else []
            repriced += bool(self.write(decide).result)
        return repriced

    def _governing(self, show: ShowPricing, now: datetime) -> RuleChange | None:
        # As stored now: any instance may have changed the rules.
        book = self.find_current(ids.price_book_id())
        return governing(book.rule_changes(), show.on_sale_since, now) if book else None

    def _learn_shows(self) -> None:
        for n in self.recorder.select_notifications(
                start=self._shows_read_to + 1, limit=10_000, topics=[ShowPricing.Opened.TOPIC]):
            opened: Any = self.mapper.to_domain_event(n)
            self._shows.add(opened.show_id)
            self._shows_read_to = n.id

    # --- lookups and quotes ----------------------------------------------------------

    def price_sheet(self, show_id: str) -> PriceSheet:
        """The show's prices now, from the cache; from the store on a miss (and cached)."""
        try:
            sheet = self.cache.get(show_id)
        except CacheDown:
            self.cache_stats.failures += 1
            return self.sheet_from_store(show_id)
        if sheet is not None:
            self.cache_stats.hits += 1
            return sheet
        self.cache_stats.misses += 1
        sheet = self.sheet_from_store(show_id)
        self._put(sheet)
        return sheet

    def sheet_from_store(self, show_id: str) -> PriceSheet:
        show = self.find_stored(ids.show_pricing_id(show_id))
        if show is None or not show.price_version:
            raise ShowNotFound(show_id)
        return PriceSheet.of(show)

    def quote(self, show_id: str, seat_ids: list[str], secret: str) -> Quoted:
        """What these seats cost now, as a quote the booking request may carry, signed
        with the secret the services share (shared.quotes)."""
        if not seat_ids or len(seat_ids) > self.max_seats or len(set(seat_ids)) != len(seat_ids):
            raise quotes.InvalidQuote(
                f"a quote is for 1 to {self.max_seats} different seats of one show")
        sheet = self.price_sheet(show_id)
        now = self.clock.now()
        if sheet.cancelled or now >= sheet.starts_at:
            raise ShowNotFound(f"{show_id} is not on sale")
        quote, token = quotes.make(show_id, seat_ids, sheet.amount(seat_ids), sheet.currency,
                                   sheet.price_version, now, secret)
        return Quoted(quote, token, sheet)

    def _put(self, sheet: PriceSheet) -> None:
        try:
            self.cache.put(sheet)
        except CacheDown:
            with self._unput_lock:
                self._unput.add(sheet.show_id)

    def _put_unput(self) -> None:
        """Put the sheets the cache missed while it was down (the timer calls it)."""
        with self._unput_lock:
            pending, self._unput = self._unput, set()
        for show_id in pending:
            show = self.find_stored(ids.show_pricing_id(show_id))
            if show is not None:
                self._put(PriceSheet.of(show))

    def recorded(self, aggregates: Any) -> None:
        for a in aggregates:
            if isinstance(a, ShowPricing):
                self._shows.add(a.show_id)
                if a.price_version:
                    self._put(PriceSheet.of(a))

    # --- reactions -------------------------------------------------------------------

    @singledispatchmethod
    def policy(self, message: c.PublicEvent, processing: ProcessingEvent) -> None:
        pass

    def aggregate_of(self, message: c.ShowEvent) -> ShowPricing | None:
        return self.find(ids.show_pricing_id(message.show_id))

    @policy.register
    def on_show_scheduled(self, message: c.ShowScheduled, processing: ProcessingEvent) -> None:
        if self.aggregate_of(message) is not None:
            return  # a redelivery
        now = self.clock.now()
        show = ShowPricing(
            show_id=message.show_id, theatre_id=message.theatre_id, seats=dict(message.seats),
            list_prices=dict(message.prices), currency=message.currency,
            local_start=message.local_start, starts_at=message.starts_at,
            on_sale_since=message.occurred_at,
        )
        show.price(self._governing(show, now), now, "scheduled")
        processing.collect_events(show)

    @policy.register
    def on_show_rescheduled(self, message: c.ShowRescheduled,
                            processing: ProcessingEvent) -> None:
        def react(show: ShowPricing) -> None:
            now = self.clock.now()
            if show.reschedule(message.local_start, message.starts_at, now):
                show.price(self._governing(show, now), now, "rescheduled")
        self._react(message, processing, react)

    @policy.register
    def on_show_cancelled(self, message: c.ShowCancelled, processing: ProcessingEvent) -> None:
        self._react(message, processing, lambda show: show.cancel(self.clock.now()))

    @policy.register
    def on_show_demand_changed(self, message: c.ShowDemandChanged,
                               processing: ProcessingEvent) -> None:
        self._react(message, processing, lambda show: show.demand_changed(
            message.price_version, dict(message.uplifts), self.clock.now()))

    # --- reading and writing -------------------------------------------------------

    def _show(self, show_id: str) -> ShowPricing:
        show = self.find_current(ids.show_pricing_id(show_id))
        if show is None:
            raise ShowNotFound(show_id)
        return show
