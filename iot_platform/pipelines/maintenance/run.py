"""Running maintenance over the platform's tables: compaction (hourly), then manifests, expiry and orphans (daily)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from iot_platform.pipelines.maintenance.compaction import COMPACTED_TABLES, compact_table
from iot_platform.pipelines.maintenance.files import table_files
from iot_platform.pipelines.maintenance.manifests import rewrite_manifests
from iot_platform.pipelines.maintenance.orphans import remove_orphan_files
from iot_platform.pipelines.maintenance.params import MaintenanceParams
from iot_platform.pipelines.maintenance.result import MaintenanceReport
from iot_platform.pipelines.maintenance.snapshots import expire_snapshots

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyspark.sql import SparkSession

MAINTAINED_TABLES = COMPACTED_TABLES
"""Tables whose snapshots, manifests and orphans are maintained (``sensor_alerts`` keeps its own watermark chain)."""


def compact(
    spark: SparkSession,
    catalog: Catalog,
    params: MaintenanceParams,
    *,
    now: dt.datetime,
    log: Callable[[str], None] = print,
    table_names: Sequence[str] = COMPACTED_TABLES,
) -> MaintenanceReport:
    """Compact the closed partitions of each table (the hourly part of maintenance)."""
    began = time.monotonic()
    results = tuple(compact_table(spark, t, params, now=now, log=log) for t in _existing(catalog, table_names, log))
    return MaintenanceReport(
        compactions=results,
        seconds=time.monotonic() - began,
        tables={r.table: r.after for r in results},
    )


def housekeep(
    spark: SparkSession,
    catalog: Catalog,
    params: MaintenanceParams,
    *,
    now: dt.datetime,
    log: Callable[[str], None] = print,
    table_names: Sequence[str] = MAINTAINED_TABLES,
    orphans: bool = True,
) -> MaintenanceReport:
    """Rewrite piled-up manifests, expire old snapshots, then remove orphan files (the daily part of maintenance).

    Manifests come first so the expiry also deletes the manifests they replaced.
    """
    began = time.monotonic()
    loaded = _existing(catalog, table_names, log)
    manifests = tuple(rewrite_manifests(spark, t, params, now=now, log=log) for t in loaded)
    expiries = tuple(expire_snapshots(spark, t, params, now=now, log=log) for t in loaded)
    removed = tuple(remove_orphan_files(spark, t, params, now=now, log=log) for t in loaded) if orphans else ()
    return MaintenanceReport(
        manifests=manifests,
        expiries=expiries,
        orphans=removed,
        seconds=time.monotonic() - began,
        tables={".".join(t.name()[-2:]): table_files(t) for t in loaded},
    )


def maintain(
    spark: SparkSession,
    catalog: Catalog,
    params: MaintenanceParams,
    *,
    now: dt.datetime,
    log: Callable[[str], None] = print,
    orphans: bool = True,
) -> MaintenanceReport:
    """All maintenance in order: compact, rewrite manifests, expire snapshots, remove orphan files.

    Args:
        spark: A session with the platform's catalog (``CALL <catalog>.system.*`` procedures).
        catalog: The same catalog through pyiceberg (file and snapshot figures, offsets snapshot).
        params: What to do (:class:`MaintenanceParams`, e.g. ``MaintenanceParams.from_settings(settings)``).
        now: The current time; a simulated clock may drive it (orphan removal never reaches past the real clock).
        log: Progress lines.
        orphans: Also look for orphan files (a listing of every table folder; skip it on frequent calls).

    Returns:
        Every operation's figures and each table's size at the end.
    """
    began = time.monotonic()
    compacted = compact(spark, catalog, params, now=now, log=log)
    kept = housekeep(spark, catalog, params, now=now, log=log, orphans=orphans)
    return MaintenanceReport(
        compactions=compacted.compactions,
        manifests=kept.manifests,
        expiries=kept.expiries,
        orphans=kept.orphans,
        seconds=time.monotonic() - began,
        tables=kept.tables,
    )


def _existing(catalog: Catalog, table_names: Sequence[str], log: Callable[[str], None]) -> list[Table]:
    """The named tables that exist (a fresh platform creates them on its first runs; until then there is nothing
    to maintain)."""
    found = []
    for name in table_names:
        if catalog.table_exists(name):
            found.append(catalog.load_table(name))
        else:
            log(f"{name} does not exist yet: nothing to maintain")
    return found
