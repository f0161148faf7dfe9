"""The transform tests' local Spark session, for the batch composition tests."""

from iot_platform_tests.transforms.conftest import spark

__all__ = ["spark"]
