"""Request bodies decoded as strictly as the documents describe them.

Litestar converts a decoded body into the handler's struct leniently, as it does query
strings: ``"wheelchair": 0`` became ``False``, ``"number": "7"`` became ``7``. A body is
JSON, typed: each request body is converted again, strictly, into the same struct before
the handler runs, and a value of the wrong type is a 400 naming its field, as any other.
A number without a fraction (``7.0``) is an integer, as JSON Schema has it.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException


async def strictly_typed(request: Request) -> None:
    """A ``before_request`` hook: raises ``ValidationException`` for a body whose values
    have the wrong JSON types for the handler's struct."""
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    struct = data.annotation if data is not None else None
    if not (isinstance(struct, type) and issubclass(struct, msgspec.Struct)):
        return
    try:
        decoded = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        return  # not JSON: litestar's own decoding says so
    try:
        msgspec.convert(_integral(decoded), type=struct, strict=True)
    except msgspec.ValidationError as e:
        message, _, where = str(e).partition(" - at `$")
        key = where.rstrip("`").removeprefix(".") or "data"
        raise ValidationException(
            detail=f"Validation failed for {request.method} {request.url.path}",
            extra=[{"message": message, "key": key, "source": "body"}],
        ) from None


def _integral(value: Any) -> Any:
    """JSON numbers without a fraction as ints: to JSON Schema, 7.0 is an integer too."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value
