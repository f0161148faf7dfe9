"""Writing an evaluation: ``iot.sensor_state`` first (an idempotent fold of the new readings' summaries, written
through pyiceberg: the table holds one small row per sensor), then the episodes of ``iot.sensor_alerts`` together
with the new watermark in one commit."""

from __future__ import annotations

import datetime as dt
import warnings
from typing import TYPE_CHECKING, Any, cast

from iot_platform import tables
from iot_platform.pipelines.sensor_alerts.episodes import Changes
from iot_platform.pipelines.sensor_alerts.plan import WATERMARK_KEY, Watermark
from iot_platform.pipelines.sensor_alerts.read import SensorSummary

if TYPE_CHECKING:
    from pyiceberg.table import Table


def folded_states(
    stored: list[dict[str, Any]], sensors: list[SensorSummary], updated_at: dt.datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Fold the new readings' per-sensor summaries into the rows of ``iot.sensor_state``.

    The earliest first reading and the latest last reading win (type, location, unit and value follow the latest),
    so folding the same readings again changes nothing.

    Returns:
        Every row after the fold, and the rows it changed or added.
    """
    rows = {row["sensor_id"]: row for row in stored}
    changed = []
    for s in sensors:
        latest = {"sensor_type": s.sensor_type, "location": s.location, "unit": s.unit, "last_value": s.last_value}
        span = {"first_reading_at": s.first_reading_at, "last_reading_at": s.last_reading_at}
        before = rows.get(s.sensor_id)
        if before is None:
            row = {"sensor_id": s.sensor_id, **latest, **span, "updated_at": updated_at}
        elif s.last_reading_at > before["last_reading_at"] or s.first_reading_at < before["first_reading_at"]:
            later = latest if s.last_reading_at > before["last_reading_at"] else {}
            span["first_reading_at"] = min(before["first_reading_at"], s.first_reading_at)
            span["last_reading_at"] = max(before["last_reading_at"], s.last_reading_at)
            row = {**before, **later, **span, "updated_at": updated_at}
        else:
            continue
        rows[s.sensor_id] = row
        changed.append(row)
    return list(rows.values()), changed


def write_states(table: Table, changed: list[dict[str, Any]]) -> None:
    """Replace the changed rows of ``iot.sensor_state`` (by sensor id) in one commit."""
    import pyarrow as pa
    from pyiceberg.expressions import In

    if not changed:
        return
    schema = tables.SENSOR_STATE_TABLE.iceberg_schema().as_arrow()
    frame = pa.Table.from_pylist([{name: row[name] for name in schema.names} for row in changed], schema=schema)
    replaced = cast(Any, In)("sensor_id", sorted(row["sensor_id"] for row in changed))  # positional, as documented
    with warnings.catch_warnings():
        # A new sensor has no row to replace.
        warnings.filterwarnings("ignore", message="Delete operation did not match any records")
        table.overwrite(frame, overwrite_filter=replaced)


def commit_episodes(table: Table, change: Changes, watermark: Watermark, run_id: str) -> None:
    """Replace the changed and deleted episodes and record ``watermark``, atomically (one catalog commit).

    Without a change a snapshot with no rows still records the watermark, so the next run starts after it.
    """
    import pyarrow as pa
    from pyiceberg.expressions import In

    properties = {WATERMARK_KEY: watermark.encode(), "iot.dagster-run-id": run_id}
    schema = tables.SENSOR_ALERTS_TABLE.iceberg_schema().as_arrow()
    rows = [{name: episode.get(name) for name in schema.names} for episode in change.upserts]
    with table.transaction() as tx:
        if change.replaced_ids:
            replaced = cast(Any, In)("alert_id", sorted(change.replaced_ids))  # positional, as pyiceberg documents
            with warnings.catch_warnings():
                # New episodes' ids are deleted too (a stored row may hold one the run did not read): no match is fine.
                warnings.filterwarnings("ignore", message="Delete operation did not match any records")
                tx.delete(replaced, snapshot_properties=properties)
        tx.append(pa.Table.from_pylist(rows, schema=schema), snapshot_properties=properties)
