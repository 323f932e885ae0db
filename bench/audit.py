"""The end-of-run audit: the saga's invariants over the services' own stores, the
same checks as ``tests/support/audit.audit`` (tests/support/invariants.py)."""

from __future__ import annotations

import time

from booking.domain import BookingStatus
from tests.e2e.harness import Distributed
from tests.support import invariants as inv


def audit(system: Distributed, transitions: bool = False) -> dict:
    """Run each invariant, timing it; a failure is reported, not raised."""
    stores, ledger = system.stores(), system.ledger()
    checks = [
        ("every booking final", lambda: inv.all_final(stores)),
        ("no seat held or sold twice", lambda: inv.one_holder_per_seat(stores)),
        ("confirmed iff paid and booked", lambda: inv.confirmed_iff_paid_and_booked(stores)),
        ("at most one charge per booking", lambda: inv.at_most_one_charge_stands(ledger)),
        ("no intent confirmed twice", lambda: inv.no_intent_confirmed_twice(ledger)),
        ("captured = confirmed + refunded", lambda: inv.money_balances(stores, ledger)),
        ("holds honoured (released only after deadline)",
         lambda: inv.holds_honoured(stores, customer_cancelled=set())),
    ]
    if transitions:  # reloads every version of every booking: slow on big runs
        checks.append(("transitions allowed", lambda: inv.transitions_allowed({}, stores)))
    results: dict[str, str] = {}
    start = time.monotonic()
    try:
        for name, check in checks:
            try:
                check()
                results[name] = "ok"
            except AssertionError as e:
                results[name] = f"FAILED: {str(e)[:500]}"
        bookings = inv.bookings(stores)
        totals = {
            "bookings": len(bookings),
            "confirmed": sum(b.status is BookingStatus.CONFIRMED for b in bookings),
            "captured": sum(ledger.captured_by_booking().values()),
            "refunded": ledger.refunded_total(),
        }
    finally:
        ledger.close()
        for app in stores.apps.values():
            app.close()
    return {"checks": results, "ok": all(v == "ok" for v in results.values()),
            "totals": totals, "took_s": round(time.monotonic() - start, 1)}
