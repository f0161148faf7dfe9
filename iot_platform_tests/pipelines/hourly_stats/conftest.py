"""The transform tests' local Spark session, for the hourly_stats read-back tests."""

from iot_platform_tests.transforms.conftest import spark

__all__ = ["spark"]
