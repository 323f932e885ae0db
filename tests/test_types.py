"""The code passes the type checker (mypy, its settings, packages and version range in
pyproject.toml), which checks every service."""

import subprocess
import sys
import tomllib
from pathlib import Path

from shared.services import NAMES, PROJECTOR
from tests.support.paths import ROOT


def test_mypy_finds_nothing():
    # Without its cache (.mypy_cache) a run takes under ten seconds here; with it, one.
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_checks_every_registered_service():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["packages"]
    assert {*NAMES, PROJECTOR} <= set(packages)


def test_an_aggregates_event_classes_are_any_to_the_checker_and_its_own_attributes_are_not(
    tmp_path: Path,
) -> None:
    """shared.aggregate: what ``@event`` defines is Any to mypy; a typo on an instance is
    still an error."""
    module = tmp_path / "probe.py"
    module.write_text(
        "from eventsourcing.domain import event\n"
        "from shared.aggregate import Aggregate\n\n"
        "class Show(Aggregate):\n"
        "    @event('Opened')\n"
        "    def __init__(self, n: int) -> None:\n"
        "        self.n = n\n\n"
        "opened = Show.Opened\n"
        "wrong: str = Show(n=1).n\n"
    )
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", str(module)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.stdout.count("error:") == 1, done.stdout
    assert 'Incompatible types in assignment (expression has type "int"' in done.stdout
