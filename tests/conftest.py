"""Shared pytest configuration. Server fixtures live in tests/fixtures/servers.py."""

pytest_plugins = ["tests.fixtures.servers"]
