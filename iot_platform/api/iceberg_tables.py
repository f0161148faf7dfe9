"""The platform's Iceberg tables as the API reads them (pyiceberg): the catalog opened on first use, each table's
metadata reused for a short while, scans whose failures name the engine, and answers kept per table snapshot.

A snapshot never changes, so an answer computed from one stays right until the table gets a new snapshot: readers
key their cached answers by the snapshot ids they read, and dashboards polling the same query cost one scan per
commit.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from iot_platform.api.errors import InvalidQuery
from iot_platform.errors import ServiceUnavailable
from iot_platform.instants import as_utc

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table

V = TypeVar("V")


def utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; naive values are taken as UTC.

    Raises:
        InvalidQuery: the instant lies outside what a UTC datetime can hold (years 1..9999).
    """
    return as_utc(value, InvalidQuery)


def iso(value: dt.datetime) -> str:
    """An instant as the ISO-8601 literal pyiceberg compares ``timestamptz`` columns with."""
    return utc(value).isoformat()


def predicate(kind: Any, column: str, value: Any) -> BooleanExpression:
    """``kind(column, value)``: pyiceberg's predicates take a column name and a literal (its pydantic models hide
    that constructor from type checkers)."""
    expression: BooleanExpression = kind(column, value)
    return expression


def is_null(column: str) -> BooleanExpression:
    """``column IS NULL`` (see :func:`predicate` for why it is built this way)."""
    from pyiceberg.expressions import IsNull

    null: Any = IsNull
    expression: BooleanExpression = null(column)
    return expression


def all_of(terms: Sequence[BooleanExpression]) -> BooleanExpression:
    """The conjunction of ``terms`` (always true when there are none)."""
    from pyiceberg.expressions import AlwaysTrue, And

    expression: BooleanExpression = AlwaysTrue()
    for term in terms:
        expression = And(expression, term)
    return expression


def json_safe(value: Any) -> Any:
    """A cell as JSON can carry it: non-finite numbers become null, instants aware UTC datetimes."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime):
        return utc(value)
    return value


class CatalogTables:
    """Loads the platform's tables from one catalog, each reused for ``ttl_s`` (its current snapshot with it)."""

    def __init__(
        self, open_catalog: Callable[[], Catalog], *, ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Prepare the loader; the catalog is opened on the first load.

        Args:
            open_catalog: Opens the catalog (e.g. ``clients.iceberg.load_catalog(settings)``).
            ttl_s: How long a loaded table is reused before it is loaded again.
            clock: Monotonic seconds (tests only).
        """
        self._open_catalog = open_catalog
        self._catalog: Catalog | None = None
        self._tables: dict[str, tuple[float, Table | None]] = {}
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()

    def load(self, name: str) -> Table | None:
        """The table ``name`` (e.g. ``iot.sensor_alerts``), or None while it does not exist yet.

        Raises:
            ServiceUnavailable: the catalog cannot be reached (asked again on the next load).
        """
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        with self._lock:
            loaded = self._tables.get(name)
            if loaded is not None and self._clock() - loaded[0] < self._ttl_s:
                return loaded[1]
            if self._catalog is None:
                self._catalog = self._open_catalog()
            table: Table | None
            try:
                table = self._catalog.load_table(name)
            except (NoSuchTableError, NoSuchNamespaceError):
                table = None  # nothing has been written to it yet
            except Exception as exc:  # SQLAlchemy raises driver-specific errors; the user needs one message
                raise ServiceUnavailable("Iceberg catalog", f"loading {name}: {type(exc).__name__}: {exc}") from exc
            self._tables[name] = (self._clock(), table)
            return table


def snapshot_id(table: Table | None) -> int | None:
    """The id of the table's current snapshot; None for a missing or empty table."""
    snapshot = table.current_snapshot() if table is not None else None
    return snapshot.snapshot_id if snapshot is not None else None


def scan(table: Table, snapshot: int, row_filter: BooleanExpression | str, columns: Sequence[str]) -> pa.Table:
    """Read ``columns`` of the rows matching ``row_filter`` at one snapshot (Iceberg prunes files first).

    Raises:
        ServiceUnavailable: the warehouse cannot be read.
    """
    try:
        return table.scan(row_filter=row_filter, selected_fields=tuple(columns), snapshot_id=snapshot).to_arrow()
    except OSError as exc:
        raise ServiceUnavailable("Iceberg warehouse", f"reading {'.'.join(table.name())}: {exc}") from exc


class SnapshotCache(Generic[V]):
    """Recent answers, keyed by the snapshot ids they were read at and the query; least recently used go first."""

    def __init__(self, entries: int = 128) -> None:
        self._entries = entries
        self._answers: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The answer kept for ``key``, if any."""
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: Hashable, answer: V) -> None:
        """Keep ``answer`` for ``key``."""
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self._entries:
                self._answers.popitem(last=False)
