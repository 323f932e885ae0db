"""The services' aggregate base: eventsourcing's, as the type checker should see it.

An ``@event("Name")`` decorator defines the event class ``Name`` on its aggregate when
the class is created, which a type checker cannot see; to it, such a class attribute
(``Booking.Requested``) is Any. Instance attributes are checked as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate as _Aggregate

if TYPE_CHECKING:
    from eventsourcing.domain import MetaAggregate

    class _DefinesEventClasses(MetaAggregate[Any]):
        def __getattr__(cls, name: str) -> Any: ...

    class Aggregate(_Aggregate, metaclass=_DefinesEventClasses):
        ...
else:
    Aggregate = _Aggregate

__all__ = ["Aggregate"]
