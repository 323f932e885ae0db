"""The end-of-run audit: the saga's invariants over the services' own stores and the
payment provider's records, the same checks as ``tests/support/audit.audit``
(``invariants.audit_checks``), each reported rather than raised."""

from __future__ import annotations

import time

from booking.domain import BookingStatus
from tests.e2e.harness import Distributed, Stores
from tests.support import invariants as inv


def audit(system: Distributed, transitions: bool = False, customer_cancelled: set | None = None,
          stores: Stores | None = None) -> dict:
    """Run each invariant, timing it; a failure is reported, not raised.
    ``customer_cancelled``: the bookings whose customers asked to cancel; ``stores``: the
    services' stores to read (the booking, inventory and payment ones by default; dead
    letters are looked for in each)."""
    stores, ledger = stores or system.stores(), system.ledger()
    results: dict[str, str] = {}
    start = time.monotonic()
    try:
        with inv.one_moment(stores):
            for name, check in inv.audit_checks(stores, ledger, customer_cancelled or set(),
                                                 transitions):
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
