"""Projection lag and the projector's cost: idle, then under load.

    .venv/bin/python -m bench.projection_lag --bookings 600 --clients 16

Starts a fresh system (as the end-to-end tests do, with a FerretDB of its own unless
``--ferretdb shared``), then:

- idle: the CPU the projector and FerretDB use with no request at all;
- load: books over HTTP from many threads; meanwhile samples the projector's /lag every
  50 ms (each sample: the age of the oldest event of the batch the projector last
  wrote);
- afterwards: the projector's own figures (``/lag``): commit -> view per transaction
  (its NOTIFY's arrival -> the views' writes acknowledged) and recorded -> view per
  public event (its timestamp, taken before the commit -> the same), and the CPU the
  projector and FerretDB used during the load.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.procstats import cpu_seconds, listener_pid
from bench.system import start_system, stop_system


def cores(pids: dict[str, int | None], seconds: float, before: dict[str, float]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        now = cpu_seconds(pid) if pid else None
        if now is not None and name in before:
            out[name] = round((now - before[name]) / seconds, 3)
    return out


def cpu_now(pids: dict[str, int | None]) -> dict[str, float]:
    return {n: c for n, p in pids.items() if p and (c := cpu_seconds(p)) is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--ferretdb", choices=("private", "shared"), default="private")
    args = parser.parse_args()
    system = start_system(hold_seconds=5, sweep_seconds=1,
                          private_ferretdb=args.ferretdb == "private")
    try:
        s = system.local.settings
        private = system.ferret.proc if system.ferret else None
        ferret = private.pid if private else listener_pid(
            int(s.mongo_url.rsplit(":", 1)[1].strip("/")))
        pids = {"projections": system.local.procs["projections"].pid, "ferretdb": ferret}
        shows = [f"lag-{i}" for i in range(20)]
        for show in shows:
            system.open_show(show, seats=100)
        time.sleep(2)
        before = cpu_now(pids)
        time.sleep(args.idle_seconds)
        idle = cores(pids, args.idle_seconds, before)
        print(f"idle {args.idle_seconds:g} s, cores: " + ", ".join(f"{k} {v}" for k, v in idle.items()))

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
        load_started_wall = time.time()
        started = time.monotonic()
        before = cpu_now(pids)

        def book(i: int) -> None:
            seats = [f"A{rng.randint(1, 100)}"]
            system.book(f"c{i}", rng.choice(shows), seats, "pm_card_visa")

        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(book, range(args.bookings)))
        elapsed = time.monotonic() - started
        time.sleep(3)
        stop.set()
        sampler.join()
        loaded = cores(pids, time.monotonic() - started, before)
        busy = sorted(samples)
        p = lambda q: busy[min(len(busy) - 1, int(q * len(busy)))]
        print(f"{args.bookings} bookings from {args.clients} clients in {elapsed:.1f} s "
              f"({args.bookings / elapsed:.0f}/s); cores during load + 3 s: "
              + ", ".join(f"{k} {v}" for k, v in loaded.items()))
        print(f"sampled /lag (age of the oldest event of the last batch), {len(busy)} samples: "
              f"p50 {p(0.5) * 1000:.0f} ms, p99 {p(0.99) * 1000:.0f} ms, "
              f"max {busy[-1] * 1000:.0f} ms, mean {statistics.mean(busy) * 1000:.0f} ms")
        lag = system.clients["projections"].get(
            "/lag", params={"since": load_started_wall}).json()
        c2v = lag.get("commit_to_view")
        if c2v:
            for name, what in (("commit_to_view", "commit -> view, every transaction"),
                               ("recorded_to_view", "recorded -> view, every public event")):
                d = lag.get(name) or {}
                print(f"{what} of the load (n {d.get('n', 0)}, {lag.get('rounds')} rounds in all): "
                      f"p50 {d.get('p50')} ms, p95 {d.get('p95')} ms, p99 {d.get('p99')} ms, "
                      f"max {d.get('max')} ms, over 200 ms: {d.get('over_200ms')}")
            print(f"projector's work since it started: {lag.get('work')}")
            print(f"its MongoDB commands ([count, seconds]): {lag.get('mongodb')}")
        else:
            print("commit -> view: not reported by this projector")
    finally:
        stop_system(system)


if __name__ == "__main__":
    main()
