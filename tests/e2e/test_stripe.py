"""The distributed system on Stripe's API (localstripe), as ``scripts/run`` starts it:
payment charges through the SDK, localstripe's webhooks reach payment at the endpoint the
launcher registered, the reconciliation finds what lost webhooks never said, and payment
killed between a call to Stripe and the recording of its answer loses and duplicates
nothing. The money is read from Stripe's own records (intents and refunds listed through
its API), never from payment's.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx
import pytest

from payment.application import WEBHOOK_TRACKING
from payment.gateway import AUTHENTICATION_REQUIRED
from payment.records import IntentRecord
from payment.stripe_provider import StripeProvider
from payment.webhook_endpoint import EVENTS, PATH, configure_local_stripe, endpoint_id
from tests.e2e.harness import Distributed, free_port
from tests.support import crashing_payment
from tests.support import invariants as inv
from tests.support.audit import audit, settle
from tests.support.customers import Customers, wait_final
from tests.support.paths import E2E_LOGS

pytestmark = pytest.mark.infra

SEED = 20261205
HOLD_S = 8  # long enough to pay again after a decline on a busy machine, short to wait out


@pytest.fixture(scope="module")
def system(postgres_server, kafka_bootstrap, redis_server, stripe_server) -> Iterator[Distributed]:
    """One system on the Stripe provider. The reconciliation waits a minute: whatever
    settles sooner was settled by a confirm's answer or a webhook (tests that need it
    sooner restart payment with a shorter wait)."""
    system = Distributed.create(postgres_server, E2E_LOGS, gateway="stripe",
                                hold_seconds=str(HOLD_S), payment_reconcile_after_s="60")
    try:
        yield system.start()
    finally:
        system.close()


# --- at Stripe ----------------------------------------------------------------------------


def new_show(system: Distributed, seats: int = 10) -> str:
    show_id = f"stripe-{os.urandom(4).hex()}"
    system.open_show(show_id, seats=seats)
    return show_id


def intents_of(system: Distributed, booking_id: str) -> list[IntentRecord]:
    """The booking's intents as Stripe's records show them."""
    ledger = system.ledger()
    return [i for i in ledger.records.intent_records() if i.booking_id == booking_id]


def challenge(system: Distributed, customer: str, booking_id: str, timeout: float = 20) -> str:
    """The client secret of the 3-D Secure challenge the booking shows its customer."""
    deadline = time.monotonic() + timeout
    while not (action := system.booking(customer, booking_id)["next_action"]):
        assert time.monotonic() < deadline, "the booking never asked its customer to authenticate"
        time.sleep(0.1)
    return str(action["client_secret"])


def authenticate(system: Distributed, client_secret: str) -> str:
    """What Stripe.js does in the customer's browser once the challenge is passed; the
    intent's id."""
    s = system.local.settings
    intent_id = client_secret.partition("_secret_")[0]
    r = httpx.post(f"{s.stripe_api_base}/v1/payment_intents/{intent_id}/_authenticate",
                   data={"client_secret": client_secret, "success": "true"},
                   auth=(s.stripe_api_key, ""), timeout=10)
    assert r.status_code == 200, r.text
    return intent_id


def event_about(system: Distributed, intent_id: str, kind: str, timeout: float = 10) -> str:
    """The id of the event Stripe made when the intent got there (``kind``)."""
    client = StripeProvider.from_settings(system.local.settings).client
    deadline = time.monotonic() + timeout
    while True:
        for event in client.v1.events.list(params={"type": kind, "limit": 100}).auto_paging_iter():
            if event.to_dict()["data"]["object"]["id"] == intent_id:
                return str(event.id)
        assert time.monotonic() < deadline, f"no {kind} event about {intent_id}"
        time.sleep(0.2)


def webhooks_recorded(system: Distributed) -> set[str]:
    """The ids of the provider's events that payment recorded (its webhooks)."""
    rows = system.sql("payment", "SELECT application_name FROM {app}_tracking"
                      " WHERE application_name LIKE %s", f"{WEBHOOK_TRACKING}:%")
    return {name.partition(":")[2] for (name,) in rows}


def book(system: Distributed, customer: str, show: str, seat: str, method: str) -> str:
    r = system.book(customer, show, [seat], method)
    assert r.status_code == 202, r.text
    return str(r.json()["booking_id"])


# --- payment restarted otherwise ----------------------------------------------------------


def restart_payment(system: Distributed) -> None:
    local = system.local
    if "payment" in local.procs:
        local.stop("payment")  # or reaped, if it died
    local.start("payment")
    local.wait_ready("payment")


