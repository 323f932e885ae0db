"""Theatre service: the catalogue's source of truth."""

from __future__ import annotations

from typing import Any

from shared import contracts as c
from shared.service import ServiceApplication
from theatre.publishing import to_public


class TheatreService(ServiceApplication):
    service = "theatre"

    def to_public(self, domain_event: Any) -> c.PublicEvent | None:
        return to_public(domain_event)
