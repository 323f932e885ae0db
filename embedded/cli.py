"""A small shell over the embedded runtime: put shows on, book, pay, retry, cancel, watch.

    python -m embedded            # interactive
    python -m embedded demo       # a scripted tour of every path
    echo "book ann show-1 A1,A2 pm_card_visa" | python -m embedded

Time is simulated: ``advance 11`` jumps the clock 11 minutes, so an expiry is instant.
"""

from __future__ import annotations

import cmd
import shlex
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from booking.application import IdempotencyConflict, SeatsTaken
from booking.domain import BookingRuleViolation
from embedded.system import EmbeddedSystem
from inventory.application import ShowNotFound
from inventory.domain import HoldLimits, InventoryRuleViolation
from notifications.channels import Email
from notifications.contact import ContactDetails, InvalidContact
from notifications.domain import KINDS
from pricing.domain import InvalidDemandRule
from pricing.rules import InvalidRules, PriceRules
from projections.queries import InMemoryQueries
from shared.clock import FakeClock
from shared.contracts import DemandRule
from shared.quotes import Quote
from theatre.domain import ShowPlan, TheatreRuleViolation

DEMO = """\
theatre odeon Odeon London Europe/London
screen odeon one A1-A10
schedule show-1 odeon one Dune +1 19:30 1200
schedule show-2 odeon one Arrival +1 22:00 1000
whats-on london
contact ann ann@example.com
contact cat cat@example.com fr
book ann show-1 A1,A2 pm_card_visa
book bob show-1 A2,A3 pm_card_visa
book bob show-1 A3,A11 pm_card_visa
book cat show-1 A4 pm_card_chargeDeclined
retry {cat} pm_card_visa
book dan show-1 A5,A6 pm_card_chargeDeclined
advance 11
book eve show-1 A7 pm_card_chargeDeclined
cancel {eve_pending}
withdraw show-1 A1
book fay show-2 A1,A2 pm_card_visa
cancel-show show-2 projector broken
prices show-1
quote show-1 A8
rules 1500 all
prices show-1
book-quote q1 gus pm_card_visa
quote show-1 A8
book-quote q2 gus pm_card_visa
book hal show-1 A9 pm_card_authenticationRequired
authenticate {hal} ok
seats show-1
whats-on london
sent
list
"""


