"""shared.views.CatalogueQueries, once, over any store of the views: a store gives a
document by key (``_get``) and a filtered, sorted page of a view (``_find``, with a
filter of equalities and ``$in`` only, which ``matches`` reads the same way in memory).
Documents are shaped as projections/catalogue_shapes.py describes."""

from __future__ import annotations

from typing import Any

from projections.catalogue_layouts import layout_key
from projections.catalogue_shapes import show_detail, show_entry, theatre_entry
from projections.common import fold_case

Filter = dict[str, Any]  # field -> value, or field -> {"$in": [values]}
Order = list[tuple[str, int]]  # ascending fields; the last one is _id, so an order is total

SHOW_ORDER: Order = [("starts_at", 1), ("_id", 1)]
THEATRE_ORDER: Order = [("city_key", 1), ("name_key", 1), ("_id", 1)]


class CatalogueReads:
    def _get(self, view: str, key: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def _find(self, view: str, where: Filter, order: Order, offset: int,
              limit: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def shows(self, *, city: str | None = None, day: str | None = None,
              theatre_id: str | None = None, film: str | None = None,
              include_cancelled: bool = False, offset: int = 0,
              limit: int = 50) -> list[dict[str, Any]]:
        """Shows by start (UTC), then id. ``city`` and ``film`` match the whole name or
        title, in any case; ``day`` is the local date (YYYY-MM-DD)."""
        _check_page(offset, limit)
        where: Filter = {"status": {"$in": ["SCHEDULED", "CANCELLED"]}
                         if include_cancelled else "SCHEDULED"}
        for field, value in (("city_key", city and fold_case(city)), ("day", day),
                             ("theatre_id", theatre_id), ("title_key", film and fold_case(film))):
            if value is not None:
                where[field] = value
        return [show_entry(d) for d in self._find("catalogue_shows", where, SHOW_ORDER,
                                                  offset, limit)]

    def show(self, show_id: str) -> dict[str, Any] | None:
        """A scheduled or cancelled show with every seat; None if not scheduled (yet)."""
        doc = self._get("catalogue_shows", show_id)
        if doc is None or doc["status"] is None:
            return None
        layout = self._get("catalogue_layouts",
                           layout_key(doc["theatre_id"], doc["screen_id"], doc["layout_version"]))
        return show_detail(doc, layout)

    def theatres(self, *, city: str | None = None, offset: int = 0,
                 limit: int = 50) -> list[dict[str, Any]]:
        """Registered theatres by city, then name (in any case), then id."""
        _check_page(offset, limit)
        where: Filter = {"registered": True}
        if city is not None:
            where["city_key"] = fold_case(city)
        return [theatre_entry(d) for d in self._find("catalogue_theatres", where,
                                                     THEATRE_ORDER, offset, limit)]

    def theatre(self, theatre_id: str) -> dict[str, Any] | None:
        doc = self._get("catalogue_theatres", theatre_id)
        return theatre_entry(doc) if doc is not None and doc["registered"] else None


def _check_page(offset: int, limit: int) -> None:
    # limit 0 would be "no limit" to MongoDB: refused rather than read as everything
    if offset < 0 or limit < 1:
        raise ValueError(f"offset must be 0 or more and limit 1 or more (got {offset}, {limit})")


def matches(doc: dict[str, Any], where: Filter) -> bool:
    """Whether a document passes a filter, as MongoDB would decide it."""
    for field, wanted in where.items():
        value = doc.get(field)
        if isinstance(wanted, dict):
            if value not in wanted["$in"]:
                return False
        elif value != wanted:
            return False
    return True


def page(docs: list[dict[str, Any]], where: Filter, order: Order, offset: int,
         limit: int) -> list[dict[str, Any]]:
    """In memory, what ``_find`` asks of MongoDB."""
    chosen = [d for d in docs if matches(d, where)]
    chosen.sort(key=lambda d: tuple(d[f] for f, _ in order))
    return chosen[offset : offset + limit]
