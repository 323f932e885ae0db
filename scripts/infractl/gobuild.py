"""Servers built with Go from the Go module proxy (FerretDB, Mailpit): the toolchain, and a
binary built once into the shared cache, under a lock, moved into place only when whole."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from .procs import InfraError, locked


def go(server: str) -> str:
    """The ``go`` command (PATH, else /usr/local/go/bin)."""
    found = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(found, os.X_OK):
        raise InfraError(
            f"{server}: Go is not installed (looked in PATH and /usr/local/go/bin) "
            f"and the {server} binary is not cached yet"
        )
    return found


def go_env(**extra: str) -> dict[str, str]:
    # GOTOOLCHAIN=local: never try to download another Go toolchain (no network for it).
    return {**os.environ, "GOTOOLCHAIN": "local", **extra}


def ensure_built(binary: Path, build: Callable[[], None]) -> str:
    """Run ``build`` unless ``binary`` is cached; says which happened. Concurrent runs of
    every checkout on the machine wait for one another's build."""
    if binary.exists():
        return "cached"
    with locked(binary.parent.parent / ".lock"):
        if binary.exists():
            return "cached (built by a concurrent run)"
        build()
    return "built with Go"
