"""``hourly_stats``: AVG/MIN/MAX/STDDEV/COUNT per sensor and UTC hour, one partition per hour, built on Spark."""

import datetime as dt
from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    BackfillPolicy,
    Config,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
)
from pydantic import Field

from iot_platform.assets.sensor_readings import SENSOR_READINGS, SPARK_POOL, ingest, ingestion_metadata
from iot_platform.clients.spark import application_id
from iot_platform.pipelines.hourly_stats import HourlyResult, build_hourly_stats
from iot_platform.registry import PlausibleRanges, load_registry
from iot_platform.resources.iceberg import IcebergResource
from iot_platform.resources.kafka import KafkaResource
from iot_platform.resources.spark import SparkResource
from iot_platform.resources.spark_master import SparkMasterResource
from iot_platform.settings import Settings
from iot_platform.tables import HOURLY_STATS_TABLE, Table

HOURLY_STATS = AssetKey("hourly_stats")
LATE_DATA_TAG = "iot/late_data"
LATE_READINGS_TAG = "iot/late_readings"

CHECK_UNIQUE = "one_row_per_sensor_and_hour"
CHECK_NONEMPTY = "reading_count_positive"
CHECK_ORDERED = "min_le_avg_le_max"
CHECK_RANGE = "values_in_physical_range"
CHECK_RECONCILED = "counts_match_stored_readings"
CHECK_REJECTED = "rejected_ratio_below_threshold"


def preview_schema(table: Table, columns: tuple[str, ...]) -> TableSchema:
    """The Dagster preview schema of some of ``table``'s columns, with the contract's types."""
    return TableSchema(columns=[TableColumn(name, table.column(name).type.display_name) for name in columns])


PREVIEW_COLUMNS: tuple[str, ...] = tuple(
    name for name in HOURLY_STATS_TABLE.column_names if name not in ("window_end", "processed_at")
)
"""Columns of the run's preview: the hour, the sensor and its statistics."""
PREVIEW_SCHEMA = preview_schema(HOURLY_STATS_TABLE, PREVIEW_COLUMNS)


class HourlyStatsConfig(Config):
    """Options of an hourly_stats run."""

    ingest_first: bool = Field(
        True, description="Ingest new Kafka records before aggregating, so the hour is complete."
    )


def check_specs() -> list[AssetCheckSpec]:
    """The data checks every hourly_stats run evaluates over the hours it wrote."""
    return [
        AssetCheckSpec(CHECK_UNIQUE, asset=HOURLY_STATS, description="Exactly one row per (window_start, sensor_id)."),
        AssetCheckSpec(CHECK_NONEMPTY, asset=HOURLY_STATS, description="Every row counts at least one reading."),
        AssetCheckSpec(CHECK_ORDERED, asset=HOURLY_STATS, description="min_value <= avg_value <= max_value."),
        AssetCheckSpec(
            CHECK_RANGE,
            asset=HOURLY_STATS,
            description="Values lie inside each sensor type's physical range (the configured thresholds plus "
            "the largest excursion).",
        ),
        AssetCheckSpec(
            CHECK_RECONCILED,
            asset=HOURLY_STATS,
            description="The sum of reading_count equals the valid readings stored for the hours.",
        ),
        AssetCheckSpec(
            CHECK_REJECTED,
            asset=HOURLY_STATS,
            description="Rejected records stay under the configured share of the hour's records (warning).",
        ),
    ]


def physical_ranges(settings: Settings) -> PlausibleRanges:
    """Plausible value range per registered sensor and per sensor type, from the sensor registry's thresholds."""
    return load_registry(settings.sensor_registry).plausible_ranges()


