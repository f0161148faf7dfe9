"""``sensor_readings`` and ``rejected_readings``: exactly-once ingestion of the Kafka topic into Iceberg."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, multi_asset
from pydantic import Field

from iot_platform.assets.sensor_raw import SENSOR_RAW
from iot_platform.clients.spark import application_id
from iot_platform.pipelines.sensor_readings.result import IngestionResult
from iot_platform.pipelines.sensor_readings.run import run_ingestion
from iot_platform.resources.iceberg import IcebergResource
from iot_platform.resources.kafka import KafkaResource
from iot_platform.resources.spark import SparkResource
from iot_platform.resources.spark_master import SparkMasterResource

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SENSOR_READINGS = AssetKey("sensor_readings")
REJECTED_READINGS = AssetKey("rejected_readings")
SPARK_POOL = "spark"
"""Dagster concurrency pool of every Spark-backed step: one at a time on the two-core worker."""


class IngestConfig(Config):
    """Options of an ingestion run."""

    allow_retention_gap: bool = Field(
        False,
        description="Accept that Kafka deleted records never ingested (retention) and continue after the gap.",
    )
    fast_path: bool = Field(
        True,
        description="Read records in the canonical layout with the platform's Java reader; off, Spark's JSON "
        "functions parse every record (same result, slower).",
    )


READINGS_DESCRIPTION = (
    "Every valid, de-duplicated sensor reading (Iceberg `iot.sensor_readings`, partitioned by hour of event time). "
    "Each ingestion run reads the topic from the offsets recorded in the table's latest snapshot to the current end "
    "and commits the new rows together with the new offsets: exactly once, no checkpoint folder. A reading with a "
    "(sensor_id, timestamp) already stored is dropped as a duplicate."
)
REJECTED_DESCRIPTION = (
    "Every malformed Kafka record (Iceberg `iot.rejected_readings`) with its reason code, detail and "
    "topic/partition/offset; written once even when a run is retried."
)


def result_metadata(result: IngestionResult) -> dict[str, Any]:
    """Numbers the Dagster UI shows (and plots) for an ingestion run."""
    return {
        "readings_in": result.readings_in,
        "stored": result.stored,
        "duplicates_dropped": result.duplicates_in_batch + result.duplicates_already_stored,
        "duplicates_in_batch": result.duplicates_in_batch,
        "duplicates_already_stored": result.duplicates_already_stored,
        "rejected": result.rejected,
        "rejected_by_reason": result.rejected_by_reason,
        "offset_ranges": result.ranges,
        "next_offsets": {str(p): o for p, o in sorted(result.next_offsets.items())},
        "offsets_recovered_from_rows": result.offsets_recovered,
        "retention_gaps": result.gaps,
        "hours_touched": result.hours_touched,
        "readings_per_hour": result.readings_per_hour,
        "snapshot_id": str(result.snapshot_id) if result.snapshot_id is not None else "",
        "seconds": round(result.seconds, 2),
    }


def ingestion_metadata(result: IngestionResult, app_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metadata for ``sensor_readings`` and ``rejected_readings`` from one run."""
    readings = {**result_metadata(result), "spark_app_id": app_id}
    rejected = {
        "rejected": result.rejected,
        "rejected_new": result.rejected - result.rejected_already_stored,
        "rejected_by_reason": result.rejected_by_reason,
        "spark_app_id": app_id,
    }
    return readings, rejected


def ingest(
    context: AssetExecutionContext,
    session: "SparkSession",
    kafka: KafkaResource,
    iceberg: IcebergResource,
    *,
    allow_retention_gap: bool = False,
    fast_path: bool = True,
) -> IngestionResult:
    """Run ingestion in ``session`` for the run of ``context``, on the topic and catalog the resources name."""
    return run_ingestion(
        session,
        iceberg.catalog(),
        kafka.watermarks,
        topic=kafka.topic,
        bootstrap_servers=kafka.bootstrap_servers,
        run_id=context.run.run_id,
        allow_retention_gap=allow_retention_gap,
        fast_path=fast_path,
        log=context.log.info,
    )


@multi_asset(
    name="ingest_readings",
    specs=[
        AssetSpec(
            SENSOR_READINGS,
            deps=[SENSOR_RAW],
            description=READINGS_DESCRIPTION,
            kinds={"iceberg", "spark"},
            group_name="ingestion",
        ),
        AssetSpec(
            REJECTED_READINGS,
            deps=[SENSOR_RAW],
            description=REJECTED_DESCRIPTION,
            kinds={"iceberg", "spark"},
            group_name="ingestion",
        ),
    ],
    pool=SPARK_POOL,
)
def ingest_readings(
    context: AssetExecutionContext,
    config: IngestConfig,
    spark: SparkResource,
    spark_master: SparkMasterResource,
    kafka: KafkaResource,
    iceberg: IcebergResource,
) -> Iterator[MaterializeResult]:
    """Read new Kafka records with Spark, store valid readings and rejected records in Iceberg, exactly once."""
    spark_master.require_alive()
    with spark.session("ingest", context.run.run_id, context.instance) as session:
        app_id = application_id(session)
        result = ingest(
            context,
            session,
            kafka,
            iceberg,
            allow_retention_gap=config.allow_retention_gap,
            fast_path=config.fast_path,
        )
    readings, rejected = ingestion_metadata(result, app_id)
    yield MaterializeResult(asset_key=SENSOR_READINGS, metadata=readings)
    yield MaterializeResult(asset_key=REJECTED_READINGS, metadata=rejected)
