"""``iot.hourly_stats`` on Spark: read an hour window of readings, aggregate it, MERGE it, read the checks' inputs."""

from iot_platform.pipelines.hourly_stats.result import HourlyResult
from iot_platform.pipelines.hourly_stats.run import build_hourly_stats

__all__ = ["HourlyResult", "build_hourly_stats"]
