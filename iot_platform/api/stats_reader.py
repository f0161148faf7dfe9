"""Rows of ``iot.hourly_stats`` through pyiceberg: filters pushed into the scan, sorted, paged by a cursor.

Every filter becomes part of the scan's ``row_filter``, so Iceberg prunes by partition (day of ``window_start``
and ``sensor_type``) and column statistics before a file is opened, and pyarrow applies the residual per row.
Pages are ordered by (``window_start``, ``sensor_id``); the cursor of the next page is the last row's key.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from iot_platform.api.iceberg_tables import CatalogTables, all_of, iso, predicate, utc
from iot_platform.api.paging import (
    DEFAULT_LIMIT,
    INSTANT_PATTERN,
    MAX_LIMIT,
    Cursor,
    Order,
    Page,
    TablePages,
    after_cursor,
    check_window,
    equalities,
)
from iot_platform.tables import HOURLY_STATS, HOURLY_STATS_COLUMNS

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.expressions import BooleanExpression

    from iot_platform.settings import Settings

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "INSTANT_PATTERN",
    "Cursor",
    "HourlyStatsReader",
    "IcebergHourlyStatsReader",
    "StatsPage",
    "StatsQuery",
    "row_filter",
    "utc",
]

COLUMNS = HOURLY_STATS_COLUMNS
"""The contract's columns of ``iot.hourly_stats``, in order; later columns are not served."""

PAGE_CACHE_MAX_ROWS = 2_000
"""Larger pages are not kept (the cache stays under a few hundred thousand rows)."""

StatsPage = Page
"""One page of ``iot.hourly_stats`` rows."""


@dataclass(frozen=True)
class StatsQuery:
    """A request for hourly statistics. ``start`` is inclusive and ``end`` exclusive, on ``window_start``.

    Raises:
        InvalidQuery: ``start`` is not before ``end``, or ``limit`` is outside 1..:data:`MAX_LIMIT`.
    """

    sensor_id: str | None = None
    sensor_type: str | None = None
    location: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None

    def __post_init__(self) -> None:
        check_window(self.start, self.end, self.limit, MAX_LIMIT)


class HourlyStatsReader(Protocol):
    """What the API reads statistics through. :class:`IcebergHourlyStatsReader` is the real one."""

    def read(self, query: StatsQuery) -> StatsPage:
        """One page of rows matching the query, ordered by (``window_start``, ``sensor_id``).

        Raises:
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        ...


ORDER: Order = (("window_start", "ascending"), ("sensor_id", "ascending"))


def row_filter(query: StatsQuery) -> BooleanExpression:
    """The pyiceberg filter for a query: equality on the ids, the half-open time window, the cursor."""
    from pyiceberg.expressions import GreaterThanOrEqual, LessThan

    terms = equalities(
        (("sensor_id", query.sensor_id), ("sensor_type", query.sensor_type), ("location", query.location))
    )
    if query.start is not None:
        terms.append(predicate(GreaterThanOrEqual, "window_start", iso(query.start)))
    if query.end is not None:
        terms.append(predicate(LessThan, "window_start", iso(query.end)))
    if query.after is not None:
        terms.append(after_cursor(query.after, ORDER))
    return all_of(terms)


class IcebergHourlyStatsReader:
    """Reads ``iot.hourly_stats`` from the platform's catalog. The table's metadata is reused for ``ttl_s``, and
    recent pages are kept per table snapshot, so dashboards polling the same query cost one scan per commit."""

    def __init__(
        self,
        settings: Settings,
        *,
        ttl_s: float = 1.0,
        catalog_factory: Callable[[], Catalog] | None = None,
        clock: Callable[[], float] = time.monotonic,
        tables: CatalogTables | None = None,
    ) -> None:
        """Prepare a reader; nothing is opened until the first read.

        Args:
            settings: Where the catalog is (``settings.catalog_properties()``).
            ttl_s: How long a loaded table (its current snapshot) is reused before it is loaded again.
            catalog_factory: Opens the catalog (default: ``clients.iceberg.load_catalog(settings)``).
            clock: Monotonic seconds (tests only).
            tables: The catalog's tables shared with other readers (then ``catalog_factory``, ``ttl_s`` and
                ``clock`` are not used).
        """
        from iot_platform.clients.iceberg import load_catalog

        tables = tables or CatalogTables(catalog_factory or (lambda: load_catalog(settings)), ttl_s=ttl_s, clock=clock)
        self._pages = TablePages(tables, HOURLY_STATS, COLUMNS, ORDER, max_cached_rows=PAGE_CACHE_MAX_ROWS)

    def read(self, query: StatsQuery) -> StatsPage:
        """One page of rows matching the query (see :class:`StatsQuery`), oldest hour first.

        Raises:
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        return self._pages.read(row_filter(query), query, query.limit)
