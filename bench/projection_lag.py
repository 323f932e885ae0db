"""Projection lag under load: how long an event waits before it shows in the views.

    .venv/bin/python -m bench.projection_lag --bookings 600 --clients 16

Starts a fresh system (as the end-to-end tests do), books over HTTP from many
threads, and samples the projector's /lag every 50 ms: each sample is the age of
the oldest event of the batch the projector last wrote.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.e2e.harness import Distributed
from tests.fixtures.servers import Endpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    system = Distributed.create(Endpoints.from_env(), Path(".data/bench-logs"), hold_seconds="5")
    system.start()
    try:
        shows = [f"lag-{i}" for i in range(20)]
        for show in shows:
            system.open_show(show, seats=100)
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                streams = system.clients["projections"].get("/lag").json()["streams"]
                samples.append(max(s.get("seconds", 0.0) for s in streams.values()))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        rng = random.Random(3)
        started = time.monotonic()

        def book(i: int) -> None:
            seats = [f"A{rng.randint(1, 100)}"]
            system.book(f"c{i}", rng.choice(shows), seats, "pm_card_visa")

        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(book, range(args.bookings)))
        elapsed = time.monotonic() - started
        time.sleep(3)
        stop.set()
        sampler.join()
        busy = sorted(samples)
        p = lambda q: busy[min(len(busy) - 1, int(q * len(busy)))]  # noqa: E731
        print(f"{args.bookings} bookings from {args.clients} clients in {elapsed:.1f} s "
              f"({args.bookings / elapsed:.0f}/s)")
        print(f"projection lag over {len(busy)} samples: p50 {p(0.5) * 1000:.0f} ms, "
              f"p99 {p(0.99) * 1000:.0f} ms, max {busy[-1] * 1000:.0f} ms, "
              f"mean {statistics.mean(busy) * 1000:.0f} ms")
    finally:
        system.close()


if __name__ == "__main__":
    main()
