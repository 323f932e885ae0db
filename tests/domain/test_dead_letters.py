"""Dead letters in the inbox, on the embedded runtime: what cannot be decoded, is of an
unknown contract version, or fails its handler every time is recorded with the position
past it and skipped; a fault of the world is never dead-lettered; replay, once fixed."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from embedded.system import EmbeddedSystem
from shared.messaging.dead_letters import dead_letters_of
from shared.messaging.faults import is_message_fault
from shared.messaging.inbox import tracking_name
from shared.services import SERVICES, spec
from tests.support.embedded import embedded_system
from tests.support.poison import (
    GARBAGE,
    PRICES,
    SEATS,
    SHOW,
    UNKNOWN_VERSION,
    failing_for,
    requested,
)

TOPIC = "booking.events"  # what inventory reads of booking
REPLAYS = "inventory.replays"


def opened() -> EmbeddedSystem:
    system = embedded_system()
    system.inventory.open_show(SHOW, SEATS, PRICES, "EUR")
    return system


def publish(system: EmbeddedSystem, *values: bytes) -> int:
    for value in values:
        system.broker.publish(TOPIC, SHOW, value)
    return system.broker.partition_for(SHOW)


def held(system: EmbeddedSystem) -> set[str]:
    show = system.inventory.get_show(SHOW)
    return set(show.holders)


def position(system: EmbeddedSystem, topic: str, partition: int) -> int:
    return system.inventory.recorder.max_tracking_id(tracking_name(topic, partition)) or 0


@pytest.mark.parametrize("batched", [False, True], ids=["one by one", "in one batch"])
def test_bad_messages_are_dead_lettered_with_their_reason_and_the_good_ones_go_on(
        monkeypatch, batched) -> None:
    system = opened()
    bad, bad_value = requested("A4")
    with failing_for(monkeypatch, bad) as tries:
        partition = publish(system, requested("A1")[1], GARBAGE, requested("A2")[1],
                            UNKNOWN_VERSION, requested("A3")[1], bad_value, requested("A5")[1])
        consumer = system.consumers["inventory"]
        if batched:
            assert consumer.deliver_batch(TOPIC, partition, 100) == 7
        else:
            system.deliver_all()

    assert held(system) == {"A1", "A2", "A3", "A5"}
    assert position(system, TOPIC, partition) == 7  # past all seven
    letters = system.inventory.dead_letters.listed()
    assert [(d.offset, d.reason) for d in reversed(letters)] == [
        (1, "undecodable"), (3, "unknown_contract"), (5, "handler_failed")]
    assert letters[0].value == bad_value and letters[0].key == SHOW.encode()
    assert letters[0].topic == TOPIC and letters[0].partition == partition
    assert "ValueError: cannot take booking" in letters[0].error
    assert "BookingRequested.v2" in letters[1].error
    assert len(tries) == 3 + batched  # tried alone three times (after the batch, if batched)
    assert all(d.recorded_at == system.clock.now() and d.replayed_at is None for d in letters)


def test_a_known_type_with_wrong_fields_is_an_invalid_contract() -> None:
    system = opened()
    publish(system, b'{"type": "BookingRequested.v1", "show_id": "x"}', b"[1, 2]", b"")
    system.deliver_all()
    assert [d.reason for d in system.inventory.dead_letters.listed()] == [
        "undecodable", "undecodable", "invalid_contract"]


def test_a_fault_of_the_world_is_never_dead_lettered_and_the_message_waits(monkeypatch) -> None:
    system = opened()
    booking, value = requested("A1")
    partition = publish(system, value)
    outage = OperationalError("the database went away")
    with failing_for(monkeypatch, booking, outage), pytest.raises(OperationalError):
        system.deliver_all()
    assert system.inventory.dead_letters.listed() == []
    assert position(system, TOPIC, partition) == 0  # not passed: read again after a pause

    system.consumers["inventory"].restart()  # what the runtime does after a failure
    system.deliver_all()
    assert held(system) == {"A1"}
    assert system.inventory.dead_letters.listed() == []


def test_an_error_raised_while_handling_an_outage_is_the_worlds_fault(monkeypatch) -> None:
    try:
        try:
            raise OperationalError("connection lost")
        except OperationalError as e:
            raise ValueError(f"no answer: {e}") from e
    except ValueError as e:
        wrapped = e

    system = opened()
    booking, value = requested("A1")
    publish(system, value)
    with failing_for(monkeypatch, booking, wrapped), pytest.raises(ValueError):
        system.deliver_all()
    assert system.inventory.dead_letters.listed() == []


def test_a_failure_that_goes_away_when_tried_again_is_not_a_dead_letter(monkeypatch) -> None:
    system = opened()
    booking, value = requested("A1")
    publish(system, value)
    with failing_for(monkeypatch, booking, KeyError("a cache not warm yet"), times=2) as tries:
        system.deliver_all()
    assert len(tries) == 2
    assert held(system) == {"A1"} and system.inventory.dead_letters.listed() == []


def test_a_dead_letter_read_again_is_not_recorded_twice(monkeypatch) -> None:
    system = opened()
    partition = publish(system, GARBAGE, requested("A1")[1])
    system.deliver_all()
    system.consumers["inventory"].rewind(TOPIC, partition, by=2)  # a rebalance redelivers
    system.deliver_all()
    assert len(system.inventory.dead_letters.listed()) == 1
    assert held(system) == {"A1"}


def test_replayed_once_fixed_the_message_is_handled_and_marked_and_again_changes_nothing(
        monkeypatch) -> None:
    system = opened()
    bad, value = requested("A4")
    with failing_for(monkeypatch, bad):
        partition = publish(system, value, UNKNOWN_VERSION)
        system.deliver_all()
    [unknown, failed] = system.inventory.dead_letters.listed()

    assert system.replay_dead_letters("inventory", [failed.id]) == 1
    system.deliver_all()
    assert held(system) == {"A4"}
    assert system.inventory.dead_letters.get(failed.id).replayed_at == system.clock.now()
    assert [d.id for d in system.inventory.dead_letters.listed()] == [unknown.id]
    # On the replay topic, at the partition it came from: the show's instance handles it.
    assert position(system, REPLAYS, partition) == 1

    events = system.inventory.recorder.max_notification_id()
    system.replay_dead_letters("inventory", [failed.id])  # again: handled before, no effect
    system.deliver_all()
    assert system.inventory.recorder.max_notification_id() == events
    assert position(system, REPLAYS, partition) == 2

    # Still unreadable: replayed, it is a dead letter again, of the replay topic.
    system.replay_dead_letters("inventory")  # every one not replayed: the unknown version
    system.deliver_all()
    [again] = system.inventory.dead_letters.listed()
    assert (again.topic, again.partition, again.reason) == (REPLAYS, partition, "unknown_contract")
    assert again.value == unknown.value


def test_replaying_an_id_that_is_not_there_says_so() -> None:
    system = opened()
    with pytest.raises(LookupError, match="no dead letter 7"):
        system.replay_dead_letters("inventory", [7])


def test_dead_letters_outlive_a_restart_in_an_sqlite_file(tmp_path: Path, monkeypatch) -> None:
    system = embedded_system(db_dir=tmp_path)
    system.inventory.open_show(SHOW, SEATS, PRICES, "EUR")
    bad, value = requested("A4")
    with failing_for(monkeypatch, bad):
        partition = publish(system, GARBAGE, value, requested("A1")[1])
        system.deliver_all()
    system.start_services()  # a crash: everything is read again from the files
    letters = system.inventory.dead_letters
    assert [(d.offset, d.reason) for d in letters.listed()] == [
        (1, "handler_failed"), (0, "undecodable")]
    assert letters.listed()[1].value == GARBAGE
    assert position(system, TOPIC, partition) == 3
    letters.mark_replayed(1, system.clock.now())
    assert [d.id for d in letters.listed()] == [2]
    assert letters.get(1).replayed_at == system.clock.now()


def test_in_memory_dead_letters_outlive_a_restart_on_the_same_store() -> None:
    system = opened()
    publish(system, GARBAGE)
    system.deliver_all()
    system.start_services()
    assert [d.reason for d in system.inventory.dead_letters.listed()] == ["undecodable"]
    assert dead_letters_of(system.inventory.recorder).listed() == system.inventory.dead_letters.listed()


@pytest.mark.parametrize(("error", "theirs"), [
    (ValueError("bad amount"), True),
    (KeyError("seat"), True),
    (AssertionError("seat reserved twice"), True),
    (TypeError("None"), True),
    (OperationalError("gone"), False),
    (ConnectionResetError(), False),
    (TimeoutError(), False),
    (RuntimeError("provider says no"), False),
])
def test_whose_fault(error: Exception, theirs: bool) -> None:
    assert is_message_fault(error) is theirs


def test_a_message_fault_caused_by_an_outage_is_the_worlds() -> None:
    error = ValueError("parsing the answer")
    error.__cause__ = ConnectionResetError()
    assert not is_message_fault(error)


@pytest.mark.parametrize("service", [s.name for s in SERVICES if s.subscribes_to])
def test_every_service_with_a_consumer_has_dead_letters(service: str) -> None:
    system = embedded_system()
    system.broker.publish(spec(spec(service).subscribes_to[0]).topic, "k", GARBAGE)
    system.deliver_all()
    assert [d.reason for d in system.apps[service].dead_letters.listed()] == ["undecodable"]
    assert spec(service).replay_topic in system.consumers[service].topics
