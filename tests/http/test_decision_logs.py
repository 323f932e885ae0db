"""The decisions' log lines: one JSON line each, naming the service, booking and show."""

import json
import logging

from shared.observability.logs import JsonLines
from tests.support.tokens import ALICE, BOB


def decision_lines(caplog) -> list[dict]:
    formatter = JsonLines("test")
    return [json.loads(formatter.format(r)) for r in caplog.records
            if r.name == "cinema.decisions"]


def test_each_decision_is_one_line_with_its_booking_show_and_reason(api, caplog):
    caplog.set_level(logging.INFO, logger="cinema.decisions")
    api.open_show()
    confirmed = api.book(seats=["A1"], key="k1").json()["booking_id"]
    api.settle()
    declined = api.book(seats=["A2"], key="k2", who=BOB, method="pm_card_chargeDeclined")
    api.settle()
    lines = decision_lines(caplog)
    mine = [(line["decision"], line.get("reason")) for line in lines
            if line.get("booking_id") == confirmed]
    assert mine == [("requested", None), ("held", None), ("charged", None), ("booked", None),
                    ("confirmed", None)]
    assert all(line["show_id"] == "show-1" and line["level"] == "info" for line in lines)
    theirs = [(line["decision"], line.get("reason")) for line in lines
              if line.get("booking_id") == declined.json()["booking_id"]]
    assert ("declined", "card_declined") in theirs
    assert json.dumps(lines).count(ALICE["Authorization"][7:]) == 0  # no token leaks


def test_a_redelivered_message_logs_no_second_decision(api, caplog):
    caplog.set_level(logging.INFO, logger="cinema.decisions")
    api.open_show()
    api.book(seats=["A1"], key="k1")
    api.settle()
    before = len(decision_lines(caplog))
    for consumer in api.system.consumers.values():  # every partition read again
        for topic, partition in list(consumer.offsets):
            consumer.rewind(topic, partition, by=100)
    api.settle()
    assert len(decision_lines(caplog)) == before
