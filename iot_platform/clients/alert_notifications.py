"""What the alert notifier reads and writes with pyiceberg (a plain client): the alert episodes that may still need a
transition sent, and ``iot.alert_notifications``, the log of the transitions already handled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from iot_platform.tables import ALERT_NOTIFICATIONS_TABLE, SENSOR_ALERTS_TABLE

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table

CLOCK_SKEW_MARGIN = dt.timedelta(days=1)
"""How much earlier than an alert's ``started_at`` (an event time, from the sensor's clock) its transitions may have
been logged; the log is read from that far back."""


def _predicate(kind: Any, column: str, value: Any) -> BooleanExpression:
    """``kind(column, value)``: pyiceberg's predicates take a column name and a literal (its pydantic models hide
    that constructor from type checkers)."""
    predicate: BooleanExpression = kind(column, value)
    return predicate


def _since(column: str, value: dt.datetime) -> BooleanExpression:
    """``column >= value`` for a timestamptz column."""
    from pyiceberg.expressions import GreaterThanOrEqual

    return _predicate(GreaterThanOrEqual, column, value.astimezone(dt.UTC).isoformat())


def alerts_table(catalog: Catalog) -> Table | None:
    """``iot.sensor_alerts``, or ``None`` while alert evaluation has not created it yet."""
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return catalog.load_table(SENSOR_ALERTS_TABLE.name)
    except (NoSuchTableError, NoSuchNamespaceError):
        return None


def recent_alerts(table: Table, since: dt.datetime) -> list[dict[str, Any]]:
    """The episodes that started or resolved at ``since`` or later: the only ones with a transition young enough to
    send.

    Args:
        table: ``iot.sensor_alerts``.
        since: Oldest transition time of interest (UTC).

    Returns:
        The rows, every column of the table's contract; timestamps as aware UTC datetimes.
    """
    from pyiceberg.expressions import Or

    row_filter = Or(_since("started_at", since), _since("resolved_at", since))
    rows: list[dict[str, Any]] = table.scan(row_filter=row_filter).to_arrow().to_pylist()
    return rows


def notifications_table(catalog: Catalog) -> Table:
    """``iot.alert_notifications``, created from its contract (as the Spark DDL would) when it does not exist."""
    table = ALERT_NOTIFICATIONS_TABLE
    namespace = table.name.split(".")[0]
    catalog.create_namespace_if_not_exists(namespace)
    return catalog.create_table_if_not_exists(
        table.name,
        schema=table.iceberg_schema(),
        partition_spec=table.iceberg_partition_spec(),
        properties={**dict(table.properties), "comment": table.comment},
    )


def logged_transitions(log: Table, alerts: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """The ``(alert_id, transition)`` pairs of ``alerts`` already in the notification log (delivered or skipped).

    Args:
        log: ``iot.alert_notifications``.
        alerts: Alert rows; only their ``alert_id`` and ``started_at`` are used.

    Returns:
        The logged pairs among those alerts' transitions.
    """
    from pyiceberg.expressions import And, In

    if not alerts:
        return set()
    ids = {str(alert["alert_id"]) for alert in alerts}
    oldest = min(alert["started_at"] for alert in alerts) - CLOCK_SKEW_MARGIN
    row_filter = And(_since("recorded_at", oldest), _predicate(In, "alert_id", ids))
    scan = log.scan(row_filter=row_filter, selected_fields=("alert_id", "transition"))
    return {(row["alert_id"], row["transition"]) for row in scan.to_arrow().to_pylist()}


def open_notifications(log: Table, since: dt.datetime) -> list[dict[str, Any]]:
    """Delivered ``opened`` transitions logged at ``since`` or later whose alert has no closing transition
    (``resolved`` or ``withdrawn``) logged: the alerts a receiver holds open.

    Args:
        log: ``iot.alert_notifications``.
        since: Oldest ``recorded_at`` read (UTC).

    Returns:
        Their log rows (``alert_id``, ``sensor_id``, ``rule``, ``recorded_at``).
    """
    fields = ("alert_id", "transition", "sensor_id", "rule", "status", "recorded_at")
    rows = log.scan(row_filter=_since("recorded_at", since), selected_fields=fields).to_arrow().to_pylist()
    closed = {row["alert_id"] for row in rows if row["transition"] != "opened"}
    return [
        row
        for row in rows
        if row["transition"] == "opened" and row["status"] == "delivered" and row["alert_id"] not in closed
    ]


def stored_alert_ids(table: Table, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` that ``iot.sensor_alerts`` holds."""
    from pyiceberg.expressions import In

    wanted = set(ids)
    if not wanted:
        return set()
    scan = table.scan(row_filter=_predicate(In, "alert_id", wanted), selected_fields=("alert_id",))
    return {row["alert_id"] for row in scan.to_arrow().to_pylist()}


def append_log(log: Table, rows: Iterable[Mapping[str, Any]]) -> int:
    """Append rows (every column of ``iot.alert_notifications``) to the log in one commit.

    Returns:
        Rows appended (no commit is made for none).
    """
    import pyarrow as pa

    batch = list(rows)
    if batch:
        log.append(pa.Table.from_pylist(batch, schema=ALERT_NOTIFICATIONS_TABLE.iceberg_schema().as_arrow()))
    return len(batch)
