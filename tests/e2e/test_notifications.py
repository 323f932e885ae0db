"""The notification service in the distributed system, on its real channels: email to
this checkout's Mailpit, read back over Mailpit's API and counted by Message-ID, and web
push to a push service played on 127.0.0.1 (tests/support/push_receiver.py), which
decrypts each push with its subscription's keys.

A show scheduled through the theatre, in Paris: a confirmation says the start in the
theatre's time zone, the seats, the amount, the booking's reference and its ticket (the
code, and the QR code inline); in English or French, as the customer chose. A declined
card is told at once; with a 20 s hold, the unpaid booking is reminded once, 6 s before
the hold ends, and told of its cancellation after; a paid one is never reminded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from email.utils import parsedate_to_datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from notifications import tickets, vapid, wording
from notifications.web_push import topic
from tests.e2e.harness import SECRET, Distributed
from tests.support.mailpit import MailpitApi, received_at
from tests.support.notified import addresses, give_contact, told
from tests.support.paths import E2E_LOGS
from tests.support.programme import on_sale, operator, rows
from tests.support.push_receiver import PushReceiver

pytestmark = pytest.mark.infra

HOLD_S = 20
REMIND_S = 6  # before the hold ends
PARIS = ZoneInfo("Europe/Paris")
LUMIERE = {"name": "Lumière", "city": "Paris", "address": "7 rue des Écoles",
           "time_zone": "Europe/Paris"}
FILM = {"title": "Vertigo", "runtime_minutes": 128, "rating": "PG", "language": "en",
        "format": "2D"}
PRICES = {"Regular": 950, "Premium": 1400}  # row A Regular, row B Premium
STARTS = clock_time(20, 30)  # in Paris


@dataclass(frozen=True)
class Show:
    show_id: str
    day: date

    def start(self) -> datetime:
        return datetime.combine(self.day, STARTS, tzinfo=PARIS)


@pytest.fixture(scope="module")
def system(postgres_server, kafka_bootstrap, redis_server, mailpit) -> Iterator[Distributed]:
    started = Distributed.create(postgres_server, E2E_LOGS, hold_seconds=str(HOLD_S),
                                 notify_reminder_before_s=str(REMIND_S),
                                 notify_dispatch_s="0.2")
    try:
        yield started.start()
    finally:
        started.close()


@pytest.fixture(scope="module")
def show(system) -> Show:
    """Vertigo at the Lumière, Paris, at 20:30 local time in three days."""
    operator(system, "PUT", "/theatres/lumiere", LUMIERE)
    operator(system, "PUT", "/theatres/lumiere/screens/one",
             {"name": "Salle 1", "rows": rows("AB", 8)})
    day = date.today() + timedelta(days=3)
    operator(system, "PUT", "/shows/vertigo", {
        "theatre_id": "lumiere", "screen_id": "one", "film": FILM,
        "start": f"{day}T{STARTS:%H:%M}", "prices": PRICES, "currency": "EUR"})
    on_sale(system, "vertigo")
    return Show("vertigo", day)


def book(system: Distributed, customer: str, show: Show, seats: list[str],
         method: str = "pm_card_visa") -> str:
    r = system.book(customer, show.show_id, seats, method)
    assert r.status_code == 202, r.text
    return r.json()["booking_id"]


def kinds_of(notes: list[dict]) -> list[tuple[str, str, str]]:
    return [(n["kind"], n["channel"], n["status"]) for n in notes]


def test_a_confirmation_is_mailed_once_with_the_tickets_in_the_customers_language(
    system, show, mailpit: MailpitApi,
) -> None:
    mail = addresses(system)
    orders = {  # customer: language, seats, amount
        "ana": ("en", ["A3", "A4"], 2 * PRICES["Regular"]),
        "bea": ("fr", ["B2"], PRICES["Premium"]),
    }
    for customer, (language, _, _) in orders.items():
        give_contact(system, customer, email=mail(customer), language=language)
    booked = {customer: book(system, customer, show, seats)
              for customer, (_, seats, _) in orders.items()}

    for customer, booking_id in booked.items():
        language, seats, amount = orders[customer]
        doc = system.wait_for(customer, booking_id)
        assert (doc["status"], doc["amount"], sorted(doc["seat_ids"])) == (
            "CONFIRMED", amount, seats)
        [note] = told(system, booking_id)
        assert (note["kind"], note["channel"], note["to"], note["status"], note["language"]) == (
            "confirmation", "email", mail(customer), "sent", language)
        assert [a["outcome"] for a in note["attempts"]] == ["sent"]
        [email] = mailpit.wait_for(note["message_id"])  # exactly one copy
        assert mailpit.copies(note["message_id"]) == 1

        reference = booking_id[:8].upper()
        assert email.to == [mail(customer)]
        assert reference in email.subject and FILM["title"] in email.subject
        assert email.subject.startswith("Your tickets" if language == "en" else "Vos billets")
        assert mailpit.headers(email.id)["Content-Language"] == [language]
        # The start in the theatre's time zone, not in UTC; the seats, the amount, the code.
        starts = show.start()
        assert wording.moment(starts.replace(tzinfo=None), language) in email.text
        assert f"{starts.astimezone(UTC):%H:%M}" not in email.text
        assert all(seat in email.text for seat in seats)
        assert wording.money(amount, "EUR", language) in email.text
        assert reference in email.text and LUMIERE["name"] in email.text
        code = tickets.ticket_code(SECRET, UUID(booking_id), show.show_id, doc["seat_ids"])
        assert code in email.text and code in email.html
        # The QR code: inline in the HTML, and it carries the booking and its code.
        [image] = email.inline
        assert (image["ContentType"], image["ContentID"]) == ("image/png", "ticket-qr")
        assert 'src="cid:ticket-qr"' in email.html
        assert mailpit.part(email.id, image["PartID"]) == tickets.qr_png(
            tickets.qr_payload(UUID(booking_id), code))
    assert mailpit.summaries(f"to:{mail('bea')}")[0]["Subject"].startswith("Vos billets")


def test_a_declined_card_is_told_reminded_once_before_the_hold_ends_and_cancelled_after_it(
    system, show, mailpit: MailpitApi,
) -> None:
    mail = addresses(system)
    give_contact(system, "dora", email=mail("dora"), language="fr")
    give_contact(system, "carl", email=mail("carl"))
    paid = book(system, "dora", show, ["B5"])
    declined = book(system, "carl", show, ["A6"], method="pm_card_chargeDeclined")
    held = system.wait_for("carl", declined, statuses={"PAYMENT_PENDING"})
    until = datetime.fromisoformat(held["reserved_until"])
    dora = system.wait_for("dora", paid)
    assert dora["status"] == "CONFIRMED"

    notes = told(system, declined, timeout=HOLD_S + 30,
                 until=lambda ns: ("cancellation", "email", "sent") in kinds_of(ns))
    assert system.booking("carl", declined)["cancellation_reason"] == "hold_expired"
    assert kinds_of(notes) == [("payment_failed", "email", "sent"),
                               ("payment_reminder", "email", "sent"),
                               ("cancellation", "email", "sent")]
    failed, reminder, cancellation = notes
    summaries = {}
    for note in notes:
        [summary] = mailpit.with_message_id(note["message_id"])  # one copy of each
        summaries[note["kind"]] = summary
    failed_at, reminded_at, cancelled_at = (
        received_at(summaries[n["kind"]]) for n in (failed, reminder, cancellation))
    # Mailpit's clock is this machine's: the reminder came after it was due and before
    # the release, the cancellation after it.
    assert failed_at < reminded_at
    assert until - timedelta(seconds=REMIND_S) <= reminded_at < until <= cancelled_at
    dated = {kind: parsedate_to_datetime(mailpit.headers(s["ID"])["Date"][0])
             for kind, s in summaries.items()}  # whole seconds
    assert dated["payment_reminder"] <= until <= dated["cancellation"] + timedelta(seconds=1)
    reminder_mail = mailpit.message(summaries["payment_reminder"]["ID"])
    assert wording.time_of_day(until.astimezone(PARIS), "en") in reminder_mail.subject
    assert "A6" in reminder_mail.text

    # The paid booking: past the time its reminder would have come (and its hold's end),
    # it was told of its confirmation alone.
    dora_until = datetime.fromisoformat(dora["reserved_until"])
    time.sleep(max((dora_until - datetime.now(UTC)).total_seconds() + 1, 0))
    assert kinds_of(told(system, paid)) == [("confirmation", "email", "sent")]
    [only] = mailpit.summaries(f"to:{mail('dora')}")
    assert only["MessageID"] == told(system, paid)[0]["message_id"].strip("<>")


def test_a_push_subscription_given_through_the_api_gets_the_confirmation_encrypted_for_it(
    system, show, mailpit: MailpitApi,
) -> None:
    channels = system.local.settings.channels
    mail = addresses(system)
    server_key = vapid.public_key_of(channels.vapid_private_key)
    with PushReceiver(application_server_key=server_key) as push_service:
        browser = push_service.subscribe()
        subscription = browser.subscription
        give_contact(system, "eve", email=mail("eve"), push_subscriptions=[
            {"endpoint": subscription.endpoint,
             "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}])
        booking_id = book(system, "eve", show, ["B7"])
        assert system.wait_for("eve", booking_id)["status"] == "CONFIRMED"
        notes = told(system, booking_id)
        assert sorted(kinds_of(notes)) == [("confirmation", "email", "sent"),
                                           ("confirmation", "push", "sent")]
        [pushed] = [n for n in notes if n["channel"] == "push"]
        [emailed] = [n for n in notes if n["channel"] == "email"]
        assert pushed["to"] == subscription.endpoint
        [delivery] = push_service.deliveries(browser)  # recorded sent: it was answered
    assert (delivery.status, delivery.problem) == (201, "")
    payload = delivery.json()  # decrypted with the browser's private key and auth secret
    assert payload["message_id"] == pushed["message_id"] != emailed["message_id"]
    assert payload["booking_id"] == booking_id
    assert booking_id[:8].upper() in payload["title"] and "B7" in payload["body"]
    assert delivery.headers["topic"] == topic(pushed["message_id"])
    assert delivery.vapid_key == server_key
    assert delivery.claims is not None and delivery.claims["sub"] == channels.vapid_subject
    assert mailpit.copies(emailed["message_id"]) == 1
