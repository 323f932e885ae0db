"""Theatres, screens with versioned seat layouts, and shows: no I/O."""

from __future__ import annotations
