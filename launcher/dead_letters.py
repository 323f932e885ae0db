"""The operator's commands on a service's dead letters (shared/messaging/dead_letters.py).

    python -m booking dead-letters list [--all] [--limit N]  # newest first; --all: replayed too
    python -m booking dead-letters show N                      # one, its value and error in full
    python -m booking dead-letters replay --id N [--id M ...]  # back to the service, once fixed
    python -m booking dead-letters replay --all                # every one not replayed yet

Any registered service takes them (``python -m inventory dead-letters list``). A replay
goes to the running service through its replay topic (shared/messaging/replay.py): the
command waits up to ``--wait`` seconds (10) for the service to handle each, and says
which failed again (a new dead letter). Settings come from ``CINEMA_*`` as the service's.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from shared.config import Settings
from shared.messaging.dead_letters import DeadLetter, DeadLetters
from shared.messaging.inbox import tracking_name
from shared.messaging.kafka import KafkaPublisher, ensure_topics
from shared.messaging.replay import chosen, replay
from shared.service import ServiceApplication
from shared.services import spec
from shared.wiring import wiring_of


def main(service: str, argv: list[str]) -> int:
    args = _parser(service).parse_args(argv)
    settings = Settings.from_env()
    app = wiring_of(service).application(
        settings, settings.service_env(settings.service_db(service)))
    try:
        if args.command == "list":
            rows = app.dead_letters.listed(pending_only=not args.all, limit=args.limit)
            for letter in rows:
                print(summary(letter))
            print(f"{len(rows)} dead letter(s){'' if args.all else ' not replayed'}")
            return 0
        if args.command == "show":
            found = app.dead_letters.get(args.id)
            if found is None:
                print(f"no dead letter {args.id}")
                return 1
            print(summary(found))
            print(f"key: {found.key!r}\nvalue: {found.value_text()}\nerror:\n{found.error}")
            return 0
        return _replay(app, settings, service, args.ids, args.wait)
    finally:
        app.close()


def summary(letter: DeadLetter) -> str:
    replayed = f" replayed {letter.replayed_at:%Y-%m-%d %H:%M:%S}" if letter.replayed_at else ""
    error = letter.error.strip().splitlines()[-1] if letter.error.strip() else ""
    return (f"#{letter.id} {letter.recorded_at:%Y-%m-%d %H:%M:%S} {letter.topic}[{letter.partition}]"
            f"@{letter.offset} {letter.reason}{replayed}: {error[:120]} | "
            f"{letter.value_text(limit=80)}")


class _Publisher(KafkaPublisher):
    """Remembers where each message went, for the command to wait for the service."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.placed: list[tuple[int, int]] = []  # (partition, offset) per message delivered

    def _delivered(self, err: Any, msg: Any) -> None:
        super()._delivered(err, msg)
        if err is None:
            self.placed.append((msg.partition(), msg.offset()))


def _replay(app: ServiceApplication, settings: Settings, service: str, ids: list[int] | None,
            wait: float) -> int:
    letters = app.dead_letters
    try:
        which = chosen(letters, ids)
    except LookupError as e:
        print(e)
        return 1
    if not which:
        print("nothing to replay")
        return 0
    topic = settings.topic_prefix + spec(service).replay_topic
    ensure_topics(settings.kafka_bootstrap, [topic])
    publisher = _Publisher(settings.kafka_bootstrap, f"{service}-dead-letters")
    replay(letters, which, publisher, topic, app.clock.now())
    print(f"replayed {len(which)} to {topic}: {', '.join(f'#{d.id}' for d in which)}")
    if wait <= 0:
        return 0
    return _report(app, letters, topic, publisher.placed, wait)


def _report(app: ServiceApplication, letters: DeadLetters, topic: str,
            placed: list[tuple[int, int]], wait: float) -> int:
    """Wait for the service to pass every replayed message; then the ones that failed again."""
    deadline = time.monotonic() + wait
    ends: dict[int, int] = {}
    for partition, offset in placed:
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    while any((app.recorder.max_tracking_id(tracking_name(topic, p)) or 0) < end
              for p, end in ends.items()):
        if time.monotonic() > deadline:
            print(f"not all handled after {wait:.0f} s: is the service running? "
                  "(`list --all` shows them once it is)")
            return 1
        time.sleep(0.2)
    mine = set(placed)
    again = [d for d in letters.listed(pending_only=True, limit=1000)
             if d.topic == topic and (d.partition, d.offset) in mine]
    for letter in again:
        print(f"failed again: {summary(letter)}")
    print(f"handled: {len(placed) - len(again)}, failed again: {len(again)}")
    return 1 if again else 0


def _parser(service: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {service} dead-letters",
                                     description="The messages the service could not take.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="newest first")
    listing.add_argument("--all", action="store_true", help="replayed ones too")
    listing.add_argument("--limit", type=int, default=50)
    show = commands.add_parser("show", help="one, its value and error in full")
    show.add_argument("id", type=int)
    again = commands.add_parser("replay", help="back to the running service")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, action="append", dest="ids", help="repeatable")
    which.add_argument("--all", action="store_true", help="every one not replayed yet")
    again.add_argument("--wait", type=float, default=10.0,
                       help="seconds to wait for the service to handle them (0: none)")
    return parser
