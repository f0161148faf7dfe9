"""Property-based fuzz of the OpenAPI schema (schemathesis) on fakes and a temporary Iceberg catalog holding a few
alerts, sensor states and readings: no input makes the API answer 5xx, every answer matches the documented status
codes, content types and schemas."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from iot_platform.api.cluster_cache import TimedReading
from iot_platform.api.deps import utc_now
from iot_platform.api.main import create_app
from iot_platform.tables import SENSOR_ALERTS, SENSOR_READINGS, SENSOR_STATE
from iot_platform_tests.api.conftest import AUTH, NOW, unit_settings
from iot_platform_tests.api.fakes import FakeConnectServer, FakeDagster, FakeMaster, FakeStats
from iot_platform_tests.api.monitoring_tables import alert, append, make_catalog, readings, state

MINUTE = dt.timedelta(minutes=1)
catalog = make_catalog(Path(tempfile.mkdtemp(prefix="iot-api-fuzz-")))
append(
    catalog, SENSOR_ALERTS, [alert("TEMP-001", "threshold", NOW - 9 * MINUTE), alert("ODD-1", "unknown_sensor", NOW)]
)
append(catalog, SENSOR_STATE, [state("TEMP-001", NOW - MINUTE, 21.0), state("ODD-1", NOW, 3.0)])
append(catalog, SENSOR_READINGS, readings("TEMP-001", [NOW - 3 * MINUTE, NOW - MINUTE]))
app = create_app(
    unit_settings(Path(tempfile.gettempdir()) / "iot-api-fuzz"),
    dagster=FakeDagster(),
    spark_master=FakeMaster(),
    stats_reader=FakeStats(),
    connect_server_id=FakeConnectServer(),
    catalog_factory=lambda: catalog,
)
app.dependency_overrides[utc_now] = lambda: NOW
app.state.clients.watermarks = TimedReading(lambda: {0: (0, 5), 1: (2, 2)})  # Kafka's answer, without a broker
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


def not_a_server_error(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> bool:
    """Every engine behind the fakes is up, so no answer may be 5xx."""
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where} answered {response.status_code}: {response.text[:300]}"
    return True


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers=AUTH,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            negative_data_rejection,
        ],
    )
