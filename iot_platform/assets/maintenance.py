"""Table maintenance assets: compaction (hourly) and housekeeping (daily) of the platform's Iceberg tables.

One asset per table and operation (``maintenance/sensor_readings_compaction``, ...), so each table's files, bytes,
snapshots and manifests are plotted over time in the asset's page.
"""

import datetime as dt
from collections.abc import Callable, Iterator

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, AssetSpec, MaterializeResult, multi_asset

from iot_platform import tables
from iot_platform.assets.hourly_stats import HOURLY_STATS
from iot_platform.assets.sensor_readings import REJECTED_READINGS, SENSOR_READINGS, SPARK_POOL
from iot_platform.clients.spark import application_id
from iot_platform.pipelines.maintenance import MaintenanceParams, MaintenanceReport, housekeep
from iot_platform.pipelines.maintenance.run import compact
from iot_platform.resources.iceberg import IcebergResource
from iot_platform.resources.spark import SparkResource
from iot_platform.resources.spark_master import SparkMasterResource
from iot_platform.settings import Settings

MAINTENANCE_GROUP = "maintenance"
TABLE_ASSETS: dict[str, AssetKey] = {
    tables.SENSOR_READINGS: SENSOR_READINGS,
    tables.HOURLY_STATS: HOURLY_STATS,
    tables.REJECTED_READINGS: REJECTED_READINGS,
}
"""The maintained tables and the assets they belong to."""

COMPACTION_DESCRIPTION = (
    "Compaction of `{table}`: the small files of closed {unit}s (older than the compaction delay) rewritten into "
    "files of the target size; a {unit} already compacted is left alone. Plots: data files and bytes before and "
    "after, the table's snapshots and manifests."
)
HOUSEKEEPING_DESCRIPTION = (
    "Housekeeping of `{table}`: manifests rewritten when they pile up, snapshots older than the kept age expired "
    "(at least the kept count stay{offsets}), then files no snapshot references removed once old enough. Plots: "
    "snapshots expired, orphan files removed, manifests, data files and bytes."
)


def compaction_key(table: str) -> AssetKey:
    """``maintenance/<table>_compaction``."""
    return AssetKey([MAINTENANCE_GROUP, f"{table.split('.')[-1]}_compaction"])


def housekeeping_key(table: str) -> AssetKey:
    """``maintenance/<table>_housekeeping``."""
    return AssetKey([MAINTENANCE_GROUP, f"{table.split('.')[-1]}_housekeeping"])


def _spec(key: AssetKey, table: str, description: str) -> AssetSpec:
    return AssetSpec(
        key,
        deps=[TABLE_ASSETS[table]],
        description=description,
        kinds={"iceberg", "spark"},
        group_name=MAINTENANCE_GROUP,
    )


def report_results(
    report: MaintenanceReport, key: Callable[[str], AssetKey], app_id: str
) -> Iterator[MaterializeResult]:
    """One materialization per maintained table with its figures."""
    for table in TABLE_ASSETS:
        meta = {**report.table_metadata(table), "seconds": round(report.seconds, 2), "spark_app_id": app_id}
        yield MaterializeResult(asset_key=key(table), metadata=meta)


def build_maintenance_assets(settings: Settings) -> list[AssetsDefinition]:
    """The compaction and housekeeping multi-assets, with the ``IOT_MAINTENANCE_*`` parameters."""
    params = MaintenanceParams.from_settings(settings)
    unit = {tables.SENSOR_READINGS: "hour", tables.HOURLY_STATS: "day", tables.REJECTED_READINGS: "day"}

    @multi_asset(
        name="compact_tables",
        specs=[_spec(compaction_key(t), t, COMPACTION_DESCRIPTION.format(table=t, unit=unit[t])) for t in TABLE_ASSETS],
        pool=SPARK_POOL,
    )
    def compact_tables(
        context: AssetExecutionContext,
        spark: SparkResource,
        spark_master: SparkMasterResource,
        iceberg: IcebergResource,
    ) -> Iterator[MaterializeResult]:
        """Compact the closed partitions of the platform's tables with Iceberg's rewrite_data_files."""
        spark_master.require_alive()
        with spark.session("maintenance", context.run.run_id, context.instance) as session:
            app_id = application_id(session)
            report = compact(session, iceberg.catalog(), params, now=dt.datetime.now(dt.UTC), log=context.log.info)
        yield from report_results(report, compaction_key, app_id)

    offsets = {tables.SENSOR_READINGS: ", and the newest snapshot carrying the Kafka offsets is always kept"}

    @multi_asset(
        name="housekeep_tables",
        specs=[
            _spec(housekeeping_key(t), t, HOUSEKEEPING_DESCRIPTION.format(table=t, offsets=offsets.get(t, "")))
            for t in TABLE_ASSETS
        ],
        pool=SPARK_POOL,
    )
    def housekeep_tables(
        context: AssetExecutionContext,
        spark: SparkResource,
        spark_master: SparkMasterResource,
        iceberg: IcebergResource,
    ) -> Iterator[MaterializeResult]:
        """Rewrite piled-up manifests, expire old snapshots and remove orphan files of the platform's tables."""
        spark_master.require_alive()
        with spark.session("maintenance", context.run.run_id, context.instance) as session:
            app_id = application_id(session)
            report = housekeep(session, iceberg.catalog(), params, now=dt.datetime.now(dt.UTC), log=context.log.info)
        yield from report_results(report, housekeeping_key, app_id)

    return [compact_tables, housekeep_tables]
