"""An email as the bytes an SMTP server is sent (RFC 5322 and MIME), written directly.

A ``multipart/alternative`` of the plain text and the HTML; the HTML with its inline
images forms a ``multipart/related``, each image referenced as ``cid:<content_id>``.
Every part is in base64, its text in UTF-8. Headers: ``Message-ID`` as given, ``Date``,
``From``, ``To``, ``Subject``, ``Auto-Submitted: auto-generated`` (RFC 3834: no
vacation auto-replies to it) and ``Content-Language``. A header that is not ASCII is
encoded (RFC 2047; an address's display name only), unless an address is not ASCII: the
message then goes by SMTPUTF8, and its headers are UTF-8 as they are (RFC 6532).

Written here rather than by the ``email`` package, whose ``EmailMessage`` parses every
header it is given and folds every header it writes: that cost more than the rest of
sending a message, four times what these lines do. What it would refuse is refused
here: a line break in a header, a Message-ID that is not ``<left@right>``.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr

from notifications.channels import Email

CRLF = "\r\n"
MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
ADDRESSES = ("From", "To")


def address(header: str) -> str:
    """The bare address of ``Name <addr>`` or ``addr``; ValueError if there is none."""
    found = parseaddr(header)[1]
    if "@" not in found:
        raise ValueError(f"{header!r} has no email address")
    return found


def international(mail_from: str, to: str) -> bool:
    """Whether an address is not ASCII: the message needs the server's SMTPUTF8."""
    return not (address(mail_from) + address(to)).isascii()


def compose(email: Email, mail_from: str, now: datetime) -> bytes:
    """The message, lines ending in CRLF; ValueError if a header would not be valid."""
    if not MESSAGE_ID.fullmatch(email.message_id):
        raise ValueError(f"message id {email.message_id!r} is not <left@right>")
    headers = {"Message-ID": email.message_id, "Date": format_datetime(now),
               "From": mail_from, "To": email.to, "Subject": email.subject,
               "Auto-Submitted": "auto-generated", "Content-Language": email.language}
    if any("\r" in v or "\n" in v for v in headers.values()):
        raise ValueError(f"a header with a line break: {headers!r}")
    utf8 = international(mail_from, email.to)
    lines = [f"{name}: {_header(name, value, utf8)}" for name, value in headers.items()]
    html = _text(email.html, "html")
    if email.images:
        html = _multipart("related", [html, *(
            _part("image/png", image.png, f"Content-ID: <{image.content_id}>{CRLF}"
                  f'Content-Disposition: inline; filename="{image.content_id}.png"{CRLF}')
            for image in email.images)])
    body = _multipart("alternative", [_text(email.text, "plain"), html])
    return (CRLF.join([*lines, "MIME-Version: 1.0", body])).encode()


def _header(name: str, value: str, utf8: bool) -> str:
    if value.isascii() or utf8:
        return value
    if name in ADDRESSES:  # the display name encoded, the address as it is
        return formataddr(parseaddr(value), charset="utf-8")
    return Header(value, "utf-8").encode(linesep=CRLF)


def _text(text: str, subtype: str) -> str:
    # Ends with a line break, as the email package writes a text part.
    body = text if text.endswith("\n") else text + "\n"
    return _part(f'text/{subtype}; charset="utf-8"', body.encode())


def _part(content_type: str, data: bytes, headers: str = "") -> str:
    """A part: its headers, a blank line, its content in base64 (lines of 76)."""
    encoded = base64.encodebytes(data).decode("ascii").replace("\n", CRLF)
    return (f"Content-Type: {content_type}{CRLF}Content-Transfer-Encoding: base64{CRLF}"
            f"{headers}{CRLF}{encoded}")


def _multipart(subtype: str, parts: list[str]) -> str:
    # "=_" is in no base64 text, so no part's content can hold the boundary.
    boundary = f"=_{subtype}_{uuid.uuid4().hex}"
    return (f'Content-Type: multipart/{subtype}; boundary="{boundary}"{CRLF}{CRLF}'
            + "".join(f"--{boundary}{CRLF}{part}" for part in parts)
            + f"--{boundary}--{CRLF}")
