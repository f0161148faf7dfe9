"""``sensor_alerts``: the alert rules of the sensor registry, evaluated after every ingestion run."""

import datetime as dt
from collections.abc import Iterable
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    asset,
)

from iot_platform.assets.sensor_readings import REJECTED_READINGS, SENSOR_READINGS, SPARK_POOL
from iot_platform.clients.spark import application_id
from iot_platform.pipelines.sensor_alerts.episodes import Episode
from iot_platform.pipelines.sensor_alerts.run import AlertsResult, run_evaluation, summary
from iot_platform.registry import RuleName, SensorRegistry
from iot_platform.resources.iceberg import IcebergResource
from iot_platform.resources.spark import SparkResource
from iot_platform.resources.spark_master import SparkMasterResource

SENSOR_ALERTS = AssetKey("sensor_alerts")

RULE_CHECKS: dict[RuleName, str] = {rule: f"{rule.value}_alerts" for rule in RuleName}
"""The asset check of each rule family (``threshold_alerts``, ``stuck_alerts``, ...)."""

CHECK_DESCRIPTIONS: dict[RuleName, str] = {
    RuleName.THRESHOLD: "No sensor is outside its alarm limits (warns while a threshold alert is open).",
    RuleName.STUCK: "No sensor repeats the same value (warns while a stuck alert is open).",
    RuleName.SILENT: "Every sensor seen reports within its silent limit (warns while a silent alert is open).",
    RuleName.RATE_OF_CHANGE: "No sensor changes faster than its limit (warns while such an alert is open).",
    RuleName.UNKNOWN_SENSOR: "Every sensor on the topic is in the registry (warns while one is not).",
    RuleName.REJECTED_BURST: "No sensor sends mostly malformed records (warns while a burst alert is open).",
}

DESCRIPTION = (
    "Alert episodes of the sensors (Iceberg `iot.sensor_alerts`, one row per episode with a deterministic id) and "
    "their last readings (`iot.sensor_state`). Every ingestion run evaluates the registry's rules (threshold, "
    "stuck, silent, rate_of_change, unknown_sensor, rejected_burst) over the readings it committed plus the "
    "look-back they need; re-running changes nothing, and late readings extend or resolve the episodes they fall in. "
    "`silent` fires even when no new reading arrived. The checks warn while alerts of their rule are open."
)


def check_results(open_alerts: Iterable[Episode]) -> list[AssetCheckResult]:
    """One WARN check per rule family: failing while alerts of that rule are open (pure: unit-tested)."""
    by_rule: dict[str, list[str]] = {rule.value: [] for rule in RuleName}
    for alert in open_alerts:
        by_rule.setdefault(str(alert["rule"]), []).append(str(alert["sensor_id"]))
    return [
        AssetCheckResult(
            asset_key=SENSOR_ALERTS,
            check_name=RULE_CHECKS[rule],
            passed=not by_rule[rule.value],
            severity=AssetCheckSeverity.WARN,
            metadata={"open_alerts": len(by_rule[rule.value]), "sensor_ids": ", ".join(sorted(by_rule[rule.value]))},
        )
        for rule in RuleName
    ]


def result_metadata(result: AlertsResult, app_id: str) -> dict[str, Any]:
    """Numbers the UI plots for an evaluation: open alerts by rule and severity (zeros included), episodes written,
    sensors evaluated and seconds per step."""
    counts = summary(result)
    zeros = {f"open_{rule.value}": 0 for rule in RuleName}
    zeros.update({f"open_{severity}": 0 for severity in ("critical", "warning", "info")})
    return {
        **zeros,
        **counts,
        **{f"seconds_{step}": seconds for step, seconds in result.seconds.items()},
        "seconds": round(sum(result.seconds.values()), 2),
        "spark_app_id": app_id,
    }


def evaluation_time(context: AssetExecutionContext) -> dt.datetime:
    """The run's start: ingestion read the topic after it, so no reading still in Kafka is older than this."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    if record is not None and record.start_time is not None:
        return dt.datetime.fromtimestamp(record.start_time, dt.UTC)
    return dt.datetime.now(dt.UTC)


def build_sensor_alerts_asset(registry: SensorRegistry) -> AssetsDefinition:
    """The ``sensor_alerts`` asset evaluating ``registry``'s rules, with its checks."""

    @asset(
        key=SENSOR_ALERTS,
        deps=[SENSOR_READINGS, REJECTED_READINGS],
        description=DESCRIPTION,
        check_specs=[
            AssetCheckSpec(RULE_CHECKS[rule], asset=SENSOR_ALERTS, description=CHECK_DESCRIPTIONS[rule])
            for rule in RuleName
        ],
        pool=SPARK_POOL,
        kinds={"iceberg", "spark"},
        group_name="monitoring",
    )
    def sensor_alerts(
        context: AssetExecutionContext,
        spark: SparkResource,
        spark_master: SparkMasterResource,
        iceberg: IcebergResource,
    ) -> MaterializeResult:
        """Evaluate the alert rules over what ingestion committed (see the asset description)."""
        spark_master.require_alive()
        evaluated_at = evaluation_time(context)
        with spark.session("alerts", context.run.run_id, context.instance) as session:
            app_id = application_id(session)
            result = run_evaluation(
                session,
                iceberg.catalog(),
                registry,
                evaluated_at=evaluated_at,
                run_id=context.run.run_id,
                log=context.log.info,
            )
        return MaterializeResult(
            metadata=result_metadata(result, app_id), check_results=check_results(result.open_alerts)
        )

    return sensor_alerts