def check_results(result: HourlyResult, rejected_ratio_warn: float) -> list[AssetCheckResult]:
    """Turn the numbers of a run into check results (pure: unit-tested)."""
    window = f"{result.start:%Y-%m-%d %H:%M}..{result.end:%Y-%m-%d %H:%M} UTC"
    total = result.stored_readings + result.rejected
    ratio = result.rejected / total if total else 0.0
    return [
        AssetCheckResult(
            check_name=CHECK_UNIQUE,
            passed=result.duplicate_keys == 0,
            metadata={"duplicate_keys": result.duplicate_keys, "window": window},
        ),
        AssetCheckResult(
            check_name=CHECK_NONEMPTY,
            passed=result.empty_rows == 0,
            metadata={"rows_without_readings": result.empty_rows, "window": window},
        ),
        AssetCheckResult(
            check_name=CHECK_ORDERED,
            passed=not result.disordered_rows,
            metadata={"violations": MetadataValue.json(result.disordered_rows), "window": window},
        ),
        AssetCheckResult(
            check_name=CHECK_RANGE,
            passed=not result.out_of_range,
            metadata={"rows_out_of_range": MetadataValue.json(result.out_of_range), "window": window},
        ),
        AssetCheckResult(
            check_name=CHECK_RECONCILED,
            passed=result.readings == result.stored_readings,
            metadata={
                "sum_reading_count": result.readings,
                "stored_readings": result.stored_readings,
                "window": window,
            },
            description=None
            if result.readings == result.stored_readings
            else f"hourly_stats counts {result.readings} readings but {result.stored_readings} are stored",
        ),
        AssetCheckResult(
            check_name=CHECK_REJECTED,
            passed=ratio <= rejected_ratio_warn,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "rejected": result.rejected,
                "valid": result.stored_readings,
                "ratio": round(ratio, 6),
                "threshold": rejected_ratio_warn,
            },
        ),
    ]


def result_metadata(result: HourlyResult, app_id: str) -> dict[str, Any]:
    """The materialization's metadata: counts, window, snapshot ids, the Spark application and a preview."""
    records = [TableRecord({k: v for k, v in row.items() if k in PREVIEW_COLUMNS}) for row in result.preview]
    return {
        "rows": result.rows,
        "readings": result.readings,
        "sensors": result.sensors,
        "rejected": result.rejected,
        "window_start": result.start.isoformat(),
        "window_end": result.end.isoformat(),
        "readings_snapshot_id": str(result.readings_snapshot_id or ""),
        "stats_snapshot_id": str(result.stats_snapshot_id or ""),
        "spark_app_id": app_id,
        "seconds": round(result.seconds, 2),
        "preview": MetadataValue.table(records=records, schema=PREVIEW_SCHEMA),
    }


def build_hourly_stats_asset(settings: Settings, partitions_def: PartitionsDefinition):  # type: ignore[no-untyped-def]
    """The hourly_stats asset for the configured partitions, freshness and checks."""

    @asset(
        key=HOURLY_STATS,
        partitions_def=partitions_def,
        deps=[SENSOR_READINGS],
        backfill_policy=BackfillPolicy.single_run(),
        check_specs=check_specs(),
        pool=SPARK_POOL,
        kinds={"iceberg", "spark"},
        group_name="statistics",
        freshness_policy=FreshnessPolicy.cron(
            deadline_cron=f"{min(59, settings.schedule_grace_minutes + 20)} * * * *",
            lower_bound_delta=dt.timedelta(hours=1),
        ),
    )
    def hourly_stats(
        context: AssetExecutionContext,
        config: HourlyStatsConfig,
        spark: SparkResource,
        spark_master: SparkMasterResource,
        kafka: KafkaResource,
        iceberg: IcebergResource,
    ) -> Iterator[MaterializeResult | AssetMaterialization]:
        """Hourly statistics per sensor (Iceberg `iot.hourly_stats`): average, minimum, maximum, sample standard
        deviation and count of the valid, de-duplicated readings of each UTC hour. Each run replaces exactly the
        rows of its hours in one commit, so re-runs and backfills never duplicate; hours that receive late readings
        are rebuilt automatically by the `late_data_sensor`."""
        window = context.partition_time_window
        start, end = window.start.astimezone(dt.UTC), window.end.astimezone(dt.UTC)
        spark_master.require_alive()
        late = context.run.tags.get(LATE_DATA_TAG) == "true"
        with spark.session("hourly_stats", context.run.run_id, context.instance) as session:
            app_id = application_id(session)
            if config.ingest_first:
                ingested = ingest(context, session, kafka, iceberg)
                if ingested.readings_in or ingested.gaps:
                    readings_meta, _ = ingestion_metadata(ingested, app_id)
                    yield AssetMaterialization(asset_key=SENSOR_READINGS, metadata=readings_meta)
            context.log.info(f"aggregating {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} UTC")
            result = build_hourly_stats(session, iceberg.catalog(), start, end, physical_ranges(settings))
        metadata = result_metadata(result, app_id)
        metadata["late_data_update"] = late
        if late:
            metadata["late_readings"] = int(context.run.tags.get(LATE_READINGS_TAG, "0") or 0)
        context.log.info(
            f"hourly_stats {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M}: {result.rows} rows from "
            f"{result.readings} readings in {result.seconds:.1f}s"
        )
        yield MaterializeResult(
            asset_key=HOURLY_STATS,
            metadata=metadata,
            check_results=check_results(result, settings.rejected_ratio_warn),
        )

    return hourly_stats
