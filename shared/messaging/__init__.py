"""Outbox relay and inbox: the transport-independent halves of messaging."""
