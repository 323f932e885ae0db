"""The email channel against the Mailpit scripts/infra runs: what arrives (its Message-ID,
subject, both parts, the inline QR code), copies counted, and its failures: Mailpit down
(retryable, and the channel picks up again once it is back), refusals by code, a server
that never answers."""

from __future__ import annotations

import email
import email.policy
import socket
import uuid
from collections.abc import Iterator

import pytest

from notifications.channels import DeliveryFailed, Email, InlineImage
from notifications.email import SmtpEmailChannel
from shared.config import DEFAULT_MAIL_FROM
from tests.support.mailpit import MailpitApi, mailpit_stopped

pytestmark = pytest.mark.infra

# A real PNG (1x1), as a ticket's QR code would be.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")


@pytest.fixture
def channel(endpoints) -> Iterator[SmtpEmailChannel]:
    sender = SmtpEmailChannel(endpoints.smtp_host, endpoints.smtp_port, DEFAULT_MAIL_FROM,
                              timeout_s=5)
    yield sender
    sender.close()


@pytest.fixture
def ticket_email(mailpit: MailpitApi) -> Iterator[Email]:
    """An email of its own for each test (a unique Message-ID), removed from Mailpit after."""
    message = Email(
        message_id=f"<booking-confirmed.{uuid.uuid4().hex}@cinema-saga>",
        to="Ana Souza <ana@customers.example>",
        subject="Vos billets pour « Le Mépris »",
        text="Réservation B-17: rangée F, sièges 7 et 8.",
        html='<p>Réservation <b>B-17</b></p><img src="cid:qr-b17" alt="QR">',
        language="fr",
        images=(InlineImage("qr-b17", PNG),),
    )
    yield message
    mailpit.delete_message_id(message.message_id)


def test_an_email_arrives_with_its_id_subject_both_parts_and_its_qr_code(
    channel, ticket_email, mailpit,
) -> None:
    channel.send(ticket_email)
    [stored] = mailpit.wait_for(ticket_email.message_id)
    assert stored.message_id == ticket_email.message_id.strip("<>")
    assert stored.subject == ticket_email.subject
    assert stored.to == ["ana@customers.example"]
    assert stored.sender == "tickets@cinema-saga.example"
    assert stored.text.strip() == ticket_email.text
    assert stored.html.strip() == ticket_email.html
    [image] = stored.inline
    assert (image["ContentID"], image["ContentType"]) == ("qr-b17", "image/png")
    assert mailpit.part(stored.id, image["PartID"]) == PNG
    assert stored.attachments == []
    headers = mailpit.headers(stored.id)
    assert headers["Message-Id"] == [ticket_email.message_id]
    assert headers["Content-Language"] == ["fr"]
    assert headers["From"] == [DEFAULT_MAIL_FROM]
    assert headers["Auto-Submitted"] == ["auto-generated"]
    # The shape mail clients expect: text or (HTML with its images).
    parsed = email.message_from_bytes(mailpit.raw(stored.id), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    text, related = parsed.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    assert [part.get_content_type() for part in related.iter_parts()] == ["text/html", "image/png"]


def test_a_second_send_of_one_email_is_stored_twice_and_counted(
    channel, ticket_email, mailpit,
) -> None:
    """Mailpit keeps both copies of a repeated send: a test can see a duplicate."""
    channel.send(ticket_email)
    assert len(mailpit.wait_for(ticket_email.message_id)) == 1
    channel.send(ticket_email)
    assert len(mailpit.wait_for(ticket_email.message_id, copies=2)) == 2
    assert mailpit.copies(ticket_email.message_id) == 2


def test_mailpit_down_is_a_retryable_failure_and_the_channel_goes_on_once_it_is_back(
    channel, ticket_email, mailpit,
) -> None:
    channel.send(ticket_email)  # the channel now holds a connection to the Mailpit stopped below
    mailpit.wait_for(ticket_email.message_id)
    with mailpit_stopped(mailpit):
        pass
    channel.send(ticket_email)  # its connection died with that Mailpit: it opens another
    with mailpit_stopped(mailpit), pytest.raises(DeliveryFailed) as failed:
        channel.send(ticket_email)
    assert not failed.value.permanent, failed.value.reason
    channel.send(ticket_email)  # and once Mailpit is back, the next send goes
    assert mailpit.copies(ticket_email.message_id) == 3  # the first kept across the restarts


@pytest.mark.parametrize(("what", "code", "permanent"), [
    ("Recipient", 550, True),  # the address does not exist: it never will
    ("Recipient", 451, False),  # try again later
    ("Sender", 550, False),  # our From refused: the settings' fault, fixed by fixing them
])
def test_a_refusal_is_permanent_only_for_a_5xx_to_the_recipient(
    channel, ticket_email, mailpit, what, code, permanent,
) -> None:
    with mailpit.refusing(what, code), pytest.raises(DeliveryFailed) as failed:
        channel.send(ticket_email)
    assert failed.value.permanent is permanent, failed.value.reason
    assert str(code) in failed.value.reason
    assert mailpit.copies(ticket_email.message_id) == 0
    channel.send(ticket_email)  # the refusal is over: sent
    assert len(mailpit.wait_for(ticket_email.message_id)) == 1


def test_a_message_that_cannot_be_written_fails_permanently_and_sends_nothing(
    channel, ticket_email, mailpit,
) -> None:
    bad = (
        Email(**{**ticket_email.__dict__, "subject": "Tickets\r\nBcc: all@customers.example"}),
        Email(**{**ticket_email.__dict__, "message_id": ticket_email.message_id.strip("<>")}),
        Email(**{**ticket_email.__dict__, "to": "not an address"}),
    )
    for message in bad:
        with pytest.raises(DeliveryFailed) as failed:
            channel.send(message)
        assert failed.value.permanent, failed.value.reason
    assert mailpit.copies(ticket_email.message_id) == 0


def test_a_server_that_never_answers_is_a_retryable_failure_after_the_timeout(ticket_email) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        port = silent.getsockname()[1]
        channel = SmtpEmailChannel("127.0.0.1", port, DEFAULT_MAIL_FROM, timeout_s=0.5)
        with pytest.raises(DeliveryFailed) as failed:
            channel.send(ticket_email)
    assert not failed.value.permanent
    assert "timed out" in failed.value.reason
