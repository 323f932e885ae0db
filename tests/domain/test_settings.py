"""Settings come from CINEMA_* variables: the process's, or a mapping handed in."""

import os
from datetime import timedelta

from launcher.processes import LocalSystem
from shared.config import Settings


def test_settings_read_a_given_mapping_and_leave_the_environment_alone(monkeypatch):
    monkeypatch.setenv("CINEMA_HOLD_SECONDS", "30")
    before = dict(os.environ)
    given = Settings.from_env({"CINEMA_HOLD_SECONDS": "5", "CINEMA_BOOKING_PORT": "9101",
                               "CINEMA_RELAY_POLL_MS": "20", "HOLD_SECONDS": "7"})
    assert given.limits.hold_for == timedelta(seconds=5)
    assert given.service_port("booking") == 9101 and given.tuning.relay_poll_s == 0.02
    assert given.kafka_bootstrap == Settings().kafka_bootstrap  # absent: the default
    assert Settings.from_env().limits.hold_for == timedelta(seconds=30)  # the process's
    assert dict(os.environ) == before


def test_a_local_system_reads_its_services_settings_without_changing_ours(monkeypatch, tmp_path):
    monkeypatch.setenv("CINEMA_HOLD_SECONDS", "30")
    monkeypatch.setenv("CINEMA_TOPIC_PREFIX", "outer.")
    before = dict(os.environ)
    system = LocalSystem(env={"CINEMA_HOLD_SECONDS": "2"}, log_dir=tmp_path)
    settings = system.settings
    assert settings.limits.hold_for == timedelta(seconds=2)  # its own setting wins
    assert settings.topic_prefix == "outer."  # inherited, as its processes inherit it
    assert dict(os.environ) == before


def test_the_seat_claim_lapse_is_a_setting_booking_takes():
    from booking.application import BookingService

    settings = Settings.from_env({"CINEMA_SEAT_CLAIM_SECONDS": "2.5"})
    assert settings.tuning.seat_claim_s == 2.5 and Settings().tuning.seat_claim_s == 10
    booking = BookingService(claim_ttl=settings.tuning.seat_claim_s)  # in memory
    try:
        assert booking.taken_seats.claim_ttl == 2.5
    finally:
        booking.close()


def test_the_stripe_settings_and_their_secrets_stay_out_of_repr():
    default = Settings.from_env({})
    assert default.stripe_api_base == "http://127.0.0.1:58420"  # scripts/infra's localstripe
    assert default.stripe_api_key.startswith("sk_test_")
    assert default.stripe_webhook_secret.startswith("whsec_")
    given = Settings.from_env({"CINEMA_STRIPE_API_BASE": "", "CINEMA_STRIPE_API_KEY": "sk_test_k9",
                               "CINEMA_STRIPE_WEBHOOK_SECRET": "whsec_s9"})
    assert (given.stripe_api_base, given.stripe_api_key, given.stripe_webhook_secret) == (
        "", "sk_test_k9", "whsec_s9")  # empty base: Stripe itself
    for settings, secrets in ((default, (default.stripe_api_key, default.stripe_webhook_secret)),
                              (given, ("sk_test_k9", "whsec_s9"))):
        shown = repr(settings) + str(settings)
        assert not any(secret in shown for secret in secrets), shown
        assert settings.stripe_api_base in shown  # the address is no secret



def test_the_payment_provider_and_its_reconciliation_are_settings_payment_takes():
    import importlib.util

    import pytest

    from payment import wiring
    from payment.gateway import SimulatedProvider

    settings = Settings.from_env({"CINEMA_PAYMENT_RECONCILE_AFTER_S": "12",
                                  "CINEMA_GATEWAY": "simulated"})
    assert settings.gateway.reconcile_after == timedelta(seconds=12)
    assert Settings().gateway.reconcile_after == timedelta(seconds=30)
    assert Settings().gateway.provider == "simulated"
    app = wiring.application(settings, {"PERSISTENCE_MODULE": "eventsourcing.popo"},
                             provider=SimulatedProvider())
    try:
        assert app.reconcile_after == timedelta(seconds=12)
        [timer] = wiring.timers(app, settings)
        assert timer.job == app.reconcile and timer.every == timedelta(seconds=4)
    finally:
        app.close()
    with pytest.raises(ValueError, match="simulated or stripe"):
        wiring.make_provider(Settings.from_env({"CINEMA_GATEWAY": "paypal"}))
    if importlib.util.find_spec("payment.stripe_provider") is None:
        # Chosen, the Stripe provider is imported then, and only then.
        with pytest.raises(ModuleNotFoundError, match="payment.stripe_provider"):
            wiring.make_provider(Settings.from_env({"CINEMA_GATEWAY": "stripe"}))


def test_the_identity_providers_settings():
    assert Settings.from_env({}).tokens.jwks == ""  # the development secret's tokens
    t = Settings.from_env({
        "CINEMA_TOKEN_JWKS": "https://id.example/certs", "CINEMA_TOKEN_ISSUER": "https://id.example",
        "CINEMA_TOKEN_AUDIENCE": "cinema-api", "CINEMA_TOKEN_LEEWAY_S": "10",
        "CINEMA_TOKEN_ROLES_CLAIM": "realm_access.roles", "CINEMA_TOKEN_OPERATOR_ROLE": "ops",
        "CINEMA_HANDLER_ATTEMPTS": "5",
    })
    assert (t.tokens.jwks, t.tokens.issuer, t.tokens.audience, t.tokens.leeway_s) == (
        "https://id.example/certs", "https://id.example", "cinema-api", 10.0)
    assert (t.tokens.roles_claim, t.tokens.operator_role) == ("realm_access.roles", "ops")
    assert t.tuning.handler_attempts == 5 and Settings().tuning.handler_attempts == 3


def test_the_channels_settings_and_the_vapid_key_stay_out_of_repr():
    from notifications import vapid

    default = Settings.from_env({}).channels
    assert (default.smtp_host, default.smtp_port) == ("127.0.0.1", 58025)  # scripts/infra's Mailpit
    assert vapid.public_key_of(default.vapid_private_key)  # a usable development pair
    mine = vapid.generate()
    given = Settings.from_env({
        "CINEMA_SMTP_HOST": "smtp.internal", "CINEMA_SMTP_PORT": "2525",
        "CINEMA_SMTP_TIMEOUT_S": "3", "CINEMA_MAIL_FROM": "Box Office <box@cinema.example>",
        "CINEMA_VAPID_PRIVATE_KEY": mine.private_key, "CINEMA_VAPID_SUBJECT": "mailto:ops@x.example",
        "CINEMA_PUSH_TIMEOUT_S": "4", "CINEMA_PUSH_ALLOW_HTTP": "1",
    })
    channels = given.channels
    assert (channels.smtp_host, channels.smtp_port, channels.smtp_timeout_s) == (
        "smtp.internal", 2525, 3.0)
    assert channels.mail_from == "Box Office <box@cinema.example>"
    assert (channels.vapid_subject, channels.push_timeout_s, channels.push_allow_http) == (
        "mailto:ops@x.example", 4.0, True)
    assert not default.push_allow_http  # browsers' endpoints: https only
    assert vapid.public_key_of(channels.vapid_private_key) == mine.public_key
    for settings, key in ((Settings(), default.vapid_private_key), (given, mine.private_key)):
        shown = repr(settings) + str(settings)
        assert key not in shown, shown
        assert settings.channels.smtp_host in shown  # the address is no secret
