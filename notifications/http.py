"""The notification API (port 8007): a customer's contact details, what the service
told them about a booking, and the messages that failed (operators).

The customer is always the token's subject. Reads come from the service's own store:
no other service needs these facts, and a customer who just saved their details reads
them back at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from litestar import get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from notifications.application import BookingNotFound, ContactNotFound, NotificationService
from notifications.contact import (
    ContactDetails,
    InvalidEmail,
    InvalidPushSubscription,
    UnknownChoice,
    UnknownLanguage,
)
from notifications.domain import KINDS
from notifications.schemas import (
    ContactUpdate,
    ContactView,
    FailureList,
    FailureView,
    NotificationList,
    contact_view,
    notification_view,
)
from shared.http.app import ServiceApi
from shared.http.auth import CallerRequest, operator_only
from shared.http.errors import Problem, error_responses

PROBLEMS = {
    ContactNotFound: Problem(404, "no_contact_details", "no contact details for {}"),
    BookingNotFound: Problem(404, "booking_not_found", "no booking {}"),
    InvalidEmail: Problem(422, "invalid_email"),
    UnknownLanguage: Problem(422, "unknown_language"),
    InvalidPushSubscription: Problem(422, "invalid_push_subscription"),
    UnknownChoice: Problem(422, "unknown_choice"),
}


@dataclass(frozen=True)
class NotificationApi:
    """What the handlers use, handed to them as one dependency (shared.http.app: why)."""
    notifications: NotificationService


@put("/customers/me/contact", sync_to_thread=True, status_code=200,
     responses=error_responses(400, 401, 413, 422))
def set_contact(request: CallerRequest, data: JSONBody[ContactUpdate],
                api: NamedDependency[NotificationApi]) -> ContactView:
    """Where your messages go: an email address, browsers' push subscriptions, your
    language (en, fr), which messages by which channel, and whether to be reminded of a
    payment. Each PUT replaces them all; messages already due keep their address."""
    details = ContactDetails.checked(
        data.email, data.language,
        [{"endpoint": s.endpoint, "p256dh": s.keys.p256dh, "auth": s.keys.auth}
         for s in data.push_subscriptions],
        data.channels, data.reminders, KINDS)
    done = api.notifications.set_contact(request.user.customer_id, details)
    return contact_view(done.result)


@get("/customers/me/contact", sync_to_thread=True, responses=error_responses(400, 401, 404))
def get_contact(request: CallerRequest, api: NamedDependency[NotificationApi]) -> ContactView:
    """Your contact details; 404 until you give some (until then no message is sent)."""
    return contact_view(api.notifications.contact(request.user.customer_id))


@get("/bookings/{booking_id:uuid}/notifications", sync_to_thread=True,
     responses=error_responses(400, 401, 404))
def booking_notifications(booking_id: FromPath[UUID], request: CallerRequest,
                          api: NamedDependency[NotificationApi]) -> NotificationList:
    """What you were told about one of your bookings: each message, its channel, status
    and attempts. Operators may look at any booking."""
    caller = request.user
    found = api.notifications.booking_notifications(
        booking_id, None if caller.is_operator else caller.customer_id)
    return NotificationList(str(booking_id), [notification_view(n) for n in found])


@get("/ops/notifications/failures", guards=[operator_only], sync_to_thread=True,
     responses=error_responses(400, 401, 403))
def failures(api: NamedDependency[NotificationApi],
             limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100) -> FailureList:
    """Messages that failed: those tried again later, and those given up after the
    last attempt or refused for good, the latest failure first (operators only)."""
    found = api.notifications.failures(limit)
    return FailureList([FailureView(n.customer_id, notification_view(n)) for n in found])


API = ServiceApi(
    title="cinema-saga notifications",
    description="Customers' contact details; what the service told them about their "
                "bookings; failed messages.",
    routes=[set_contact, get_contact, booking_notifications, failures],
    problems=PROBLEMS,
    # No views: everything is read from the service's own store.
    handlers_take=lambda service, views, settings: NotificationApi(service),
)
create_app = API.create_app
