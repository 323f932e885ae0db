"""Which instance of a service relays its outbox: the one holding a PostgreSQL advisory lock.

The instances of a service share its database, so without a lease each instance's relay
would publish every event: with N instances, N copies of every message. Correctness never
depended on a single relay, because consumers absorb a copy as they do after a crash.
The lease saves that work. One instance relays and the others stand by. A standby takes
over when the holder's database session ends: a process killed with -9 closes its
connection, and PostgreSQL releases the lock with it.

A holder that falls silent without its connection closing (its host lost, the process
hung) must not keep the lease for as long as TCP takes to notice, which can be hours. The
lease's session therefore has an ``idle_session_timeout`` of ``expire_after`` seconds: the
holder confirms its session every ``check_every`` seconds, and a holder silent for longer
than ``expire_after`` has its session ended by PostgreSQL, and the lock with it.

A holder that was cut off finds out at its next check. Until then it may relay beside
its successor, and the copies that overlap makes are absorbed like any other copy.
"""

from __future__ import annotations

import logging
import select
import time

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


class RelayLease:
    def __init__(self, conninfo: str, name: str, holder: str = "", listen_to: str = "",
                 check_every: float = 1.0, expire_after: float = 10.0) -> None:
        assert expire_after > check_every, "a holder must confirm before its lease expires"
        self.conninfo = conninfo
        self.name = name  # one lock per name in the database (hashed to the lock's key)
        # Who holds it, as the session's application_name: an operator (or a test) finds
        # the relaying instance in pg_stat_activity, beside the lock in pg_locks.
        self.holder = holder or name
        # The channel the event store NOTIFYs on every write, whichever instance wrote:
        # the holder LISTENs on it, so other instances' writes wake the relay at once.
        self.listen_to = listen_to
        self.check_every = check_every
        self.expire_after = expire_after
        self.held = False
        self._conn: psycopg.Connection | None = None
        self._checked = float("-inf")

    def hold(self) -> bool:
        """Whether this instance relays now. Takes the lock when it is free, and confirms
        a held one at most every ``check_every`` seconds (one round trip)."""
        now = time.monotonic()
        if self.held and now - self._checked < self.check_every:
            return True
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5,
                                             application_name=self.holder[:63])
                self._conn.execute("SELECT set_config('idle_session_timeout', %s, false)",
                                   (str(round(self.expire_after * 1000)),))
            if self.held:
                self._conn.execute("SELECT 1")  # the session, and so the lock, still stands
            else:
                row = self._conn.execute(
                    "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (self.name,)
                ).fetchone()
                self.held = bool(row and row[0])
                if self.held:
                    if self.listen_to:
                        self._conn.execute(sql.SQL("LISTEN {}").format(
                            sql.Identifier(self.listen_to)))
                    log.info("%s: this instance relays now", self.name)
            self._checked = now
        except (psycopg.Error, OSError) as e:
            if self.held:
                log.warning("%s: lease lost (%s); standing by", self.name, e)
            self.release()
        return self.held

    def wait_for_writes(self, timeout: float) -> None:
        """Until the store notifies a write, for at most ``timeout`` seconds. Notifications
        that came while the relay was busy are still queued, so none is missed between
        the relay's last read and this wait."""
        conn = self._conn
        if not (self.held and self.listen_to and conn is not None):
            time.sleep(timeout)
            return
        try:
            # Wait on the socket, then take what came: psycopg's notifies() with a timeout
            # spends CPU on every call, even idle; a select() does not. One read serves
            # every write notified so far, so the whole queue is taken at once.
            if select.select([conn.fileno()], [], [], timeout)[0]:
                for _ in conn.notifies(timeout=0):
                    pass
        except (psycopg.Error, OSError, ValueError) as e:
            log.warning("%s: lease lost while waiting (%s); standing by", self.name, e)
            self.release()

    def release(self) -> None:
        """Give the lease up. Unlocked before the session closes: the server ends a closed
        session a moment later, and until then a standby's try would still find it held."""
        self.held = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.execute("SELECT pg_advisory_unlock_all()")
            except (psycopg.Error, OSError):
                pass  # the session is gone already, and the lock with it
            try:
                conn.close()
            except (psycopg.Error, OSError):
                pass


def holder_of(conninfo: str, name: str) -> str | None:
    """Who holds the lease ``name`` now (its ``holder``), or None: for operators and tests."""
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
            # a bigint key shows as its high (classid) and low (objid) 32 bits
            " AND l.objsubid = 1 AND (l.classid::bigint << 32 | l.objid::bigint)"
            " = hashtextextended(%s, 0)",
            (name,),
        ).fetchone()
    return row[0] if row else None
