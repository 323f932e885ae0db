"""Settings read from the environment, with the defaults a user would expect."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from psycopg.conninfo import make_conninfo

from shared.observability.settings import ObservabilitySettings
from shared.services import PROJECTOR, PROJECTOR_PORT, SERVICES

DEFAULT_PORTS = {**{s.name: s.port for s in SERVICES}, PROJECTOR: PROJECTOR_PORT}
DEFAULT_DATABASES = {s.name: s.database for s in SERVICES}
DEFAULT_STRIPE_API_BASE = "http://127.0.0.1:58420"  # scripts/infra's localstripe
DEFAULT_STRIPE_API_KEY = "sk_test_local"  # localstripe takes any sk_ key
# For localstripe and tests only: a real endpoint's secret comes from Stripe's dashboard.
DEFAULT_STRIPE_WEBHOOK_SECRET = "whsec_dev_only_not_a_secret_change_me"
DEFAULT_SMTP_PORT = 58025  # scripts/infra's Mailpit
DEFAULT_MAIL_FROM = "Cinema Saga <tickets@cinema-saga.example>"
DEFAULT_VAPID_SUBJECT = "mailto:tickets@cinema-saga.example"
# For development and tests only, like the webhook secret above: a deployment makes its own
# pair (python -m notifications.vapid), since anyone can read this one.
DEFAULT_VAPID_PRIVATE_KEY = "XE6MxamPsFVdpYLGIVNghhhUYZIUo1ZWLnLAOdlq1R0"


@dataclass(frozen=True)
class Limits:
    hold_for: timedelta = timedelta(minutes=10)
    max_seats_per_booking: int = 10
    max_held_per_customer: int = 10  # seats held unpaid by one customer in one show
    max_held_per_customer_day: int = 20  # ... across the shows of one theatre day
    sweep_interval: timedelta = timedelta(seconds=1)
    max_request_bytes: int = 16 * 1024


@dataclass(frozen=True)
class GatewaySettings:
    """The payment provider: which one, and the simulated one's answers."""

    provider: str = "simulated"  # or "stripe" (payment/stripe_provider.py)
    decline_rate: float = 0.0
    latency_s: float = 0.0
    seed: int = 0
    # An intent pending longer than this is asked about (a webhook lost or never sent).
    reconcile_after: timedelta = timedelta(seconds=30)
    # How many payments' calls the provider is asked at once (Stripe answers in a few
    # hundred ms: one at a time, payment would charge a few bookings a second).
    calls_at_once: int = 16


@dataclass(frozen=True)
class WriteLimits:
    """Writes (POST, PUT, PATCH, DELETE) one caller may make to a service: ``count`` per
    ``period_s``, at most ``count`` at once, per customer (the token's subject) and per
    client address, shared by the service's instances through Redis
    (shared/rate_limits.py). 0: no limit. Operators are not limited."""

    per_customer: int = 60
    per_address: int = 600
    period_s: float = 60.0


@dataclass(frozen=True)
class TokenSettings:
    """Whose bearer tokens the APIs accept (shared/http/identity.py). Without ``jwks``:
    HS256 tokens signed with ``Settings.token_secret`` (development and tests)."""

    jwks: str = ""  # an identity provider's keys: a file's path, or an http(s) URL
    issuer: str = ""  # the ``iss`` its tokens carry (required with ``jwks``)
    audience: str = ""  # the ``aud`` they must be for (required with ``jwks``)
    leeway_s: float = 30.0  # clock skew tolerated on ``exp``, ``nbf`` and ``iat``
    # Where a token lists its roles: a claim's name, or a dotted path into nested claims
    # (Keycloak: ``realm_access.roles``); a name with dots (Auth0's namespaced claims) is
    # looked up whole first.
    roles_claim: str = "roles"
    operator_role: str = "operator"  # the provider's name of the role that operates shows