class Shell(cmd.Cmd):
    intro: str | None = "cinema-saga embedded runtime. Type help or ? to list commands."
    prompt = "cinema> "

    def __init__(self, system: EmbeddedSystem, clock: FakeClock, **kw: Any) -> None:
        super().__init__(**kw)
        self.system, self.clock = system, clock
        self.bookings: dict[str, UUID] = {}  # short handle -> booking id
        self.quotes: dict[str, Quote] = {}  # short handle -> quote
        self.keys = 0

    def onecmd(self, line: str) -> bool:
        name, space, rest = line.partition(" ")  # commands are typed with dashes (open-show)
        line = name.replace("-", "_") + space + rest
        try:
            return super().onecmd(line)
        except (BookingRuleViolation, InventoryRuleViolation, TheatreRuleViolation,
                IdempotencyConflict) as e:
            print(f"refused: {e}")
        except SeatsTaken as e:
            print(f"refused at once, nothing booked: seats {e}")
        except LookupError as e:  # an unknown booking, show, theatre, screen or handle
            print(f"not found: {e}")
        except (InvalidRules, InvalidDemandRule, InvalidContact) as e:
            print(f"refused: {e}")
        except (ValueError, IndexError) as e:
            print(f"bad input: {e}")
        return False

    def do_open_show(self, arg: str) -> None:
        """open-show SHOW FIRST-LAST PRICE   e.g. open-show show-1 A1-A10 1200 (minor units)"""
        show, seat_range, price = shlex.split(arg)
        row, low, high = _seat_range(seat_range)
        seats = {f"{row}{n}": "standard" for n in range(low, high + 1)}
        self.system.inventory.open_show(show, seats, {"standard": int(price)}, "EUR")
        self.system.run_until_quiet()
        print(f"show {show}: {len(seats)} seats at {int(price) / 100:.2f} EUR")

    def do_theatre(self, arg: str) -> None:
        """theatre ID NAME CITY TIME_ZONE   e.g. theatre odeon Odeon London Europe/London"""
        theatre_id, name, city, zone = shlex.split(arg)
        self.system.theatre.register_theatre(theatre_id, name, city, "-", zone)
        print(f"theatre {theatre_id}: {name}, {city} ({zone})")

    def do_screen(self, arg: str) -> None:
        """screen THEATRE SCREEN FIRST-LAST   one row of Regular seats, e.g. A1-A10"""
        theatre_id, screen_id, seat_range = shlex.split(arg)
        row, first, last = _seat_range(seat_range)
        seats = [{"number": n, "column": n, "category": "Regular"} for n in range(first, last + 1)]
        done = self.system.theatre.lay_out_screen(theatre_id, screen_id, screen_id,
                                                  [{"row": row, "seats": seats}])
        print(f"screen {screen_id}: {len(seats)} seats, layout version {done.result.layout_version}")

    def do_schedule(self, arg: str) -> None:
        """schedule SHOW THEATRE SCREEN FILM +DAYS HH:MM PRICE   at local time, days from today"""
        show_id, theatre_id, screen_id, title, days, at, price = shlex.split(arg)
        day = (self.clock.now() + timedelta(days=int(days))).date()
        film = {"title": title, "runtime_minutes": 120, "rating": "12A", "language": "en",
                "format": "2D"}
        self.system.theatre.schedule_show(ShowPlan(show_id, theatre_id, screen_id, film,
                                                   f"{day}T{at}", {"Regular": int(price)}, "EUR"))
        self.system.run_until_quiet()
        print(f"show {show_id}: {title} on {day} at {at}, on sale")

    def do_cancel_show(self, arg: str) -> None:
        """cancel-show SHOW REASON...   every booking of it cancelled and refunded"""
        show_id, _, reason = arg.strip().partition(" ")
        self.system.theatre.cancel_show(show_id, reason or "cancelled")
        self.system.run_until_quiet()
        print(f"show {show_id} cancelled")

    def do_withdraw(self, arg: str) -> None:
        """withdraw SHOW SEAT[,SEAT]   seats out of sale; a booking holding one is cancelled"""
        show_id, seats = shlex.split(arg)
        self.system.theatre.withdraw_seats(show_id, seats.split(","), "broken")
        self.system.run_until_quiet()
        print(f"show {show_id}: {seats} withdrawn")

    def do_contact(self, arg: str) -> None:
        """contact CUSTOMER EMAIL [en|fr]   where the customer's messages go"""
        customer, email, *language = shlex.split(arg)
        details = ContactDetails.checked(email, language[0] if language else "en", [], {},
                                         True, KINDS)
        self.system.notifications.set_contact(customer, details)
        print(f"{customer}: messages to {email}")

    def do_sent(self, arg: str) -> None:
        """sent [CUSTOMER]   the emails the notification service sent (after the timers ran)"""
        self.system.sweep()
        for email in self.system.email.accepted:
            assert isinstance(email, Email)
            if not arg.strip() or email.to.startswith(f"{arg.strip()}@"):
                print(f"to {email.to}: {email.subject}")

    def do_whats_on(self, arg: str) -> None:
        """whats-on [CITY]   the catalogue: shows on sale, with their free seats"""
        catalogue = InMemoryQueries(self.system.views, refresh=self.system.project_all)
        for show in catalogue.shows(city=arg.strip() or None, include_cancelled=True):
            counts = show["seat_counts"]
            print(f"{show['show_id']}: {show['film']['title']} at {show['theatre']['name']},"
                  f" {show['local_start']} {show['status']}, {counts['available']} of"
                  f" {counts['total']} seats free")

    def do_book(self, arg: str) -> None:
        """book CUSTOMER SHOW SEAT,SEAT PAYMENT_METHOD [IDEMPOTENCY_KEY]"""
        customer, show, seats, method, *key = shlex.split(arg)
        self.keys += 1
        booking, _, _ = self.system.booking.request_booking(
            customer, key[0] if key else f"cli-{self.keys}", show, seats.split(","), method
        )
        handle = f"{customer}-{self.keys}"
        self.bookings[handle] = booking.id
        self.system.run_until_quiet()
        self._print(handle, booking.id)

    def do_retry(self, arg: str) -> None:
        """retry BOOKING PAYMENT_METHOD   (BOOKING is the handle printed by book)"""
        handle, method = shlex.split(arg)
        b = self.system.booking.get_booking(self.bookings[handle])
        attempt, _ = self.system.booking.retry_payment(b.id, b.customer_id, method)
        print(f"payment attempt {attempt} requested")
        self.system.run_until_quiet()
        self._print(handle, b.id)

    def do_authenticate(self, arg: str) -> None:
        """authenticate BOOKING ok|fail   the customer completes 3-D Secure (or fails it)"""
        handle, outcome = shlex.split(arg)
        payment = self.system.payment.get_payment(self.bookings[handle])
        waiting = [o for o in payment.open_intents() if o.client_secret]
        if not waiting:
            print(f"{handle}: no payment waits for authentication")
            return
        self.system.provider.authenticate(waiting[-1].intent_id, success=outcome == "ok")
        self.system.run_until_quiet()  # the provider's webhook reaches payment
        self._print(handle, self.bookings[handle])

    def do_cancel(self, arg: str) -> None:
        """cancel BOOKING"""
        b = self.system.booking.get_booking(self.bookings[arg.strip()])
        self.system.booking.cancel(b.id, b.customer_id)
        self.system.run_until_quiet()
        self._print(arg.strip(), b.id)

    def do_rules(self, arg: str) -> None:
        """rules PRICE [all|new]   the chain's Regular seats at PRICE from now: every show on
        sale (all, the default), or shows put on sale from now (new)"""
        price, *applies = shlex.split(arg)
        rules = PriceRules(currency="EUR", base={"*": {"Regular": int(price)}})
        done = self.system.pricing.change_rules(
            rules, "new_shows" if applies == ["new"] else "all_shows", None, "shell")
        self.system.run_until_quiet()
        print(f"rules version {done.result.version}: Regular at {int(price) / 100:.2f} EUR")

    def do_demand(self, arg: str) -> None:
        """demand SHOW THRESHOLD% UPLIFT% MAX%   e.g. demand show-1 50 10 30"""
        show, threshold, uplift, most = shlex.split(arg)
        rule = DemandRule(threshold_percent=int(threshold), uplift_percent=int(uplift),
                          every_percent=int(uplift), max_uplift_percent=int(most))
        self.system.pricing.set_demand(show, rule, "shell")
        self.system.run_until_quiet()
        self.do_prices(show)

    def do_prices(self, arg: str) -> None:
        """prices SHOW   its prices per category now, and how they were made"""
        sheet = self.system.pricing.price_sheet(arg.strip())
        print(f"{sheet.show_id}: price version {sheet.price_version} (rules version "
              f"{sheet.rules_version or 'none: the list prices'})")
        for category, p in sheet.categories().items():
            print(f"    {category}: {p['price'] / 100:.2f} {sheet.currency}"
                  f"  [{'; '.join(p['explanation']) or 'list price'}]")

    def do_quote(self, arg: str) -> None:
        """quote SHOW SEAT,SEAT   what the seats cost now (a quote for book-quote)"""
        show, seats = shlex.split(arg)
        quoted = self.system.pricing.quote(show, seats.split(","), "shell")
        handle = f"q{len(self.quotes) + 1}"
        self.quotes[handle] = quoted.quote
        print(f"{handle}: {seats} for {quoted.quote.amount / 100:.2f} {quoted.quote.currency}")

    def do_book_quote(self, arg: str) -> None:
        """book-quote QUOTE CUSTOMER PAYMENT_METHOD   book a quote's seats at its price, or
        not at all (price_changed)"""
        handle, customer, method = shlex.split(arg)
        quote = self.quotes[handle]
        self.keys += 1
        booking, _, _ = self.system.booking.request_booking(
            customer, f"cli-{self.keys}", quote.show_id, list(quote.seat_ids), method,
            quote.amount)
        self.bookings[f"{customer}-{self.keys}"] = booking.id
        self.system.run_until_quiet()
        self._print(f"{customer}-{self.keys}", booking.id)

    def do_advance(self, arg: str) -> None:
        """advance MINUTES   jump the clock, then run the timers (expiry, reconciliation)"""
        self.clock.advance(timedelta(minutes=float(arg)))
        released = self.system.inventory.release_expired_holds()
        self.system.sweep()
        print(f"clock at {self.clock.now():%H:%M}; {released} expired hold(s) released")

    def do_show(self, arg: str) -> None:
        """show BOOKING   the booking's view: status, money, attempts, timeline"""
        self._print(arg.strip(), self.bookings[arg.strip()], timeline=True)

    def do_seats(self, arg: str) -> None:
        """seats SHOW   the show's seats from the views (the catalogue's, for a scheduled show)"""
        marks = {"AVAILABLE": ".", "RESERVED": "r", "BOOKED": "X", "WITHDRAWN": "-",
                 "NOT_ON_SALE": "#"}
        show = InMemoryQueries(self.system.views, refresh=self.system.project_all).show(arg.strip())
        if show is not None:
            print(" ".join(f"{s['seat_id']}:{marks[s['state']]}" for s in show["seats"]))
            print("counts:", show["seat_counts"])
            return
        # a show opened by an operator's PUT to inventory
        doc = InMemoryQueries(self.system.views).seat_map(arg.strip())
        if doc is None:
            raise ShowNotFound(arg.strip())
        print(" ".join(f"{s}:{marks[v['state']]}" for s, v in doc["seats"].items()))
        print("counts:", doc["counts"])

    def do_list(self, arg: str) -> None:
        """list   every booking of this session"""
        for handle, booking_id in self.bookings.items():
            self._print(handle, booking_id)

    def do_quit(self, arg: str) -> bool:
        """quit"""
        return True

    do_EOF = do_quit

    def _print(self, handle: str, booking_id: UUID, timeline: bool = False) -> None:
        doc = self.system.views.get("bookings", str(booking_id))
        assert doc is not None
        money = f"{doc['amount'] / 100:.2f} {doc['currency']}" if doc["amount"] is not None else "-"
        why = f" ({doc['cancellation_reason']})" if doc["cancellation_reason"] else ""
        refund = f", refunded {doc['refunded_amount'] / 100:.2f}" if doc["refunded_amount"] else ""
        action = doc.get("next_action")
        waits = ", waiting for the customer to authenticate (3-D Secure)" if action else ""
        print(f"{handle}: {doc['status']}{why} seats={','.join(doc['seat_ids'])} {money}{refund}"
              f"{waits}")
        if timeline:
            for t in doc["timeline"]:
                print(f"    {t['at']:%H:%M:%S} {t['event']}")

    def default(self, line: str) -> None:
        print(f"unknown command: {line.partition(' ')[0].replace('_', '-')} (try help)")


def _seat_range(text: str) -> tuple[str, int, int]:
    """"A1-A10" -> ("A", 1, 10)."""
    first, last = text.split("-")
    row = first.rstrip("0123456789")
    return row, int(first[len(row):]), int(last[len(row):])


def main(argv: list[str]) -> int:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    system = EmbeddedSystem(clock=clock, limits=HoldLimits(hold_for=timedelta(minutes=10)))
    if argv[:1] == ["demo"]:
        shell = Shell(system, clock)
        for line in DEMO.splitlines():
            line = line.format(
                cat=next((h for h in shell.bookings if h.startswith("cat")), "?"),
                eve_pending=next((h for h in shell.bookings if h.startswith("eve")), "?"),
                hal=next((h for h in shell.bookings if h.startswith("hal")), "?"),
            )
            print(f"{shell.prompt}{line}")
            shell.onecmd(line)
        return 0
    interactive = sys.stdin.isatty()
    shell = Shell(system, clock) if interactive else Shell(system, clock, stdin=sys.stdin)
    if not interactive:
        shell.use_rawinput = False
        shell.prompt = ""
        shell.intro = None
    shell.cmdloop()
    return 0
