"""The chaos soak's fault schedule: a pure function of the seed and the run's length.

Each round is every fault kind once, in an order and with outages drawn from the seed;
a run has one round per ten minutes (at least one), its faults spread evenly over the
load's window after a quiet first tenth, so a 20-minute run does every kind twice and a
2-minute one every kind once. A fault starts at its time or, when the one before it
overran (a broker slow to restart), as soon as that one has ended.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from launcher.processes import SERVICES

# kill -9 of each process of the system (the services, the notifier, the projector).
KILLS = tuple(f"kill-{process}" for process in SERVICES)
# The servers, each killed (PostgreSQL crashed: ``pg_ctl stop -m immediate``) and restarted.
SERVERS = ("kill-kafka", "crash-postgres", "kill-ferretdb", "kill-redis", "kill-stripe",
           "kill-mailpit")
# A service stopped (SIGSTOP) for longer than Kafka's session timeout and the relay
# lease's expiry, then continued.
PAUSE = "pause"
KINDS = (*KILLS, *SERVERS, PAUSE)
# The services a pause may hit: those with a consumer and a relay.
PAUSABLE = ("booking", "inventory", "payment", "pricing", "notifications")
PAUSE_SECONDS = (12.0, 20.0)  # > 10 s: the session timeout and the lease's expiry
ROUND_MINUTES = 10


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the load started
    kind: str
    target: str  # the process or server hit
    outage: float  # seconds down (paused) before the restart (the continue)

    def describe(self) -> str:
        return f"{self.at:7.1f}s  {self.kind:<22} {self.target:<14} {self.outage:4.1f}s"


def rounds(minutes: float) -> int:
    return max(1, int(minutes // ROUND_MINUTES))


def schedule(seed: int, minutes: float, kinds: tuple[str, ...] = KINDS) -> list[Fault]:
    """The faults of a run of ``minutes`` minutes of load, in order of time."""
    rng = random.Random(seed)
    window = minutes * 60
    order = [kind for _ in range(rounds(minutes)) for kind in rng.sample(kinds, len(kinds))]
    start, end = window * 0.1, window * 0.9
    step = (end - start) / len(order)
    faults = []
    for i, kind in enumerate(order):
        at = start + step * i + rng.uniform(0, step * 0.3)
        if kind == PAUSE:
            target, outage = rng.choice(PAUSABLE), rng.uniform(*PAUSE_SECONDS)
        elif kind in KILLS:
            target, outage = kind.removeprefix("kill-"), rng.uniform(0.0, 2.0)
        else:
            target = kind.split("-", 1)[1]
            outage = rng.uniform(2.0, 8.0)
        faults.append(Fault(round(at, 1), kind, target, round(outage, 1)))
    return faults
