"""The Web Push channel against a push service and browser played on 127.0.0.1
(tests/support/push_receiver.py): the payload as the browser decrypts it, the VAPID
signature, the TTL and Topic headers, and the push service's refusals mapped to
permanent or retryable failures. Needs none of scripts/infra's servers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest

from notifications import vapid
from notifications.channels import DeliveryFailed, Push, PushSubscription
from notifications.web_push import MAX_PAYLOAD_BYTES, WebPushChannel, topic
from tests.support.push_receiver import Browser, PushReceiver

SUBJECT = "mailto:tickets@cinema-saga.example"
KEYS = vapid.generate()


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    """A push service whose subscriptions were made with KEYS' public key."""
    with PushReceiver(application_server_key=KEYS.public_key) as service:
        yield service


@pytest.fixture
def channel() -> Iterator[WebPushChannel]:
    sender = WebPushChannel(KEYS.private_key, SUBJECT, timeout_s=5, allow_http=True)
    yield sender
    sender.close()


@pytest.fixture
def browser(receiver: PushReceiver) -> Browser:
    return receiver.subscribe()


def push_to(browser: Browser, message_id: str = "<booking-confirmed.b17@cinema-saga>") -> Push:
    return Push(message_id=message_id, subscription=browser.subscription,
                title="Vos billets", body="Le Mépris, 20:30, salle 2: rangée F, 7 et 8",
                booking_id="b17", ttl_s=600)


def test_the_browser_decrypts_what_was_sent_signed_for_this_push_service(
    channel, receiver, browser,
) -> None:
    push = push_to(browser)
    channel.send(push)
    [delivery] = receiver.deliveries(browser)
    assert (delivery.status, delivery.problem) == (201, "")
    assert delivery.json() == {"title": push.title, "body": push.body,
                               "booking_id": "b17", "message_id": push.message_id}
    assert delivery.headers["content-encoding"] == "aes128gcm"
    assert delivery.headers["ttl"] == "600"
    assert delivery.vapid_key == KEYS.public_key == channel.public_key
    assert delivery.claims is not None
    assert (delivery.claims["aud"], delivery.claims["sub"]) == (receiver.base, SUBJECT)


def test_the_topic_is_the_message_ids_so_a_resend_replaces_its_first_copy(
    channel, receiver, browser,
) -> None:
    channel.send(push_to(browser, "<a@cinema-saga>"))
    channel.send(push_to(browser, "<a@cinema-saga>"))
    channel.send(push_to(browser, "<b@cinema-saga>"))
    topics = [delivery.headers["topic"] for delivery in receiver.deliveries(browser)]
    assert all(delivery.status == 201 for delivery in receiver.deliveries(browser))  # valid
    assert topics[0] == topics[1] == topic("<a@cinema-saga>") != topics[2] == topic("<b@cinema-saga>")


@pytest.mark.parametrize(("answer", "permanent"), [
    (410, True),  # the browser unsubscribed
    (404, True),  # the push service does not know the subscription
    (403, True),  # signed with a key the subscription was not made with
    (413, True),
    (500, False),
    (503, False),
    (429, False),  # too many: later
])
def test_the_push_services_refusal_is_permanent_or_retryable(
    channel, receiver, browser, answer, permanent,
) -> None:
    receiver.respond(browser, answer)
    with pytest.raises(DeliveryFailed) as failed:
        channel.send(push_to(browser))
    assert failed.value.permanent is permanent, failed.value.reason
    assert str(answer) in failed.value.reason
    channel.send(push_to(browser))  # the next push is answered 201
    assert [d.status for d in receiver.deliveries(browser)] == [answer, 201]


def test_an_unsubscribed_browser_is_gone_for_good(channel, receiver, browser) -> None:
    receiver.unsubscribe(browser)
    for _ in range(2):
        with pytest.raises(DeliveryFailed, match="gone") as failed:
            channel.send(push_to(browser))
        assert failed.value.permanent


def test_a_redirect_is_not_followed(channel, receiver, browser) -> None:
    """An endpoint is the browser's word: its push service must not send us elsewhere (had
    the channel followed, the Location here would have answered 404: "gone")."""
    receiver.respond(browser, 307)
    with pytest.raises(DeliveryFailed, match="redirected") as failed:
        channel.send(push_to(browser))
    assert failed.value.permanent
    assert [d.status for d in receiver.deliveries()] == [307]


def test_a_push_signed_with_another_key_is_refused_for_good(receiver, browser) -> None:
    other = WebPushChannel(vapid.generate().private_key, SUBJECT, allow_http=True)
    with pytest.raises(DeliveryFailed) as failed:
        other.send(push_to(browser))
    assert failed.value.permanent
    [delivery] = receiver.deliveries(browser)
    assert delivery.status == 403 and "another key" in delivery.problem


def test_a_push_service_not_reachable_is_a_retryable_failure(channel, browser) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = replace(browser.subscription, endpoint=f"http://127.0.0.1:{port}/push/x")
    with pytest.raises(DeliveryFailed) as failed:
        channel.send(replace(push_to(browser), subscription=nowhere))
    assert not failed.value.permanent


def test_what_can_never_be_sent_fails_permanently_without_a_request(
    receiver, browser,
) -> None:
    strict = WebPushChannel(KEYS.private_key, SUBJECT)  # https endpoints only
    lenient = WebPushChannel(KEYS.private_key, SUBJECT, allow_http=True)
    cases = [
        (strict, push_to(browser)),  # an http endpoint: not a push service's
        (strict, replace(push_to(browser), subscription=replace(
            browser.subscription, endpoint="https://"))),  # no host
        (lenient, replace(push_to(browser), subscription=replace(
            browser.subscription, endpoint="http://[::1]:9/push/x"))),  # py_vapid signs no IPv6
        (lenient, replace(push_to(browser), body="x" * MAX_PAYLOAD_BYTES)),  # too large
        (lenient, replace(push_to(browser), subscription=PushSubscription(
            browser.subscription.endpoint, p256dh="bm90IGEga2V5", auth="c2VjcmV0"))),
    ]
    for channel, push in cases:
        with pytest.raises(DeliveryFailed) as failed:
            channel.send(push)
        assert failed.value.permanent, failed.value.reason
    assert receiver.deliveries(browser) == []


def test_a_malformed_private_key_or_subject_is_refused_without_showing_the_key() -> None:
    with pytest.raises(ValueError, match="not a P-256 private key") as failed:
        WebPushChannel("c2VjcmV0LWJ1dC1ub3QtYS1rZXk", SUBJECT)
    assert "c2VjcmV0" not in str(failed.value)
    with pytest.raises(Exception, match="sub"):
        WebPushChannel(KEYS.private_key, "tickets")
    assert KEYS.private_key not in repr(WebPushChannel(KEYS.private_key, SUBJECT))
