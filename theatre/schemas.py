"""The theatre API's requests and responses."""

from __future__ import annotations
