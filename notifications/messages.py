"""A notification written out: its email (plain text and HTML, the tickets' QR code
inline) or its push, in the customer's language, from the templates in
``notifications/templates/<language>/``.

Each kind has ``<kind>.txt`` (blocks ``subject``, ``push`` and ``body``) and
``<kind>.html`` (the HTML part, on ``layout.html``). Written when sent, from the facts
the notice recorded and what the service knows of the show then (a show moved since
is told at its new time).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

from notifications import tickets, wording
from notifications.channels import Email, InlineImage, Push, PushSubscription
from notifications.contact import EMAIL, PUSH
from notifications.domain import CONFIRMATION, Notification
from notifications.shows import ShowDetails, TheatreDetails

TEMPLATES = Path(__file__).parent / "templates"
QR_CID = "ticket-qr"


@functools.cache
def templates_at(folder: Path) -> jinja2.Environment:
    """The templates of a folder, each compiled once per process (a service started
    again in the same process, as the embedded runtime does, finds them compiled)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,  # a missing fact fails the test, not the customer
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        auto_reload=False,  # part of the code: not looked at on disk at every message
    )


class MessageWriter:
    def __init__(self, secret: str, templates: Path = TEMPLATES) -> None:
        self.secret = secret  # signs the tickets' codes (tickets.py)
        self.env = templates_at(templates)

    def write(self, n: Notification, show: ShowDetails | None,
              theatre: TheatreDetails | None) -> Email | Push:
        """The message of a notification, for its channel."""
        if n.channel == EMAIL:
            return self.email(n, show, theatre)
        if n.channel == PUSH:
            return self.push(n, show, theatre)
        raise ValueError(f"no message for channel {n.channel!r}")

    def email(self, n: Notification, show: ShowDetails | None,
              theatre: TheatreDetails | None) -> Email:
        context = self.context(n, show, theatre)
        text = self.env.get_template(f"{n.language}/{n.kind}.txt")
        images: tuple[InlineImage, ...] = ()
        if n.kind == CONFIRMATION:
            payload = tickets.qr_payload(n.booking_id, context["ticket_code"])
            images = (InlineImage(QR_CID, tickets.qr_png(payload)),)
        return Email(
            message_id=n.message_id, to=n.destination["address"],
            subject=_block(text, "subject", context).strip(),
            text=_block(text, "body", context),
            html=self.env.get_template(f"{n.language}/{n.kind}.html").render(context),
            language=n.language, images=images,
        )

    def push(self, n: Notification, show: ShowDetails | None,
             theatre: TheatreDetails | None) -> Push:
        context = self.context(n, show, theatre)
        text = self.env.get_template(f"{n.language}/{n.kind}.txt")
        d = n.destination
        return Push(
            message_id=n.message_id,
            subscription=PushSubscription(d["endpoint"], d["p256dh"], d["auth"]),
            title=_block(text, "subject", context).strip(),
            body=_block(text, "push", context).strip(),
            booking_id=str(n.booking_id),
        )

    def context(self, n: Notification, show: ShowDetails | None,
                theatre: TheatreDetails | None) -> dict[str, Any]:
        """What the templates may say: the notice's facts, worded in its language."""
        f, lang = n.facts, n.language
        zone = _zone(theatre, show)
        start = datetime.fromisoformat(show.local_start) if show is not None else None
        until = f.get("reserved_until")
        currency = f.get("currency") or ""
        amount = f.get("amount")
        context: dict[str, Any] = {
            "booking_ref": str(n.booking_id)[:8].upper(),
            "booking_id": str(n.booking_id),
            "show_id": f["show_id"],
            "film": show.film if show is not None else None,
            "theatre": theatre.name if theatre is not None else None,
            "address": ", ".join(p for p in (theatre.address, theatre.city) if p and p != "-")
            if theatre is not None else None,
            "screen": theatre.screens.get(show.screen_id, show.screen_id)
            if theatre is not None and show is not None else None,
            "starts": wording.moment(start, lang) if start is not None else None,
            "seats": ", ".join(f["seat_ids"]),
            "seat_count": len(f["seat_ids"]),
            "amount": wording.money(amount, currency, lang) if amount is not None else None,
            "until": wording.moment(datetime.fromisoformat(until).astimezone(zone), lang)
            if until else None,
            "until_time": wording.time_of_day(datetime.fromisoformat(until).astimezone(zone),
                                              lang) if until else None,
            "reason": f.get("reason", ""),
            "detail": f.get("detail", ""),
            "was_confirmed": f.get("was_confirmed", False),
            "attempt": n.occasion,
            "qr_cid": QR_CID,
            "ticket_code": "",
            "words": self.env.get_template(f"{lang}/words.j2").module,  # codes in words
        }
        if n.kind == CONFIRMATION:
            context["ticket_code"] = tickets.ticket_code(self.secret, n.booking_id, f["show_id"],
                                                         f["seat_ids"])
        return context


def _block(template: jinja2.Template, name: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(context)))


def _zone(theatre: TheatreDetails | None, show: ShowDetails | None) -> Any:
    """The theatre's time zone; else the offset of the show's local start; else UTC."""
    if theatre is not None:
        try:
            return ZoneInfo(theatre.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if show is not None:
        return datetime.fromisoformat(show.local_start).tzinfo or UTC
    return UTC
