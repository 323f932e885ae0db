"""Run the inventory service: python -m inventory (settings from CINEMA_* variables)."""

from inventory.application import InventoryService
from inventory.domain import HoldLimits
from inventory.http import create_app
from projections.mongo_store import connect
from projections.queries import MongoQueries
from shared.config import Settings
from shared.runtime import ServiceProcess, Timer, configure_logging


def main() -> None:
    configure_logging()
    settings = Settings.from_env()
    views = MongoQueries(connect(settings.mongo_url)[settings.views_db])
    limits = HoldLimits(
        max_seats=settings.limits.max_seats_per_booking, hold_for=settings.limits.hold_for,
        max_held_per_customer=settings.limits.max_held_per_customer,
    )
    # Deadlines are recovered from the event store at construction; the first sweep
    # runs at start-up, so holds that expired while the process was down go at once.
    app = InventoryService(env=settings.service_env(settings.service_db("inventory")), limits=limits)
    expiry = Timer(app.release_expired_holds, settings.limits.sweep_interval)
    ServiceProcess(
        app, settings, create_app, settings.service_port("inventory"), [expiry], views=views
    ).run()


if __name__ == "__main__":
    main()
