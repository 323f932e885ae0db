"""Topics of stored events that have no public contract, learned as they are read."""

from __future__ import annotations

from shared.contracts import PublicEvent


class PrivateTopics:
    """Topics of stored events that have no public contract. The services' to_public
    decide by an event's class alone (a class is public or it is not), so one event of a
    topic tells for all, and readers skip the rest without decoding them: about half of
    what a service stores (payment: three events in four). A mapping that looked at an
    event's content would have to stop this; the views' ``verify``, which reads through
    the library's own mapper without it, would show the difference."""

    def __init__(self) -> None:
        self._topics: set[str] = set()

    def __contains__(self, topic: str) -> bool:
        return topic in self._topics

    def learn(self, topic: str, public: PublicEvent | None) -> None:
        if public is None:
            self._topics.add(topic)
