"""VAPID keys (RFC 8292): the P-256 key pair with which the server signs every Web Push
request, so that a push service delivers only what the subscription's owner sends.

A browser subscribes with the public key (``applicationServerKey``), and its
subscription works only with pushes signed by the matching private key: changing the
pair orphans every subscription. Both are written base64url without padding, the
private key as its raw 32-byte scalar, the public key as the 65-byte uncompressed point.

    python -m notifications.vapid      # a new pair, as CINEMA_VAPID_* export lines

The private key is a secret: it is read from the settings, never logged nor shown in a
repr, and a malformed one is reported without its value.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass(frozen=True)
class VapidKeys:
    private_key: str = field(repr=False)
    public_key: str  # the browser's applicationServerKey


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate() -> VapidKeys:
    key = ec.generate_private_key(ec.SECP256R1())
    private = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    return VapidKeys(private, public_key_of(key))


def private_key(encoded: str) -> ec.EllipticCurvePrivateKey:
    """The signing key from its base64url raw scalar; ValueError (without the value) if it
    is not one."""
    try:
        raw = b64url_decode(encoded.strip())
        if len(raw) != 32:
            raise ValueError
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except (ValueError, binascii.Error):
        raise ValueError(
            "the VAPID private key is not a P-256 private key (base64url of 32 bytes; "
            "python -m notifications.vapid makes a pair)"
        ) from None


def public_key_of(key: ec.EllipticCurvePrivateKey | str) -> str:
    """The applicationServerKey a browser subscribes with."""
    if isinstance(key, str):
        key = private_key(key)
    return b64url(key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def main() -> None:
    keys = generate()
    print("# A new VAPID key pair. The private key is a secret: keep it out of logs and git.")
    print(f"export CINEMA_VAPID_PRIVATE_KEY={keys.private_key}")
    print(f"# applicationServerKey for the browsers: {keys.public_key}")


if __name__ == "__main__":
    main()
