"""Alert episodes of ``iot.sensor_alerts`` through pyiceberg: filters pushed into the scan, newest first, paged.

Every filter is part of the scan's ``row_filter``: ``end`` prunes the table's day partitions of ``started_at``,
the equality filters and ``start`` prune files by their column statistics. Pages are ordered by ``started_at``
descending, then ``alert_id``; the cursor of the next page is the last row's (``started_at``, ``alert_id``), so an
episode written or updated while a client pages never shifts the rows of later pages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iot_platform.api.iceberg_tables import (
    CatalogTables,
    SnapshotCache,
    all_of,
    is_null,
    iso,
    predicate,
    scan,
    snapshot_id,
)
from iot_platform.api.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Cursor,
    Order,
    Page,
    TablePages,
    after_cursor,
    check_window,
    equalities,
    page_of,
)
from iot_platform.tables import SENSOR_ALERTS, SENSOR_ALERTS_TABLE

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression

ALERT_COLUMNS: tuple[str, ...] = SENSOR_ALERTS_TABLE.column_names
"""Every column of ``iot.sensor_alerts``, in table order: what the API serves of an episode."""

ORDER: Order = (
    ("started_at", "descending"),
    ("alert_id", "ascending"),
)
"""Newest episode first; episodes that started at the same instant by id."""


@dataclass(frozen=True)
class AlertsQuery:
    """A request for alert episodes. ``start`` and ``end`` select the episodes that overlap the half-open window
    [start, end): started before ``end`` and not resolved before ``start`` (still open, or resolved at or after it).

    Raises:
        InvalidQuery: ``start`` is not before ``end``, or ``limit`` is outside 1..:data:`MAX_LIMIT`.
    """

    state: str | None = None
    """``open`` or ``resolved``; None: both."""
    sensor_id: str | None = None
    sensor_type: str | None = None
    location: str | None = None
    rule: str | None = None
    severity: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None

    def __post_init__(self) -> None:
        check_window(self.start, self.end, self.limit, MAX_LIMIT)


def alerts_filter(query: AlertsQuery) -> BooleanExpression:
    """The pyiceberg filter of a query: equality filters, the overlap with [start, end), the cursor."""
    from pyiceberg.expressions import GreaterThanOrEqual, LessThan, Or

    terms = equalities(
        (
            ("state", query.state),
            ("sensor_id", query.sensor_id),
            ("sensor_type", query.sensor_type),
            ("location", query.location),
            ("rule", query.rule),
            ("severity", query.severity),
        )
    )
    if query.end is not None:
        terms.append(predicate(LessThan, "started_at", iso(query.end)))
    if query.start is not None:
        terms.append(Or(is_null("resolved_at"), predicate(GreaterThanOrEqual, "resolved_at", iso(query.start))))
    if query.after is not None:
        terms.append(after_cursor(query.after, ORDER))
    return all_of(terms)


class IcebergAlertsReader:
    """Reads ``iot.sensor_alerts``; answers are kept per table snapshot (a new episode or update is a new one)."""

    def __init__(self, tables: CatalogTables) -> None:
        """Read through ``tables`` (the catalog's tables, shared with the API's other readers)."""
        self._tables = tables
        self._pages = TablePages(tables, SENSOR_ALERTS, ALERT_COLUMNS, ORDER)
        self._open: SnapshotCache[list[dict[str, Any]]] = SnapshotCache(entries=4)

    def read(self, query: AlertsQuery) -> Page:
        """One page of episodes matching the query, newest first; an empty page while the table does not exist.

        Raises:
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        return self._pages.read(alerts_filter(query), query, query.limit)

    def open_alerts(self) -> list[dict[str, Any]]:
        """Every open episode, newest first.

        Raises:
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        from pyiceberg.expressions import EqualTo

        table = self._tables.load(SENSOR_ALERTS)
        snapshot = snapshot_id(table)
        if table is None or snapshot is None:
            return []
        rows = self._open.get(snapshot)
        if rows is None:
            arrow = scan(table, snapshot, predicate(EqualTo, "state", "open"), ALERT_COLUMNS)
            rows = page_of(arrow, ALERT_COLUMNS, ORDER, max(arrow.num_rows, 1)).rows
            self._open.put(snapshot, rows)
        return rows
