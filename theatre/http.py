"""The theatre API (port 8005): operators lay out theatres and schedule shows;
customers browse the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from shared.http.app import ServiceApi
from shared.views import ViewQueries
from theatre.application import TheatreService


@dataclass(frozen=True)
class TheatreApi:
    """What the handlers use, handed to them as one dependency (shared.http.app: why)."""
    theatres: TheatreService
    views: ViewQueries | None


API = ServiceApi(
    title="cinema-saga theatre",
    description="Theatres, screens and their seat layouts, shows, and the catalogue.",
    routes=[],
    problems={},
    handlers_take=lambda service, views, settings: TheatreApi(service, views),
)
create_app = API.create_app
