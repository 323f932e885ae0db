"""Whose fault a handler's failure is: the message's, or the world's.

A message the handler fails on every time (a value the code cannot take, a bug its
content reaches) is the message's fault: after a few tries it is dead-lettered, so the
messages behind it move on. Anything else (a database or broker outage, a lost
connection, a write conflict, a payment provider that does not answer) is the world's:
the message is tried again until the world recovers, and never dead-lettered. So only
the errors of code deciding on a value count, and not even those when a fault of the
world caused them: a database that goes away must never dead-letter good messages.
"""

from __future__ import annotations

import psycopg
from eventsourcing.persistence import PersistenceError

# What code raises when the value it decides on is not one it can take.
MESSAGE_FAULTS: tuple[type[BaseException], ...] = (
    ValueError, TypeError, LookupError, AttributeError, AssertionError, ArithmeticError,
)
# Faults of the world even where they subclass one of the above (none do today, but a
# driver's error that did must not turn an outage into dead letters).
WORLD_FAULTS: tuple[type[BaseException], ...] = (PersistenceError, psycopg.Error, OSError)


def is_message_fault(error: BaseException) -> bool:
    """Whether trying the message again later cannot help: an error of deciding on it,
    neither raised by nor while handling a fault of the world."""
    if not isinstance(error, MESSAGE_FAULTS):
        return False
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, WORLD_FAULTS):
            return False
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return True
