"""Local PostgreSQL, Kafka, FerretDB, Redis and localstripe for development and CI, without Docker.

Driven by the ``scripts/infra`` front (``up``, ``down``, ``status``, ``env``).
See docs/infra.md for what runs where and why.
"""
