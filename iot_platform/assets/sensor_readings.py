"""``sensor_readings`` and ``rejected_readings``: exactly-once ingestion of the Kafka topic into Iceberg."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, multi_asset
from pydantic import Field

from iot_platform.assets.sensor_raw import SENSOR_RAW
from iot_platform.clients.spark_master import spark_app_name
from iot_platform.ingestion import IngestionResult, result_metadata, run_ingestion
from iot_platform.resources.spark import SparkResource
from iot_platform.resources.spark_master import SparkMasterResource

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
    context: AssetExecutionContext, config: IngestConfig, spark: SparkResource, spark_master: SparkMasterResource
) -> Iterator[MaterializeResult]:
    """Read new Kafka records with Spark, store valid readings and rejected records in Iceberg, exactly once."""
    settings = spark.settings()
    spark_master.require_alive()
    with spark.session(spark_app_name("ingest", context.run.run_id)) as session:
        app_id = session.sparkContext.applicationId
        result = run_ingestion(
            session, settings, context.run.run_id, allow_retention_gap=config.allow_retention_gap, log=context.log.info
        )
    readings, rejected = ingestion_metadata(result, app_id)
    yield MaterializeResult(asset_key=SENSOR_READINGS, metadata=readings)
    yield MaterializeResult(asset_key=REJECTED_READINGS, metadata=rejected)