@contextmanager
def payment_restarted(system: Distributed, module: str = "", **settings: str) -> Iterator[None]:
    """payment alone started again with these CINEMA_ settings (and module), then again as
    it was; the other services run on undisturbed."""
    local = system.local
    before = dict(local.env)
    local.env.update({f"CINEMA_{k.upper()}": v for k, v in settings.items()})
    if module:
        local.modules["payment"] = module
    restart_payment(system)
    try:
        yield
    finally:
        local.env.clear()
        local.env.update(before)
        local.modules.pop("payment", None)
        restart_payment(system)


def point_webhooks_at(system: Distributed, url: str) -> None:
    """Re-register payment's endpoint with localstripe (the launcher's registration, by
    its id) at another address."""
    registration = endpoint_id(system.local.url("payment") + PATH)
    configure_local_stripe(system.local.settings, registration, url, EVENTS)


# --- the paths ------------------------------------------------------------------------------


def test_a_good_card_is_charged_once(system) -> None:
    show = new_show(system)
    booking_id = book(system, "ann", show, "A1", "pm_card_visa")
    doc = system.wait_for("ann", booking_id)
    assert doc["status"] == "CONFIRMED"
    [intent] = intents_of(system, booking_id)
    assert (intent.status, intent.amount) == ("succeeded", doc["amount"])
    assert system.ledger().refunded_by_booking().get(booking_id, 0) == 0


def test_a_declined_card_is_paid_again_with_another_within_the_hold(system) -> None:
    show = new_show(system)
    booking_id = book(system, "bob", show, "A2", "pm_card_chargeDeclined")
    deadline = time.monotonic() + HOLD_S
    while not system.booking("bob", booking_id)["payment_attempts"]:
        assert time.monotonic() < deadline, "the decline was never shown"
        time.sleep(0.05)
    assert system.booking("bob", booking_id)["payment_attempts"] == [
        {"attempt": 1, "outcome": "failed", "reason": "card_declined"}]
    while True:  # until booking has heard of the decline the view shows (409 "in progress")
        r = system.clients["booking"].post(f"/bookings/{booking_id}/payment-attempts",
                                           json={"payment_method": "pm_card_visa"},
                                           headers=system.auth("bob"))
        if r.status_code == 202 or "in progress" not in r.text:
            break
        assert time.monotonic() < deadline, "booking never heard of the decline"
        time.sleep(0.05)
    assert r.status_code == 202, r.text
    doc = system.wait_for("bob", booking_id)
    assert doc["status"] == "CONFIRMED"
    # A new intent for the second attempt (a declined one cannot be confirmed again).
    assert sorted(i.status for i in intents_of(system, booking_id)) == ["failed", "succeeded"]
    assert system.ledger().captured_by_booking()[booking_id] == doc["amount"]


def test_three_d_secure_completed_in_time_is_settled_by_the_webhook(system) -> None:
    show = new_show(system)
    booking_id = book(system, "cat", show, "A3", AUTHENTICATION_REQUIRED)
    secret = challenge(system, "cat", booking_id)
    assert system.booking("cat", booking_id)["status"] == "PAYMENT_PENDING"
    intent_id = authenticate(system, secret)
    doc = system.wait_for("cat", booking_id, timeout=20)  # the reconciliation waits 60 s
    assert (doc["status"], doc["next_action"]) == ("CONFIRMED", None)
    # localstripe's webhook, to the endpoint the launcher registered, said so.
    assert event_about(system, intent_id, "payment_intent.succeeded") in webhooks_recorded(system)
    assert [i.status for i in intents_of(system, booking_id)] == ["succeeded"]


def test_three_d_secure_completed_after_the_hold_is_refunded(system) -> None:
    """payment is stopped (SIGSTOP) across the hold's end, so the intent is still waiting
    for the customer when the seats go: the customer authenticates after the hold; once
    payment runs again the late charge is refunded and the booking stays cancelled."""
    show = new_show(system)
    booking_id = book(system, "dan", show, "A4", AUTHENTICATION_REQUIRED)
    secret = challenge(system, "dan", booking_id)
    reserved_until = datetime.fromisoformat(system.booking("dan", booking_id)["reserved_until"])
    time.sleep(max(0.0, reserved_until.timestamp() - time.time() - 1))
    payment = system.local.procs["payment"].pid
    os.kill(payment, signal.SIGSTOP)
    try:
        doc = system.wait_for("dan", booking_id, timeout=15)
        assert (doc["status"], doc["cancellation_reason"]) == ("CANCELLED", "hold_expired")
        authenticate(system, secret)  # the intent still waits: payment never cancelled it
    finally:
        os.kill(payment, signal.SIGCONT)
    deadline = time.monotonic() + 30
    while not (doc := system.booking("dan", booking_id))["refunded_amount"]:
        assert time.monotonic() < deadline, "the late charge was never refunded"
        time.sleep(0.1)
    assert (doc["status"], doc["refunded_amount"]) == ("CANCELLED", doc["amount"])
    ledger = system.ledger()
    assert [i.status for i in intents_of(system, booking_id)] == ["succeeded"]
    assert ledger.captured_by_booking()[booking_id] == doc["amount"]
    assert ledger.refunded_by_booking()[booking_id] == doc["amount"]
    assert ledger.standing_charges_by_booking()[booking_id] == 0


