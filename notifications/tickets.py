"""A confirmed booking's ticket: a code the theatre's door can check, and its QR code.

The code is an HMAC of the booking, show and seats with the services' shared secret
(as quotes are signed), so it cannot be made up and is the same in every copy of the
confirmation. The QR code carries the booking id and the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from uuid import UUID

import segno


def ticket_code(secret: str, booking_id: UUID, show_id: str, seat_ids: list[str]) -> str:
    """16 characters in groups of four, e.g. ``K7QX-2M4P-...``."""
    signed = f"{booking_id}|{show_id}|{','.join(sorted(seat_ids))}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    code = base64.b32encode(digest[:10]).decode()
    return "-".join(code[i:i + 4] for i in range(0, 16, 4))


def qr_payload(booking_id: UUID, code: str) -> str:
    return f"CINEMA-SAGA:{booking_id}:{code}"


def qr_png(payload: str) -> bytes:
    """The QR code as a PNG, large enough to scan from a phone's screen."""
    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="png", scale=6, border=2)
    return out.getvalue()
