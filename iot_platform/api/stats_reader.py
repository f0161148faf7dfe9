"""Rows of ``iot.hourly_stats`` through pyiceberg: filters pushed into the scan, sorted, paged by a cursor.

Every filter becomes part of the scan's ``row_filter``, so Iceberg prunes by partition (day of ``window_start``
and ``sensor_type``) and column statistics before a file is opened, and pyarrow applies the residual per row.
Pages are ordered by (``window_start``, ``sensor_id``); the cursor of the next page is the last row's key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from iot_platform.api.errors import InvalidQuery
from iot_platform.api.validation import DATE, HOUR_OF_DAY
from iot_platform.errors import ServiceUnavailable
from iot_platform.instants import as_utc
from iot_platform.tables import HOURLY_STATS, HOURLY_STATS_COLUMNS

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table

    from iot_platform.settings import Settings

COLUMNS = HOURLY_STATS_COLUMNS
"""The contract's columns of ``iot.hourly_stats``, in order; later columns are not served."""

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1_000
PAGE_CACHE_ENTRIES = 128
"""Pages kept per reader, keyed by (table snapshot, query): a snapshot never changes, so neither does its page."""
PAGE_CACHE_MAX_ROWS = 2_000
"""Larger pages are not kept (the cache stays under a few hundred thousand rows)."""
MAX_SENSOR_ID_LENGTH = 200
"""Longest ``sensor_id`` (and other id filter) the API takes, in a query parameter or a cursor."""


@dataclass(frozen=True)
class Cursor:
    """Position after the last row of a page: its (``window_start``, ``sensor_id``)."""

    window_start: dt.datetime
    sensor_id: str

    def encode(self) -> str:
        """An opaque, URL-safe token for the ``cursor`` query parameter."""
        payload = json.dumps([self.window_start.astimezone(dt.UTC).isoformat(), self.sensor_id]).encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Read a token made by :meth:`encode`; any other text is refused, never an unexpected error.

        Raises:
            InvalidQuery: the token was not made by :meth:`encode` (undecodable, wrong shape, an instant outside
                what UTC can hold, a sensor id that is not text of at most :data:`MAX_SENSOR_ID_LENGTH` characters).
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            window_start, sensor_id = json.loads(raw)
            parsed = dt.datetime.fromisoformat(window_start)
            if not isinstance(sensor_id, str) or parsed.tzinfo is None or len(sensor_id) > MAX_SENSOR_ID_LENGTH:
                raise ValueError("bad cursor fields")
            sensor_id.encode("utf-8")  # a lone surrogate cannot reach the scan
            return cls(parsed.astimezone(dt.UTC), sensor_id)
        except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error):
            raise InvalidQuery(
                "cursor is not a cursor this API handed out: pass the value of X-Next-Cursor unchanged"
            ) from None


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
        if self.start is not None and self.end is not None and utc(self.start) >= utc(self.end):
            raise InvalidQuery(f"start {_iso(self.start)} is not before end {_iso(self.end)}: give an earlier start")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit {self.limit} is outside 1..{MAX_LIMIT}")


@dataclass(frozen=True)
class StatsPage:
    """One page of rows (column name -> value) and the cursor of the next page, if there is one."""

    rows: list[dict[str, Any]]
    next_cursor: Cursor | None


class HourlyStatsReader(Protocol):
    """What the API reads statistics through. :class:`IcebergHourlyStatsReader` is the real one."""

    def read(self, query: StatsQuery) -> StatsPage:
        """One page of rows matching the query, ordered by (``window_start``, ``sensor_id``).

        Raises:
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        ...


def utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; naive values are taken as UTC.

    Raises:
        InvalidQuery: the instant lies outside what a UTC datetime can hold (years 1..9999).
    """
    return as_utc(value, InvalidQuery)


INSTANT_PATTERN = f"^{DATE}T{HOUR_OF_DAY}:[0-5][0-9](:[0-5][0-9](\\.[0-9]{{1,6}})?)?(Z|[+-]{HOUR_OF_DAY}:[0-5][0-9])?$"
"""An ISO-8601 instant as the ``start``/``end`` query parameters take it (years 1..9999, real months, hours,
minutes, offsets); without an offset it is UTC."""


def _iso(value: dt.datetime) -> str:
    return utc(value).isoformat()


def _predicate(kind: Any, column: str, value: Any) -> BooleanExpression:
    """``kind(column, value)``: pyiceberg's predicates take a column name and a literal (its pydantic models hide
    that constructor from type checkers)."""
    predicate: BooleanExpression = kind(column, value)
    return predicate


