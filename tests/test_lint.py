"""The code passes the linter (ruff, rules and version range in pyproject.toml), and tests
share code through tests/support only."""

import subprocess
import sys

from tests.support.imports import imports
from tests.support.paths import ROOT


def test_ruff_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def is_test_module_or_conftest(module: str) -> bool:
    return any(part == "conftest" or part.startswith("test_") for part in module.split("."))


def test_no_module_imports_a_test_module_or_a_conftest():
    """What tests share lives in tests/support: a test module or conftest imported elsewhere
    runs its tests twice or its fixtures where they were not meant to be, and hides what
    is shared."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {wrong[0]}"
        for folder in ("tests", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, names in imports(path)
        if (wrong := [name for name in names if is_test_module_or_conftest(name)])
    ]
    assert found == [], "move what is shared into tests/support:\n" + "\n".join(found)
