"""Replaying dead letters, once their cause is fixed (a handler corrected, a consumer
that now reads a newer contract version).

Each goes back to its service as it was, on the service's replay topic
(``ServiceSpec.replay_topic``) at the partition it came from: the instance that follows
that partition, and keeps in memory the aggregates its messages are about, handles it
through its inbox like any other message. Written to the store by any other process (the
operator's), the replay would leave that instance deciding later messages on copies
older than the store, and a decision on a stale copy can be a silent no-op.

Handling is idempotent, as for any message delivered twice: a message that was handled
already, or is replayed again, changes nothing more. One that fails again becomes a new
dead letter, of the replay topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from shared.messaging.dead_letters import DeadLetter, DeadLetters


class Republisher(Protocol):
    def publish(self, topic: str, key: bytes | None, value: bytes | None,
                partition: int | None = None) -> None: ...

    def flush(self) -> None:
        """Block until everything published so far is acknowledged, or raise."""


def chosen(letters: DeadLetters, ids: Sequence[int] | None) -> list[DeadLetter]:
    """The letters with these ids (LookupError for one that is not there), or with
    None every one never replayed, oldest first."""
    if ids is None:
        return sorted(letters.listed(pending_only=True, limit=1_000_000), key=lambda d: d.id)
    found = [(i, letters.get(i)) for i in ids]
    missing = [i for i, letter in found if letter is None]
    if missing:
        raise LookupError(f"no dead letter {', '.join(map(str, missing))}")
    return [letter for _, letter in found if letter is not None]


def replay(letters: DeadLetters, which: Sequence[DeadLetter], publisher: Republisher,
           replay_topic: str, now: datetime) -> None:
    """Publish them to the replay topic, each at the partition it came from, then mark
    them replayed: a crash in between leaves them to replay again, harmlessly."""
    for letter in which:
        publisher.publish(replay_topic, letter.key, letter.value, partition=letter.partition)
    publisher.flush()
    for letter in which:
        letters.mark_replayed(letter.id, now)
