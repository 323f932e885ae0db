"""The code passes the type checker (mypy, its settings, packages and version range in
pyproject.toml), which checks every service, and what the type checker is told about the
aggregates' event classes is what they define."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

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


def event_classes(path: Path) -> dict[str, tuple[set[str], set[str]]]:
    """Per aggregate class of a module: the event classes declared under
    ``if TYPE_CHECKING:`` in its body, and those its ``@event("Name", ...)`` decorators
    define."""
    found = {}
    for cls in ast.walk(ast.parse(path.read_text())):
        if not isinstance(cls, ast.ClassDef):
            continue
        declared = {
            statement.target.id
            for node in cls.body
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
            for statement in node.body
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
        }
        defined = {
            decorator.args[0].value
            for node in cls.body
            if isinstance(node, ast.FunctionDef)
            for decorator in node.decorator_list
            if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "event"
            and decorator.args and isinstance(decorator.args[0], ast.Constant)
        }
        if declared or defined:
            found[cls.name] = (declared, defined)
    return found


@pytest.mark.parametrize("service", NAMES)
def test_aggregates_declare_the_event_classes_their_decorators_define(service):
    """The @event decorators define an aggregate's event classes when the class is
    created, out of the type checker's sight; the aggregate declares them for it."""
    for name, (declared, defined) in event_classes(ROOT / service / "domain.py").items():
        assert declared == defined, f"{service}.domain.{name}: declare {sorted(defined)}"
