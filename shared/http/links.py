"""OpenAPI links: what a client may call next with what an answer gave it (a booking made,
then read, paid again or cancelled with its ``booking_id``).

Litestar builds each operation with the route's ``operation_class``; ``links`` makes one
that adds the links to the documented responses. A link names its target by path and
method (``operationRef``), not by the generated operation id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from litestar.openapi.spec import Link, OpenAPIResponse, Operation


def to(method: str, path: str, **parameters: str) -> Link:
    """A link to ``method path`` (as the document spells the path), each parameter given
    by a runtime expression: ``$response.body#/booking_id``, ``$request.path.show_id``."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    return Link(operation_ref=f"#/paths/{pointer}/{method.lower()}", parameters=parameters)


def links(by_status: Mapping[int, Mapping[str, Link]]) -> type[Operation]:
    """An operation class whose responses of each status carry these named links."""

    @dataclass
    class Linked(Operation):
        def __post_init__(self) -> None:
            for status, named in by_status.items():
                response = (self.responses or {}).get(str(status))
                if response is None:
                    raise KeyError(f"{status} is not a documented response of this route")
                if isinstance(response, OpenAPIResponse):  # litestar makes no Reference here
                    response.links = {**(response.links or {}), **named}

    return Linked
