"""The postgres-s3 profile for real: PostgreSQL catalog, MinIO warehouse, Spark and pyiceberg on the same tables."""

from __future__ import annotations

import uuid

import httpx
import pytest

from iot_platform.clients.iceberg import load_catalog
from iot_platform.clients.spark import spark_session
from iot_platform.settings import Profile
from iot_platform.stack.stack import Stack
from iot_platform_tests.conftest import test_settings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_s3]


def test_postgres_s3_profile_serves_one_catalog_to_spark_and_pyiceberg() -> None:
    import pyarrow as pa

    settings = test_settings(
        "postgres-s3",
        profile="postgres-s3",
        postgres_password="test-catalog-password",
        s3_access_key="iot-test",
        s3_secret_key="test-object-store-secret",
        spark_master_port=27277,
        spark_master_web_port=28280,
        spark_worker_web_port=28281,
        spark_connect_port=25202,
        spark_connect_ui_port=24240,
        kafka_port=29392,
        kafka_controller_port=29393,
    )
    assert settings.profile is Profile.POSTGRES_S3
    stack = Stack(settings)
    only = ["postgres", "object-store", "spark-master", "spark-worker", "catalog"]
    try:
        stack.up(only=only)
        statuses = {status.name: status.state for status in stack.status() if status.name in only}
        assert statuses == {name: "healthy" for name in only}
        props = settings.catalog_properties()
        assert props["uri"].startswith("postgresql+psycopg2://") and props["warehouse"].startswith("s3://")

        suffix = uuid.uuid4().hex[:6]
        catalog = load_catalog(settings)
        py_table = f"iot.pg_py_{suffix}"
        catalog.create_table(py_table, schema=pa.schema([("id", pa.int64()), ("v", pa.float64())]))
        catalog.load_table(py_table).append(pa.table({"id": [1, 2], "v": [0.5, 1.5]}))

        spark_table = f"iot.pg_spark_{suffix}"
        with spark_session(settings, f"iot-platform:test:{suffix}") as spark:
            assert sorted(tuple(r) for r in spark.table(py_table).collect()) == [(1, 0.5), (2, 1.5)]
            spark.sql(f"CREATE TABLE {spark_table} (id bigint, name string) USING iceberg")
            spark.sql(f"INSERT INTO {spark_table} VALUES (10, 'ten'), (11, 'eleven')")

        table = catalog.load_table(spark_table)
        assert table.metadata_location.startswith(f"s3://{settings.s3_bucket}/")
        assert sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"]) == [
            {"id": 10, "name": "ten"},
            {"id": 11, "name": "eleven"},
        ]
        # The warehouse really is in the object store: MinIO answers for the bucket.
        assert httpx.get(f"{settings.s3_endpoint_url}/minio/health/live", timeout=5).status_code == 200
        catalog.drop_table(spark_table)
        catalog.drop_table(py_table)
    finally:
        stack.down()
    assert all(status.state == "stopped" for status in stack.status() if status.name != "catalog")
