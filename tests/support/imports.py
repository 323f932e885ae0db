"""What a Python file imports, read with ``ast`` (nothing is executed)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support.paths import ROOT


def imports(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, names) for each import statement of a file: the modules it names, and for
    ``from a import b`` also ``a.b`` (``b`` may be a module). Relative imports are
    resolved against the file's package."""
    inside = path.is_relative_to(ROOT)  # a file elsewhere: no package to resolve against
    package = path.relative_to(ROOT).with_suffix("").parts[:-1] if inside else ()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield node.lineno, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] if node.level else ())
            module = ".".join(p for p in (base, node.module or "") if p)
            yield node.lineno, [module, *(f"{module}.{alias.name}" for alias in node.names)]


def imported_roots(path: Path) -> set[str]:
    """The top-level packages a file imports from."""
    return {name.split(".")[0] for _, names in imports(path) for name in names}
