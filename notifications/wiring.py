"""How the notification service's parts are built from the settings (shared.wiring.Wiring)."""

from __future__ import annotations

import importlib
from typing import Any

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from notifications.application import NotificationService
from notifications.domain import RetryPolicy
from notifications.http import create_app as http
from notifications.messages import MessageWriter
from notifications.recording import RecordingEmail, RecordingPush
from notifications.sending import Channels
from shared.clock import Clock
from shared.config import Settings
from shared.timers import Timer

__all__ = ["application", "http", "timers"]

# The channels ``CINEMA_NOTIFY_CHANNELS`` may name: which kind each is, and its class,
# imported only when named (SMTP and pywebpush are needed by none of the others). Each
# is built by its ``from_settings``.
REAL_CHANNELS = {
    "smtp": ("email", "notifications.email:SmtpEmailChannel"),
    "web_push": ("push", "notifications.web_push:WebPushChannel"),
}
RECORDING = "recording"  # both kinds kept in memory (notifications/recording.py)


def application(settings: Settings, env: EnvType, clock: Clock | None = None,
                recorder: ProcessRecorder | None = None, *, channels: Channels | None = None,
                **given: Any) -> NotificationService:
    n = settings.notify
    return NotificationService(
        env, clock, recorder, channels=channels or channels_from(settings),
        writer=MessageWriter(settings.token_secret), remind_before=n.reminder_before,
        retry=RetryPolicy(max_attempts=n.max_attempts, first_wait=n.retry_after,
                          send_timeout=n.send_timeout),
    )


def channels_from(settings: Settings) -> Channels:
    """``CINEMA_NOTIFY_CHANNELS``: ``smtp,web_push`` (the default), either alone, or
    ``recording``."""
    names = [name.strip() for name in settings.notify.channels.split(",") if name.strip()]
    if names == [RECORDING]:
        return Channels(RecordingEmail(), RecordingPush())
    built: dict[str, Any] = {}
    for name in names:
        if name not in REAL_CHANNELS:
            raise ValueError(f"CINEMA_NOTIFY_CHANNELS: no channel {name!r}; "
                             f"{', '.join(REAL_CHANNELS)} or {RECORDING}")
        kind, path = REAL_CHANNELS[name]
        module, _, cls = path.partition(":")
        built[kind] = getattr(importlib.import_module(module), cls).from_settings(settings)
    return Channels(**built)


def timers(app: NotificationService, settings: Settings) -> list[Timer]:
    # Reminders first, so that one decided in a run is sent by the dispatcher's next.
    # Both run at start-up too: reminders and messages due while the process was down
    # (a message whose attempt a crash interrupted, once its send timeout has passed).
    return [Timer(app.remind_due, settings.limits.sweep_interval),
            Timer(app.dispatch_due, settings.notify.dispatch_every)]