def row_filter(query: StatsQuery) -> BooleanExpression:
    """The pyiceberg filter for a query: equality on the ids, the half-open time window, the cursor."""
    from pyiceberg.expressions import (
        AlwaysTrue,
        And,
        EqualTo,
        GreaterThan,
        GreaterThanOrEqual,
        LessThan,
        Or,
    )

    terms: list[BooleanExpression] = [
        _predicate(EqualTo, column, value)
        for column, value in (
            ("sensor_id", query.sensor_id),
            ("sensor_type", query.sensor_type),
            ("location", query.location),
        )
        if value is not None
    ]
    if query.start is not None:
        terms.append(_predicate(GreaterThanOrEqual, "window_start", _iso(query.start)))
    if query.end is not None:
        terms.append(_predicate(LessThan, "window_start", _iso(query.end)))
    if query.after is not None:
        after = _iso(query.after.window_start)
        terms.append(
            Or(
                _predicate(GreaterThan, "window_start", after),
                And(
                    _predicate(EqualTo, "window_start", after),
                    _predicate(GreaterThan, "sensor_id", query.after.sensor_id),
                ),
            )
        )
    expression: BooleanExpression = AlwaysTrue()
    for term in terms:
        expression = And(expression, term)
    return expression


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime):
        return utc(value)
    return value


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
    ) -> None:
        """Prepare a reader; nothing is opened until the first read.

        Args:
            settings: Where the catalog is (``settings.catalog_properties()``).
            ttl_s: How long a loaded table (its current snapshot) is reused before it is loaded again.
            catalog_factory: Opens the catalog (default: ``resources.iceberg.load_catalog(settings)``).
            clock: Monotonic seconds (tests only).
        """
        from iot_platform.clients.iceberg import load_catalog

        self._open_catalog = catalog_factory or (lambda: load_catalog(settings))
        self._catalog: Catalog | None = None
        self._table: Table | None = None
        self._loaded_at = 0.0
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._pages: OrderedDict[tuple[int, StatsQuery], StatsPage] = OrderedDict()
        self._pages_lock = threading.Lock()

    def _current_table(self) -> Table | None:
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        with self._lock:
            if self._table is not None and self._clock() - self._loaded_at < self._ttl_s:
                return self._table
            if self._catalog is None:
                self._catalog = self._open_catalog()
            try:
                self._table = self._catalog.load_table(HOURLY_STATS)
            except (NoSuchTableError, NoSuchNamespaceError):
                self._table = None  # no hour has been computed yet
            except Exception as exc:  # SQLAlchemy raises driver-specific errors; the user needs one message
                raise ServiceUnavailable(
                    "Iceberg catalog", f"loading {HOURLY_STATS}: {type(exc).__name__}: {exc}"
                ) from exc
            self._loaded_at = self._clock()
            return self._table

    def read(self, query: StatsQuery) -> StatsPage:
        """One page of rows matching the query (see :class:`StatsQuery`), oldest hour first.

        Raises:
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        expression = row_filter(query)
        table = self._current_table()
        snapshot = table.current_snapshot() if table is not None else None
        if table is None or snapshot is None:
            return StatsPage(rows=[], next_cursor=None)
        key = (snapshot.snapshot_id, query)
        with self._pages_lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                return page
        try:
            arrow = table.scan(
                row_filter=expression, selected_fields=COLUMNS, snapshot_id=snapshot.snapshot_id
            ).to_arrow()
        except OSError as exc:
            raise ServiceUnavailable("Iceberg warehouse", f"reading {HOURLY_STATS}: {exc}") from exc
        arrow = arrow.sort_by([("window_start", "ascending"), ("sensor_id", "ascending")])
        rows = [
            {column: _json_safe(row.get(column)) for column in COLUMNS}
            for row in arrow.slice(0, query.limit).to_pylist()
        ]
        more = arrow.num_rows > query.limit
        next_cursor = Cursor(rows[-1]["window_start"], rows[-1]["sensor_id"]) if more and rows else None
        page = StatsPage(rows=rows, next_cursor=next_cursor)
        if len(rows) <= PAGE_CACHE_MAX_ROWS:
            with self._pages_lock:
                self._pages[key] = page
                while len(self._pages) > PAGE_CACHE_ENTRIES:
                    self._pages.popitem(last=False)
        return page
