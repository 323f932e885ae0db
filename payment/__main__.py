"""Run the payment service: python -m payment (settings from CINEMA_* variables)."""

from payment.application import PaymentService
from payment.gateway import SimulatedGateway
from payment.http import create_app
from payment.ledger import PostgresLedger
from shared.config import Settings
from shared.runtime import ServiceProcess, configure_logging


def main() -> None:
    configure_logging()
    settings = Settings.from_env()
    db = settings.service_db("payment")
    g = settings.gateway
    gateway = SimulatedGateway(
        decline_rate=g.decline_rate, latency_s=g.latency_s, seed=g.seed,
        ledger=PostgresLedger(settings.postgres_conninfo(db)),
    )
    app = PaymentService(env=settings.service_env(db), gateway=gateway)
    ServiceProcess(app, settings, create_app, settings.service_port("payment")).run()


if __name__ == "__main__":
    main()
