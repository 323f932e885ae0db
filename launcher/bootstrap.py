"""The composition root of a service's process: ``python -m <service>`` runs ``main``.

From the registry entry and the service's wiring it builds the application on the
service's own database, its HTTP API over the MongoDB views, its timers, and the
relay and consumer that ``ServiceProcess`` runs. The only place where a service meets
the read side's storage.
"""

from __future__ import annotations

import sys

from projections.mongo_store import connect
from projections.queries import MongoQueries
from shared.config import Settings
from shared.runtime import ServiceProcess, configure_observability
from shared.services import spec
from shared.wiring import wiring_of


def service_process(name: str, settings: Settings) -> ServiceProcess:
    service = spec(name)
    wiring = wiring_of(service.name)
    app = wiring.application(settings, settings.service_env(settings.service_db(service.name)))
    views = MongoQueries(connect(settings.mongo_url)[settings.views_db])
    return ServiceProcess(app, settings, wiring.http, settings.service_port(service.name),
                          wiring.timers(app, settings), views=views)


def main(name: str, argv: list[str] | None = None) -> None:
    """``python -m <name>``: run the service; ``python -m <name> dead-letters ...``: the
    operator's commands on its dead letters (launcher/dead_letters.py)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["dead-letters"]:
        from launcher.dead_letters import main as dead_letters

        sys.exit(dead_letters(name, argv[1:]))
    if argv:
        sys.exit(f"usage: python -m {name} [dead-letters {{list,show,replay}} ...]")
    settings = Settings.from_env()
    configure_observability(name, settings)
    service_process(name, settings).run()
