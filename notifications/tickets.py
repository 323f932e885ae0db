"""A confirmed booking's ticket: a code the theatre's door can check, and its QR code.

The code is an HMAC of the booking, show and seats with the services' shared secret
(as quotes are signed), so it cannot be made up and is the same in every copy of the
confirmation. The QR code carries the booking id and the code.

Drawing the QR code is most of what a confirmation costs to write, so it is drawn
cheaply: the payload in upper case (a QR code's alphanumeric mode: a smaller symbol than
bytes), one fixed mask pattern (readers take any of the eight; scoring all eight to pick
the best took three quarters of the time), and the PNG written here, one bit per pixel,
rather than by segno's writer, pixel by pixel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import zlib
from uuid import UUID

import segno

MASK = 2  # any of 0-7 is valid; fixed rather than scored
SCALE = 6  # pixels per module: large enough to scan from a phone's screen
BORDER = 2  # modules of quiet zone around the symbol


def ticket_code(secret: str, booking_id: UUID, show_id: str, seat_ids: list[str]) -> str:
    """16 characters in groups of four, e.g. ``K7QX-2M4P-...``."""
    signed = f"{booking_id}|{show_id}|{','.join(sorted(seat_ids))}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    code = base64.b32encode(digest[:10]).decode()
    return "-".join(code[i:i + 4] for i in range(0, 16, 4))


def qr_payload(booking_id: UUID, code: str) -> str:
    """``CINEMA-SAGA:<BOOKING ID>:<CODE>``, in upper case: the alphanumeric mode's
    characters (a reader compares the booking id without regard to case)."""
    return f"CINEMA-SAGA:{str(booking_id).upper()}:{code}"


def qr_png(payload: str) -> bytes:
    """The QR code as a PNG, black on white."""
    qr = segno.make(payload, error="m", mask=MASK, micro=False)
    return png(qr.matrix, SCALE, BORDER)


def png(matrix: tuple[bytearray, ...], scale: int, border: int) -> bytes:
    """A 1-bit greyscale PNG of a matrix of modules (a true value: dark), each module
    ``scale`` pixels square, with ``border`` light modules around."""
    width = (len(matrix[0]) + 2 * border) * scale
    pad = -width % 8  # a scanline is whole bytes
    light = "1" * scale

    def scanline(modules: bytes | bytearray) -> bytes:
        bits = light * border + "".join("0" * scale if m else light for m in modules)
        bits += light * border + "0" * pad  # padding, ignored: as segno writes it
        return b"\x00" + int(bits, 2).to_bytes(len(bits) // 8, "big")  # filter: none

    blank = scanline(bytes(len(matrix[0])))
    rows = [blank] * (border * scale)
    for modules in matrix:
        rows.extend([scanline(modules)] * scale)
    rows.extend([blank] * (border * scale))
    header = struct.pack(">IIBBBBB", width, len(rows), 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"".join([b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(b"".join(rows), 9)), _chunk(b"IEND", b"")])


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
