"""Dependencies point inward: the services never import the read side (the composition
root hands them its queries through shared.views), shared/ imports no service and not
the read side, and no service imports another."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.services import NAMES, PROJECTOR
from tests.support.imports import imported_roots
from tests.support.paths import ROOT

# The entry point runs the composition root (launcher.bootstrap), which wires the read side in.
ENTRY_POINT = "__main__.py"


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("service", NAMES)
def test_a_service_imports_neither_the_read_side_nor_another_service(service: str) -> None:
    others = set(NAMES) - {service}
    for path in modules(service):
        if path.name == ENTRY_POINT:
            assert imported_roots(path) <= {"launcher"}, f"{path}: only the composition root"
            continue
        wrong = imported_roots(path) & {PROJECTOR, "launcher", "embedded", "bench", "tests", *others}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_shared_imports_no_service_and_not_the_read_side() -> None:
    for path in modules("shared"):
        wrong = imported_roots(path) & {*NAMES, PROJECTOR, "launcher", "embedded", "bench", "tests"}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_the_check_sees_an_import_of_the_read_side(tmp_path: Path) -> None:
    module = tmp_path / "http.py"
    module.write_text("from projections.queries import MongoQueries\nimport shared.views\n")
    assert imported_roots(module) == {PROJECTOR, "shared"}
