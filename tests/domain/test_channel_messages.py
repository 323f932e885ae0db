"""What the channels write, without a server: the email's MIME shape and headers, the push's
Topic and payload, VAPID keys (notifications/email.py, web_push.py, vapid.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications import vapid
from notifications.channels import Email, InlineImage, Push, PushSubscription
from notifications.email import address, compose
from notifications.web_push import payload, topic

NOW = datetime(2026, 12, 5, 20, 30, tzinfo=UTC)
EMAIL = Email(message_id="<booking-confirmed.b17@cinema-saga>", to="ana@customers.example",
              subject="Tickets", text="Row F", html='<img src="cid:qr">', language="pt-BR",
              images=(InlineImage("qr", b"png-bytes"),))


def test_an_email_is_text_or_html_with_its_images_and_carries_its_headers() -> None:
    message = compose(EMAIL, "Cinema <t@cinema.example>", NOW)
    assert message["Message-ID"] == EMAIL.message_id
    assert message["Content-Language"] == "pt-BR"  # survives building the body
    assert message["Date"] == "Sat, 05 Dec 2026 20:30:00 +0000"
    assert message.get_content_type() == "multipart/alternative"
    text, related = message.iter_parts()
    html, image = related.iter_parts()
    assert (text.get_content(), html.get_content()) == ("Row F\n", '<img src="cid:qr">\n')
    assert image["Content-ID"] == "<qr>" and image.get_content() == b"png-bytes"
    assert image.get_content_disposition() == "inline"


def test_an_email_without_images_has_no_related_part() -> None:
    message = compose(Email(**{**EMAIL.__dict__, "images": ()}), "t@cinema.example", NOW)
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain", "text/html"]


@pytest.mark.parametrize("wrong", [
    {"message_id": "booking-confirmed.b17@cinema-saga"},  # no angle brackets
    {"message_id": "<two@at@signs>"},
    {"subject": "Tickets\nBcc: everyone@customers.example"},  # a header injected
])
def test_an_email_with_a_header_that_cannot_be_written_is_refused(wrong: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        compose(Email(**{**EMAIL.__dict__, **wrong}), "t@cinema.example", NOW)


def test_the_envelope_takes_the_bare_address() -> None:
    assert address("Ana Souza <ana@customers.example>") == "ana@customers.example"
    with pytest.raises(ValueError):
        address("Ana Souza")


@given(st.text(min_size=1, max_size=300))
def test_a_push_topic_is_32_url_safe_characters_and_the_same_for_the_same_message(
    message_id: str,
) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", topic(message_id))
    assert topic(message_id) != topic(message_id + "x")


def test_a_push_payload_is_compact_json_of_what_the_service_worker_shows() -> None:
    push = Push("<m@cinema-saga>", PushSubscription("https://push.example/x", "k", "a"),
                title="Séance", body="20:30", booking_id="b17")
    assert json.loads(payload(push)) == {"title": "Séance", "body": "20:30",
                                         "booking_id": "b17", "message_id": "<m@cinema-saga>"}
    assert b" " not in payload(push)


def test_a_vapid_pair_is_a_p256_key_and_its_application_server_key() -> None:
    keys = vapid.generate()
    assert len(vapid.b64url_decode(keys.private_key)) == 32
    public = vapid.b64url_decode(keys.public_key)
    assert len(public) == 65 and public[0] == 4  # an uncompressed point
    assert vapid.public_key_of(keys.private_key) == keys.public_key
    assert keys.private_key not in repr(keys)
    for wrong in ("", "not base64!", vapid.b64url(b"short")):
        with pytest.raises(ValueError, match="not a P-256 private key"):
            vapid.private_key(wrong)
