"""What the event mapper costs per event, and per confirmed booking, in this process.

The services store and read their events through eventsourcing's mapper and its
stdlib-json transcoder; the views' fast reader (projections/sources.py) decodes the same
stored states with msgspec. This measures both on real events: the events of
confirmed bookings made on the embedded runtime (in-memory stores, no servers), encoded
and decoded many times over, side by side in one run.

    python -m bench.mapper                     # 200 bookings, 20 passes
    python -m bench.mapper --bookings 50 --passes 5

What it tells: whether a msgspec-based mapper for the services is worth its risk (the
stored format must stay readable both ways). Multiply the per-booking figure by the
confirmed bookings per second for the CPU it would save, and compare it with the CPU per
booking that ``python -m bench steady`` reports.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from eventsourcing.persistence import JSONTranscoder

from embedded.system import EmbeddedSystem
from inventory.domain import HoldLimits
from projections.sources import _decode_state
from shared.clock import FakeClock


def confirmed_bookings(n: int) -> EmbeddedSystem:
    """A system in which ``n`` bookings of two seats each were confirmed."""
    system = EmbeddedSystem(clock=FakeClock(),
                            limits=HoldLimits(max_seats=4, hold_for=timedelta(minutes=10)))
    shows = (n * 2 + 99) // 100
    for s in range(shows):
        system.inventory.open_show(f"show-{s}", {f"A{i}": "std" for i in range(100)},
                                   {"std": 1000}, "EUR")
    system.run_until_quiet()
    for b in range(n):
        seat = 2 * b % 100
        system.booking.request_booking(f"c{b}", f"k{b}", f"show-{2 * b // 100}",
                                       [f"A{seat}", f"A{seat + 1}"], "pm_card_visa")
        system.run_until_quiet()
    return system


def per_call_us(fn: Callable[[Any], Any], items: Sequence[Any], passes: int) -> float:
    """Median over passes of the mean time per item, in microseconds."""
    runs = []
    for _ in range(passes):
        started = time.perf_counter()
        for item in items:
            fn(item)
        runs.append((time.perf_counter() - started) / len(items) * 1e6)
    return statistics.median(runs)


def measure(bookings: int, passes: int) -> list[dict[str, Any]]:
    system = confirmed_bookings(bookings)
    rows = []
    for app in (system.booking, system.inventory, system.payment):
        stored = app.recorder.select_notifications(start=1, limit=1_000_000)
        mapper = app.mapper
        events = [mapper.to_domain_event(n) for n in stored]
        transcoder = mapper.transcoder
        assert isinstance(transcoder, JSONTranscoder)  # the services'
        states = [n.state for n in stored]
        rows.append({
            "service": app.service,
            "events": len(stored),
            "per_booking": len(stored) / bookings,
            "bytes": statistics.median(len(n.state) for n in stored),
            "encode_us": per_call_us(mapper.to_stored_event, events, passes),
            "decode_us": per_call_us(mapper.to_domain_event, stored, passes),
            "json_decode_us": per_call_us(transcoder.decode, states, passes),
            "msgspec_decode_us": per_call_us(
                functools.partial(_decode_state, named=transcoder.names), states, passes),
        })
    return rows


def report(rows: list[dict[str, Any]], bookings: int) -> str:
    lines = [
        (f"Event mapper, per event (median of the passes), events of {bookings} confirmed "
         "bookings:"),
        ("service    events  per booking  state B  encode us  decode us  of which json us"
         "  msgspec state us  msgspec/json"),
    ]
    total_ms = 0.0
    for r in rows:
        lines.append(
            f"{r['service']:<9} {r['events']:>7} {r['per_booking']:>12.1f} {r['bytes']:>8.0f}"
            f" {r['encode_us']:>10.1f} {r['decode_us']:>10.1f} {r['json_decode_us']:>17.1f}"
            f" {r['msgspec_decode_us']:>17.1f} {r['msgspec_decode_us'] / r['json_decode_us']:>12.2f}x"
        )
        # Each event is encoded once when stored and decoded once by the outbox relay
        # (a public one; private topics are skipped after the first) and when its
        # aggregate is loaded from the store rather than the cache (not counted here).
        total_ms += r["per_booking"] * (r["encode_us"] + r["decode_us"]) / 1000
    lines.append(f"mapper CPU per confirmed booking, every event encoded and decoded once: "
                 f"{total_ms:.2f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.mapper", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bookings", type=int, default=200)
    p.add_argument("--passes", type=int, default=20)
    args = p.parse_args(argv)
    print(report(measure(args.bookings, args.passes), args.bookings))


if __name__ == "__main__":
    main()
