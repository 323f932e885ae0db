"""Shared pytest configuration. Server fixtures live in tests/support/servers.py."""

pytest_plugins = ["tests.support.servers"]
