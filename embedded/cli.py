"""A small shell over the embedded runtime: book, pay, retry, cancel, watch the saga.

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

from booking.application import BookingNotFound, IdempotencyConflict, SeatsTaken
from booking.domain import BookingRuleViolation
from embedded.system import EmbeddedSystem
from inventory.application import ShowNotFound
from inventory.domain import HoldLimits, InventoryRuleViolation
from shared.clock import FakeClock

DEMO = """\
open-show show-1 A1-A10 1200
book ann show-1 A1,A2 pm_card_visa
book bob show-1 A2,A3 pm_card_visa
book bob show-1 A3,A11 pm_card_visa
book cat show-1 A4 pm_card_chargeDeclined
retry {cat} pm_card_visa
book dan show-1 A5,A6 pm_card_chargeDeclined
advance 11
book eve show-1 A7 pm_card_chargeDeclined
cancel {eve_pending}
seats show-1
list
"""


class Shell(cmd.Cmd):
    intro: str | None = "cinema-saga embedded runtime. Type help or ? to list commands."
    prompt = "cinema> "

    def __init__(self, system: EmbeddedSystem, clock: FakeClock, **kw: Any) -> None:
        super().__init__(**kw)
        self.system, self.clock = system, clock
        self.bookings: dict[str, UUID] = {}  # short handle -> booking id
        self.keys = 0

    def onecmd(self, line: str) -> bool:
        try:
            return super().onecmd(line)
        except (BookingRuleViolation, InventoryRuleViolation, IdempotencyConflict) as e:
            print(f"refused: {e}")
        except SeatsTaken as e:
            print(f"refused at once, nothing booked: seats {e}")
        except (BookingNotFound, ShowNotFound, KeyError) as e:
            print(f"not found: {e}")
        except (ValueError, IndexError) as e:
            print(f"bad input: {e}")
        return False

    def do_open_show(self, arg: str) -> None:
        """open-show SHOW FIRST-LAST PRICE   e.g. open-show show-1 A1-A10 1200 (minor units)"""
        show, seat_range, price = shlex.split(arg)
        first, last = seat_range.split("-")
        row = first.rstrip("0123456789")
        seats = {f"{row}{n}": "standard" for n in range(int(first[len(row):]), int(last[len(row):]) + 1)}
        self.system.inventory.open_show(show, seats, {"standard": int(price)}, "EUR")
        self.system.run_until_quiet()
        print(f"show {show}: {len(seats)} seats at {int(price) / 100:.2f} EUR")

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

    def do_cancel(self, arg: str) -> None:
        """cancel BOOKING"""
        b = self.system.booking.get_booking(self.bookings[arg.strip()])
        self.system.booking.cancel(b.id, b.customer_id)
        self.system.run_until_quiet()
        self._print(arg.strip(), b.id)

    def do_advance(self, arg: str) -> None:
        """advance MINUTES   jump the clock, then run the expiry sweep"""
        self.clock.advance(timedelta(minutes=float(arg)))
        released = self.system.sweep()
        print(f"clock at {self.clock.now():%H:%M}; {released} expired hold(s) released")

    def do_show(self, arg: str) -> None:
        """show BOOKING   the booking's view: status, money, attempts, timeline"""
        self._print(arg.strip(), self.bookings[arg.strip()], timeline=True)

    def do_seats(self, arg: str) -> None:
        """seats SHOW   the show's seat map from the view"""
        doc = self.system.views.get("seat_maps", arg.strip())
        if doc is None:
            raise ShowNotFound(arg.strip())
        marks = {"AVAILABLE": ".", "RESERVED": "r", "BOOKED": "X"}
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
        print(f"{handle}: {doc['status']}{why} seats={','.join(doc['seat_ids'])} {money}{refund}")
        if timeline:
            for t in doc["timeline"]:
                print(f"    {t['at']:%H:%M:%S} {t['event']}")

    def default(self, line: str) -> None:
        # Commands are typed with dashes (open-show); methods use underscores.
        name, _, rest = line.partition(" ")
        method = getattr(self, "do_" + name.replace("-", "_"), None)
        if method is None:
            print(f"unknown command: {name} (try help)")
        else:
            method(rest)


def main(argv: list[str]) -> int:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    system = EmbeddedSystem(clock=clock, limits=HoldLimits(hold_for=timedelta(minutes=10)))
    if argv[:1] == ["demo"]:
        shell = Shell(system, clock)
        for line in DEMO.splitlines():
            line = line.format(
                cat=next((h for h in shell.bookings if h.startswith("cat")), "?"),
                eve_pending=next((h for h in shell.bookings if h.startswith("eve")), "?"),
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
