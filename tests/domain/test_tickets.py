"""A ticket's QR code (notifications/tickets.py): the symbol segno makes for the payload,
drawn by the service's own PNG writer pixel for pixel as segno's writer draws it."""

from __future__ import annotations

import io
import struct
import zlib
from uuid import UUID

import segno
from hypothesis import given
from hypothesis import strategies as st

from notifications.tickets import BORDER, MASK, SCALE, qr_payload, qr_png


def pixels(png: bytes) -> tuple[tuple[int, ...], list[bytes]]:
    """A 1-bit PNG's header fields and its rows of pixels (filters none and up undone),
    each chunk's CRC checked."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, header, data = 8, (), b""
    while at < len(png):
        (size,) = struct.unpack(">I", png[at:at + 4])
        kind, body = png[at + 4:at + 8], png[at + 8:at + 8 + size]
        assert struct.unpack(">I", png[at + 8 + size:at + 12 + size])[0] == zlib.crc32(kind + body)
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            data += body
        at += 12 + size
    stride = (header[0] + 7) // 8
    raw, rows, previous = zlib.decompress(data), [], bytes(stride)
    for start in range(0, len(raw), stride + 1):
        kind, row = raw[start], raw[start + 1:start + 1 + stride]
        assert kind in (0, 2)  # none, up
        row = row if kind == 0 else bytes((a + b) & 0xFF for a, b in zip(row, previous, strict=True))
        rows.append(row)
        previous = row
    return header, rows


@given(st.uuids(), st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567-", min_size=19, max_size=19))
def test_the_qr_code_is_the_symbol_segno_makes_drawn_as_segno_draws_it(
    booking_id: UUID, code: str,
) -> None:
    payload = qr_payload(booking_id, code)
    symbol = segno.make(payload, error="m", mask=MASK, micro=False)
    assert symbol.mode == "alphanumeric" and symbol.mask == MASK
    theirs = io.BytesIO()
    symbol.save(theirs, kind="png", scale=SCALE, border=BORDER)
    assert pixels(qr_png(payload)) == pixels(theirs.getvalue())


def test_the_payload_names_the_booking_and_the_code_in_the_alphanumeric_set() -> None:
    booking_id = UUID("69fe9297-9710-4c50-aa85-ef2d5521ede1")
    assert qr_payload(booking_id, "2MBU-LI62-AR5O-NC5S") == (
        "CINEMA-SAGA:69FE9297-9710-4C50-AA85-EF2D5521EDE1:2MBU-LI62-AR5O-NC5S")
