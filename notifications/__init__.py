"""Notification service: tells customers what became of their bookings (the tickets once
paid, what to do when a payment failed, a reminder before unpaid seats are released, why
a booking was cancelled, what was refunded) by email and web push.

A pure reactor in the choreography: it follows the other services' public events,
decides each message once, and sends it outside any transaction; nothing waits for it.
docs/notifications.md says what is sent when, and the guarantees.
"""
