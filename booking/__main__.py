"""Run the booking service: python -m booking (settings from CINEMA_* variables)."""

from booking.application import BookingService
from booking.http import create_app
from projections.mongo_store import connect
from projections.queries import MongoQueries
from shared.config import Settings
from shared.runtime import ServiceProcess, configure_logging


def main() -> None:
    configure_logging()
    settings = Settings.from_env()
    views = MongoQueries(connect(settings.mongo_url)[settings.views_db])
    app = BookingService(env=settings.service_env(settings.service_db("booking")),
                         claim_ttl=settings.tuning.seat_claim_s)
    ServiceProcess(app, settings, create_app, settings.service_port("booking"), views=views).run()


if __name__ == "__main__":
    main()
