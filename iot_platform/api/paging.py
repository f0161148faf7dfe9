"""Cursor paging shared by the API's table endpoints (``/stats/hourly``, ``/alerts``).

A page holds at most ``limit`` rows in a fixed order; when more rows match, the answer carries the position after
its last row as an opaque token in the ``X-Next-Cursor`` header (and a ``Link`` header with rel="next"). The next
request passes it back as ``cursor`` and its rows start right after that position, so pages never repeat or skip a
row that was there when the first page was read.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Request, Response
from pydantic import TypeAdapter

from iot_platform.api.errors import InvalidQuery
from iot_platform.api.iceberg_tables import (
    CatalogTables,
    SnapshotCache,
    iso,
    json_safe,
    predicate,
    scan,
    snapshot_id,
    utc,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression

INSTANT_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
"""An ISO-8601 instant as the ``start``/``end`` query parameters take it; without an offset it is UTC."""

NEXT_CURSOR_HEADER = "X-Next-Cursor"
MAX_LIMIT = 10_000
"""Most rows one page may hold."""
DEFAULT_LIMIT = 1_000

PAGE_HEADERS: dict[str, Any] = {
    NEXT_CURSOR_HEADER: {
        "description": "Present when more rows match: pass it as `cursor` for the next page.",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The next page\'s URL with rel="next", when there is one.',
        "schema": {"type": "string"},
    },
}
"""The OpenAPI description of a paged answer's headers."""


Order = Sequence[tuple[str, Literal["ascending", "descending"]]]
"""Sort keys of a page: an instant column, then a string column that breaks ties (what a :class:`Cursor` holds)."""


@dataclass(frozen=True)
class Cursor:
    """Position after the last row of a page: the row's instant and its tie-breaking key (e.g. the hour and the
    sensor id of an hourly row, the start and the id of an alert)."""

    at: dt.datetime
    key: str

    def encode(self) -> str:
        """An opaque, URL-safe token for the ``cursor`` query parameter."""
        payload = json.dumps([self.at.astimezone(dt.UTC).isoformat(), self.key]).encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Read a token made by :meth:`encode`.

        Raises:
            InvalidQuery: the token was not made by :meth:`encode`.
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            at, key = json.loads(raw)
            parsed = dt.datetime.fromisoformat(at)
            if not isinstance(key, str) or parsed.tzinfo is None:
                raise ValueError("bad cursor fields")
        except (ValueError, TypeError, binascii.Error):
            raise InvalidQuery(
                "cursor is not a cursor this API handed out: pass the value of X-Next-Cursor unchanged"
            ) from None
        return cls(parsed.astimezone(dt.UTC), key)


@dataclass(frozen=True)
class Page:
    """One page of rows (column name -> value) and the cursor of the next page, if there is one."""

    rows: list[dict[str, Any]]
    next_cursor: Cursor | None


def check_window(start: dt.datetime | None, end: dt.datetime | None, limit: int, max_limit: int) -> None:
    """Refuse a time window that is empty or reversed, and a page size outside 1..``max_limit``.

    Raises:
        InvalidQuery: ``start`` is not before ``end``, or ``limit`` is out of range.
    """
    if start is not None and end is not None and utc(start) >= utc(end):
        raise InvalidQuery(f"start {iso(start)} is not before end {iso(end)}: give an earlier start")
    if not 1 <= limit <= max_limit:
        raise InvalidQuery(f"limit {limit} is outside 1..{max_limit}")


def page_of(arrow: pa.Table, columns: Sequence[str], order: Order, limit: int) -> Page:
    """The first ``limit`` rows of ``arrow`` in ``order``, and a cursor after the last when more rows follow.

    The cursor holds the last row's values of the first two ``order`` columns: an instant, then a string key.
    """
    ordered = arrow.sort_by([(column, direction) for column, direction in order])
    rows = [{column: json_safe(row.get(column)) for column in columns} for row in ordered.slice(0, limit).to_pylist()]
    more = ordered.num_rows > limit
    (at, _), (key, _) = order[0], order[1]
    return Page(rows=rows, next_cursor=Cursor(rows[-1][at], rows[-1][key]) if more and rows else None)


def equalities(pairs: Iterable[tuple[str, Any]]) -> list[BooleanExpression]:
    """``column == value`` for each pair whose value is given (not None)."""
    from pyiceberg.expressions import EqualTo

    return [predicate(EqualTo, column, value) for column, value in pairs if value is not None]


def after_cursor(cursor: Cursor, order: Order) -> BooleanExpression:
    """The rows that come after ``cursor`` in ``order`` (its first two keys)."""
    from pyiceberg.expressions import And, EqualTo, GreaterThan, LessThan, Or

    (at_column, direction), (key_column, _) = order[0], order[1]
    later = GreaterThan if direction == "ascending" else LessThan
    at = iso(cursor.at)
    return Or(
        predicate(later, at_column, at),
        And(predicate(EqualTo, at_column, at), predicate(GreaterThan, key_column, cursor.key)),
    )


class TablePages:
    """Pages of one table: rows matching a filter, sorted, cut at the limit, kept per table snapshot and query."""

    def __init__(
        self, tables: CatalogTables, name: str, columns: Sequence[str], order: Order, *, max_cached_rows: int = 2_000
    ) -> None:
        """Read ``columns`` of table ``name`` through ``tables``, in ``order``; larger pages than ``max_cached_rows``
        are not kept."""
        self._tables = tables
        self._name = name
        self._columns = tuple(columns)
        self._order = order
        self._max_cached_rows = max_cached_rows
        self._pages: SnapshotCache[Page] = SnapshotCache()

    def read(self, row_filter: BooleanExpression, query: Hashable, limit: int) -> Page:
        """The first ``limit`` rows matching ``row_filter`` (``query`` names the request for the cache); an empty
        page while the table does not exist or has no snapshot.

        Raises:
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        table = self._tables.load(self._name)
        snapshot = snapshot_id(table)
        if table is None or snapshot is None:
            return Page(rows=[], next_cursor=None)
        key = (snapshot, query)
        page = self._pages.get(key)
        if page is None:
            page = page_of(scan(table, snapshot, row_filter, self._columns), self._columns, self._order, limit)
            if len(page.rows) <= self._max_cached_rows:
                self._pages.put(key, page)
        return page


def paged_response(adapter: TypeAdapter[Any], page: Page, request: Request) -> Response:
    """A JSON answer of one page of rows, validated by ``adapter``, with the next page's headers when there is one."""
    headers = {}
    if page.next_cursor is not None:
        token = page.next_cursor.encode()
        headers[NEXT_CURSOR_HEADER] = token
        headers["Link"] = f'<{request.url.include_query_params(cursor=token)}>; rel="next"'
    return Response(
        adapter.dump_json(adapter.validate_python(page.rows)), media_type="application/json", headers=headers
    )
