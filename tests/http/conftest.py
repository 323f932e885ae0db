"""The HTTP tests' fixtures: the three apps over one embedded system (tests/support/api.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from shared.config import Settings
from tests.support.api import Api, http_settings, serve
from tests.support.embedded import embedded_system


@pytest.fixture
def settings() -> Settings:
    return http_settings()


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with serve(embedded_system(), settings) as api:
        yield api


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The API fuzzer's figures, when it ran (tests/http/test_api_fuzz.py)."""
    fuzz = sys.modules.get("tests.support.fuzz")
    if fuzz is not None and fuzz.FIGURES.cases:
        terminalreporter.write_sep("-", "API fuzzing")
        for line in fuzz.FIGURES.lines():
            terminalreporter.write_line(line)
