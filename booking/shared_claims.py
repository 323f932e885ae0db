"""Booking's seat claims, and what it has heard of holds and sales, shared by its
instances through Redis.

``TakenSeats`` (taken_seats.py) is one instance's knowledge: the seats of the shows whose
partitions it follows, and the claims of the requests it recorded itself. With several
booking instances, a request reaching another instance would go round the saga to be
rejected by inventory. Here every instance also claims a request's seats in Redis, and
the instance that follows a show writes there what inventory says of its seats, so every
instance refuses at once (409) a request for seats another booking holds, has bought, or
asked for first and still waits for.

One key per seat, ``<namespace>seat:{<show>}:<seat>``, whose value is the booking that
claims, holds or has bought it. It lapses by itself:

- a claim after ``claim_ttl`` (inventory's answer, written by the show's follower,
  replaces it well before);
- a hold at its ``reserved_until``, unless released before;
- a sale after ``SOLD_TTL``.

Advisory, like TakenSeats: inventory decides. A message read again after a restart is
written again, in order, so what is written ends as it ended the first time; a lost
Redis starts empty and loses only refusals that inventory then makes a hop later. The
namespace is the deployment's (its topic prefix), so systems that share a Redis do not
see each other's seats; the show in braces is a hash tag, which keeps a show's keys in
one slot of a Redis Cluster, as a script's keys must be.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from redis import Redis

from booking.taken_seats import Claim
from shared.config import Tuning
from shared.redis_link import RedisLink

# A sold seat stays sold: only a cancelled show or a withdrawn seat releases it (the
# release deletes its key), and neither sells it again. So its key need only outlive the
# rush on the show; booking does not know when a show ends (inventory's events do not
# say). A day bounds Redis's memory to the seats sold in a day; after that, inventory
# refuses the seat itself, as it would without Redis.
SOLD_TTL = 24 * 3600.0

# All or nothing: if another booking has one of the seats, nothing is claimed and the
# positions (1-based) of those seats come back; else the seats nobody has are claimed for
# this booking (its own stay as they are, a hold keeping its deadline) and their
# positions come back. KEYS: the seats; ARGV: the booking, the claim's lapse in ms.
CLAIM = """
local taken = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder and holder ~= ARGV[1] then taken[#taken + 1] = i end
end
if #taken > 0 then return {taken, {}} end
local claimed = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'PX', ARGV[2], 'NX') then claimed[#claimed + 1] = i end
end
return {{}, claimed}
"""

# Delete the seats that are still this booking's (another's claim or hold stays).
# KEYS: the seats; ARGV: the booking. Returns how many went.
DROP = """
local dropped = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    dropped = dropped + 1
  end
end
return dropped
"""


class Learned(NamedTuple):
    """What inventory said of a booking's seats: its for ``ttl`` seconds more (held or
    sold), or, with ``ttl`` None, no longer its (released, or its request rejected)."""

    show_id: str
    seat_ids: list[str]
    booking_id: str
    ttl: float | None


class SharedClaims:
    """The seats' keys in Redis. Every method raises ``RedisDown`` (shared.redis_link)
    when Redis is out of reach; the caller goes on with what it knows itself."""

    def __init__(self, link: RedisLink, namespace: str = "",
                 claim_ttl: float = Tuning.seat_claim_s) -> None:
        self.link, self.namespace, self.claim_ttl = link, namespace, claim_ttl
        self._claim = link.script(CLAIM)
        self._drop = link.script(DROP)

    def key(self, show_id: str, seat_id: str) -> str:
        return f"{self.namespace}seat:{{{show_id}}}:{seat_id}"

    def claim(self, show_id: str, seat_ids: list[str], booking_id: str) -> Claim:
        """All or nothing, as ``TakenSeats.claim``: ``taken`` names the seats another
        booking claims, holds or has bought; else ``claimed`` those claimed now."""
        keys = [self.key(show_id, s) for s in seat_ids]
        taken, claimed = self.link.call(
            lambda r: self._claim(keys, [booking_id, _ms(self.claim_ttl)], client=r))
        return Claim([seat_ids[i - 1] for i in taken], [seat_ids[i - 1] for i in claimed])

    def unclaim(self, show_id: str, seat_ids: Iterable[str], booking_id: str) -> None:
        """Withdraw this booking's claims on these seats (it was not recorded after all)."""
        keys = [self.key(show_id, s) for s in seat_ids]
        if keys:
            self.link.call(lambda r: self._drop(keys, [booking_id], client=r))

    def learn(self, facts: Iterable[Learned]) -> None:
        """Write what inventory said, in its order, in one round trip."""
        facts = list(facts)
        if not facts:
            return

        def write(r: Redis) -> None:
            pipe = r.pipeline(transaction=False)
            for f in facts:
                keys = [self.key(f.show_id, s) for s in f.seat_ids]
                if f.ttl is None:
                    self._drop(keys, [f.booking_id], client=pipe)
                else:
                    for key in keys:
                        pipe.set(key, f.booking_id, px=_ms(f.ttl))
            pipe.execute()

        self.link.call(write)

    def holders(self, show_id: str, seat_ids: list[str]) -> dict[str, str]:
        """The seats some booking claims, holds or has bought: seat -> booking."""
        keys = [self.key(show_id, s) for s in seat_ids]
        values = self.link.call(lambda r: r.mget(keys))
        return {s: v.decode() if isinstance(v, bytes) else v
                for s, v in zip(seat_ids, values, strict=True) if v is not None}

    def close(self) -> None:
        self.link.close()


def _ms(seconds: float) -> int:
    """A lapse in whole milliseconds, at least one (Redis refuses a lapse of 0: a hold
    already past its deadline lapses at once)."""
    return max(1, int(seconds * 1000))