def test_webhooks_lost_while_the_endpoint_is_down_are_found_by_the_reconciliation(system):
    """localstripe delivers to an address where nothing listens (payment's endpoint down)
    and never retries: the customers' authentications reach payment only through the
    reconciliation, which asks Stripe about intents pending longer than 2 s."""
    show = new_show(system)
    with payment_restarted(system, payment_reconcile_after_s="2"):
        point_webhooks_at(system, f"http://127.0.0.1:{free_port()}{PATH}")
        try:
            seen = webhooks_recorded(system)
            customers = [f"eve{i}" for i in range(4)]
            bookings = {book(system, c, show, f"A{i + 1}", AUTHENTICATION_REQUIRED): c
                        for i, c in enumerate(customers)}
            for booking_id, customer in bookings.items():
                authenticate(system, challenge(system, customer, booking_id))
            for booking_id, customer in bookings.items():
                assert system.wait_for(customer, booking_id, timeout=30)["status"] == "CONFIRMED"
            assert webhooks_recorded(system) == seen, "a webhook reached payment"
        finally:
            point_webhooks_at(system, system.local.url("payment") + PATH)
    settle(system)
    audit(system)


def test_payment_killed_between_stripe_and_its_records_loses_and_duplicates_nothing(system):
    """Customers book (a third with a declined card) while payment is killed again and
    again right after Stripe answered a create or a confirm, before payment recorded the
    answer. An intent created but not recorded is never confirmed; one confirmed is
    recorded after the restart (the reconciliation asks Stripe); every booking settles,
    none is charged twice, and Stripe's records balance with the bookings."""
    rng = random.Random(SEED)
    shows = [new_show(system, seats=12) for _ in range(4)]
    log = system.local.log_dir / "payment.log"
    logged_before = log.read_text().count(crashing_payment.CRASH_LINE)
    points = itertools.cycle(["confirm:1", "create_intent:1", "confirm:2", "create_intent:2"])
    with payment_restarted(system, module="tests.support.crashing_payment",
                           payment_reconcile_after_s="2", test_crash_after=next(points)):
        client = Customers(system, rng, shows, count=30, people=6, pause=(0.1, 0.4))
        client.start()
        while client.is_alive():  # each payment started dies at its crash point
            if system.local.procs["payment"].poll() is not None:
                system.local.env[crashing_payment.VARIABLE] = next(points)
                system.local.start("payment")
            time.sleep(0.05)
        assert client.done.is_set(), "the customers gave up"
        system.local.env[crashing_payment.VARIABLE] = ""  # then no more crashes
        restart_payment(system)
        wait_final(system, client.bookings)
        settle(system)
    lines = log.read_text().splitlines()
    crashed = [line.split(crashing_payment.CRASH_LINE, 1)[1].split()
               for line in lines if crashing_payment.CRASH_LINE in line][logged_before:]
    assert {call for call, *_ in crashed} == {"create_intent", "confirm"} and len(crashed) >= 4
    stores = system.stores()
    recorded = {i for p in inv.payments(stores) for i, _ in p.started.values()}
    for app in stores.apps.values():
        app.close()
    at_stripe = {i.intent_id: i for i in system.ledger().records.intent_records()}
    for call, _, intent_id in crashed:
        if call == "create_intent":  # never recorded, so never confirmed: charged nothing
            assert intent_id not in recorded
            assert at_stripe[intent_id].status == "requires_confirmation"
        else:  # confirmed, then recorded by the payment started again. A decline still
            # open when the hold ended (the restart came late) is cancelled: never charged.
            assert intent_id in recorded
            assert at_stripe[intent_id].status in ("succeeded", "failed", "canceled")
    audit(system)  # settled, none charged twice, captured = confirmed + refunded at Stripe
    outcomes = Counter(system.booking(c, b)["status"] for b, c in client.bookings.items())
    print(f"\n{len(client.bookings)} bookings ({dict(outcomes)}), {client.refused} refused at"
          f" once; {len(crashed)} crashes: {[call for call, *_ in crashed]}")