@dataclass(frozen=True)
class ChannelSettings:
    """Where notifications go out (notifications/email.py, notifications/web_push.py)."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = DEFAULT_SMTP_PORT
    smtp_timeout_s: float = 10.0  # each step of an SMTP session (connect, each command)
    mail_from: str = DEFAULT_MAIL_FROM
    # Signs every push (RFC 8292); a secret, so not in repr. The subject is a contact
    # address the push services may write to about this sender.
    vapid_private_key: str = field(default=DEFAULT_VAPID_PRIVATE_KEY, repr=False)
    vapid_subject: str = DEFAULT_VAPID_SUBJECT
    push_timeout_s: float = 10.0  # connect, and then the push service's answer
    # Push endpoints come from browsers; only https ones are posted to, unless this is on
    # (for the tests' local push service on 127.0.0.1).
    push_allow_http: bool = False


@dataclass(frozen=True)
class NotifySettings:
    """The notification service: its channels, when it reminds, how it retries."""

    # Which channels send (notifications/wiring.py): "smtp,web_push" (the real ones), or
    # "recording" (kept in memory: the embedded runtime's, and tests that read no mail).
    channels: str = "smtp,web_push"
    reminder_before: timedelta = timedelta(minutes=2)  # before a hold's end, if unpaid
    max_attempts: int = 5  # sends of one message before it fails for good
    retry_after: timedelta = timedelta(seconds=30)  # after a first failure; doubled each time
    retry_longest: timedelta = timedelta(hours=1)  # the doubling stops here
    # An attempt with no outcome after this long was interrupted by a crash and is made
    # again: longer than any channel's own timeouts, or a slow send would be repeated.
    send_timeout: timedelta = timedelta(minutes=2)
    dispatch_every: timedelta = timedelta(seconds=1)  # how often due messages are sent
    # How long its inbox gathers messages, to decide all those of a poll, whatever their
    # partitions, in one transaction (nothing in the saga waits for it).
    gather: timedelta = timedelta(seconds=0.5)


@dataclass(frozen=True)
class Tuning:
    """Knobs that trade latency, throughput and memory; the defaults suit both."""

    consumer_wait_s: float = 0.2  # longest a consumer waits for a first message
    consumer_batch: int = 500  # most messages taken from Kafka at once
    relay_poll_s: float = 0.05  # the relay's longest wait for a write's NOTIFY before it reads anyway
    relay_record_s: float = 0.5  # how often the relay writes its position, at most
    aggregate_cache: int = 5000  # aggregates kept in memory per service; 0: none
    unrecorded_positions: int = 1000  # ignored messages before their position is written anyway
    # Tries of a message whose handler fails (a fault of the message, not of the world:
    # shared/messaging/faults.py) before it is dead-lettered.
    handler_attempts: int = 3
    # Shortest time between busy projector rounds: fewer, fuller MongoDB writes under load
    # (less CPU taken from the saga), at up to this much more view lag.
    projection_min_round_s: float = 0.1
    # How long booking keeps a booking's claim on its seats without inventory's answer (with
    # several booking instances the answer may go to another): booking/taken_seats.py.
    seat_claim_s: float = 10.0


@dataclass(frozen=True)
class Settings:
    limits: Limits = field(default_factory=Limits)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    kafka_bootstrap: str = "127.0.0.1:59092"
    topic_prefix: str = ""
    mongo_url: str = "mongodb://127.0.0.1:57017/"
    views_db: str = "cinema_views"
    # Shared state several instances use: booking's seat claims (booking/shared_claims.py).
    # Empty: none, each instance keeps its own (the embedded runtime, one process).
    redis_url: str = "redis://127.0.0.1:56379/0"
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 55432
    postgres_user: str = "postgres"
    postgres_password: str = ""
    token_secret: str = "dev-only-secret-change-me-in-production"
    tokens: TokenSettings = field(default_factory=TokenSettings)
    write_limits: WriteLimits = field(default_factory=WriteLimits)
    # The Stripe API of the payment provider (payment/stripe_provider.py): by default the
    # localstripe that scripts/infra runs; empty: Stripe itself (api.stripe.com). The key
    # and the webhook secret stay out of repr, so a logged Settings never shows them.
    stripe_api_base: str = DEFAULT_STRIPE_API_BASE
    stripe_api_key: str = field(default=DEFAULT_STRIPE_API_KEY, repr=False)
    stripe_webhook_secret: str = field(default=DEFAULT_STRIPE_WEBHOOK_SECRET, repr=False)
    http_host: str = "127.0.0.1"  # 0.0.0.0 inside a container
    instance: str = "1"  # this instance's stable name within its service (Kafka static membership)
    tuning: Tuning = field(default_factory=lambda: Tuning())
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    # Between two shows on one screen, for cleaning: a show occupies its screen from its
    # start until this long after its film ends.
    cleaning_gap: timedelta = timedelta(minutes=20)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """From ``CINEMA_*`` variables: the process's environment, or the given mapping
        (another process's settings, read without touching this one's environment)."""
        variables = os.environ if environ is None else environ

        def _env(name: str, default: str) -> str:
            return variables.get(f"CINEMA_{name}", default)

        return cls(
            limits=Limits(
                hold_for=timedelta(seconds=float(_env("HOLD_SECONDS", "600"))),
                max_seats_per_booking=int(_env("MAX_SEATS_PER_BOOKING", "10")),
                max_held_per_customer=int(_env("MAX_HELD_PER_CUSTOMER", "10")),
                max_held_per_customer_day=int(_env("MAX_HELD_PER_CUSTOMER_DAY", "20")),
                sweep_interval=timedelta(seconds=float(_env("SWEEP_SECONDS", "1"))),
                max_request_bytes=int(_env("MAX_REQUEST_BYTES", str(16 * 1024))),
            ),
            gateway=GatewaySettings(
                provider=_env("GATEWAY", "simulated"),
                reconcile_after=timedelta(seconds=float(_env("PAYMENT_RECONCILE_AFTER_S", "30"))),
                calls_at_once=int(_env("PAYMENT_CALLS_AT_ONCE", "16")),
                decline_rate=float(_env("GATEWAY_DECLINE_RATE", "0")),
                latency_s=float(_env("GATEWAY_LATENCY_MS", "0")) / 1000,
                seed=int(_env("GATEWAY_SEED", "0")),
            ),
            kafka_bootstrap=_env("KAFKA_BOOTSTRAP", "127.0.0.1:59092"),
            topic_prefix=_env("TOPIC_PREFIX", ""),
            mongo_url=_env("MONGO_URL", "mongodb://127.0.0.1:57017/"),
            views_db=_env("VIEWS_DB", "cinema_views"),
            redis_url=_env("REDIS_URL", "redis://127.0.0.1:56379/0"),
            postgres_host=_env("POSTGRES_HOST", "127.0.0.1"),
            postgres_port=int(_env("POSTGRES_PORT", "55432")),
            postgres_user=_env("POSTGRES_USER", "postgres"),
            postgres_password=_env("POSTGRES_PASSWORD", ""),
            token_secret=_env("TOKEN_SECRET", "dev-only-secret-change-me-in-production"),
            write_limits=WriteLimits(
                per_customer=int(_env("WRITES_PER_CUSTOMER", "60")),
                per_address=int(_env("WRITES_PER_ADDRESS", "600")),
                period_s=float(_env("WRITES_PERIOD_S", "60")),
            ),
            tokens=TokenSettings(
                jwks=_env("TOKEN_JWKS", ""),
                issuer=_env("TOKEN_ISSUER", ""),
                audience=_env("TOKEN_AUDIENCE", ""),
                leeway_s=float(_env("TOKEN_LEEWAY_S", "30")),
                roles_claim=_env("TOKEN_ROLES_CLAIM", "roles"),
                operator_role=_env("TOKEN_OPERATOR_ROLE", "operator"),
            ),
            stripe_api_base=_env("STRIPE_API_BASE", DEFAULT_STRIPE_API_BASE),
            stripe_api_key=_env("STRIPE_API_KEY", DEFAULT_STRIPE_API_KEY),
            stripe_webhook_secret=_env("STRIPE_WEBHOOK_SECRET", DEFAULT_STRIPE_WEBHOOK_SECRET),
            http_host=_env("HTTP_HOST", "127.0.0.1"),
            instance=_env("INSTANCE", "1"),
            tuning=Tuning(
                consumer_wait_s=float(_env("CONSUMER_WAIT_MS", "200")) / 1000,
                consumer_batch=int(_env("CONSUMER_BATCH", "500")),
                relay_poll_s=float(_env("RELAY_POLL_MS", "50")) / 1000,
                relay_record_s=float(_env("RELAY_RECORD_MS", "500")) / 1000,
                aggregate_cache=int(_env("AGGREGATE_CACHE", "5000")),
                unrecorded_positions=int(_env("UNRECORDED_POSITIONS", "1000")),
                handler_attempts=int(_env("HANDLER_ATTEMPTS", "3")),
                projection_min_round_s=float(_env("PROJECTION_MIN_ROUND_MS", "100")) / 1000,
                seat_claim_s=float(_env("SEAT_CLAIM_SECONDS", "10")),
            ),
            channels=ChannelSettings(
                smtp_host=_env("SMTP_HOST", "127.0.0.1"),
                smtp_port=int(_env("SMTP_PORT", str(DEFAULT_SMTP_PORT))),
                smtp_timeout_s=float(_env("SMTP_TIMEOUT_S", "10")),
                mail_from=_env("MAIL_FROM", DEFAULT_MAIL_FROM),
                vapid_private_key=_env("VAPID_PRIVATE_KEY", DEFAULT_VAPID_PRIVATE_KEY),
                vapid_subject=_env("VAPID_SUBJECT", DEFAULT_VAPID_SUBJECT),
                push_timeout_s=float(_env("PUSH_TIMEOUT_S", "10")),
                push_allow_http=_env("PUSH_ALLOW_HTTP", "0").lower() in ("1", "true", "yes"),
            ),
            notify=NotifySettings(
                channels=_env("NOTIFY_CHANNELS", "smtp,web_push"),
                reminder_before=timedelta(seconds=float(_env("NOTIFY_REMINDER_BEFORE_S", "120"))),
                max_attempts=int(_env("NOTIFY_MAX_ATTEMPTS", "5")),
                retry_after=timedelta(seconds=float(_env("NOTIFY_RETRY_AFTER_S", "30"))),
                retry_longest=timedelta(seconds=float(_env("NOTIFY_RETRY_MAX_S", "3600"))),
                send_timeout=timedelta(seconds=float(_env("NOTIFY_SEND_TIMEOUT_S", "120"))),
                dispatch_every=timedelta(seconds=float(_env("NOTIFY_DISPATCH_S", "1"))),
                gather=timedelta(seconds=float(_env("NOTIFY_GATHER_S", "0.5"))),
            ),
            cleaning_gap=timedelta(minutes=float(_env("CLEANING_GAP_MINUTES", "20"))),
            observability=ObservabilitySettings.from_env(variables),
            ports={s: int(_env(f"{s.upper()}_PORT", str(p))) for s, p in DEFAULT_PORTS.items()},
            databases={s: _env(f"{s.upper()}_DB", db) for s, db in DEFAULT_DATABASES.items()},
        )

    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    databases: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_DATABASES))

    def service_port(self, service: str) -> int:
        return self.ports[service]

    def service_db(self, service: str) -> str:
        return self.databases[service]

    def postgres_conninfo(self, dbname: str) -> str:
        # make_conninfo quotes values: a bare empty password would swallow the next key.
        return make_conninfo(
            host=self.postgres_host, port=self.postgres_port, user=self.postgres_user,
            password=self.postgres_password, dbname=dbname,
        )

    def postgres_env(self, dbname: str) -> dict[str, str]:
        """The eventsourcing environment for one service's own database."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": self.postgres_host,
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password,
            # Connections held open per application; overflow is opened on demand. Small:
            # a service has a handful of threads, and PostgreSQL's connections are finite.
            "POSTGRES_POOL_SIZE": "3",
            "POSTGRES_MAX_OVERFLOW": "7",
            # The same writes as the library's recorder, in one statement (shared/recorder).
            "PROCESS_RECORDER_TOPIC": "shared.recorder:SingleStatementProcessRecorder",
            # No aggregate cache: a reader of a store others write must not keep copies.
            "AGGREGATE_CACHE_MAXSIZE": "",
        }

    def service_env(self, dbname: str) -> dict[str, str]:
        """The environment of the service that writes this database: its sole writer,
        so it may keep aggregates in memory (empty: none; eventsourcing reads 0 as
        unbounded)."""
        return {
            **self.postgres_env(dbname),
            "AGGREGATE_CACHE_MAXSIZE": str(self.tuning.aggregate_cache or ""),
        }
