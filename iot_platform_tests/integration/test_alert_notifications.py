"""Alert notifications on the real stack: alert rows in the stack's Iceberg catalog, the ``alert_notifier`` sensor
evaluated against the stack's Dagster instance, and a real HTTP receiver counting what it gets."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context

from iot_platform.clients.iceberg import load_catalog
from iot_platform.errors import NotificationUndelivered
from iot_platform.resources.iceberg import IcebergResource
from iot_platform.sensors.alert_notifier import build_alert_notifier
from iot_platform.settings import Settings
from iot_platform.tables import ALERT_NOTIFICATIONS, SENSOR_ALERTS_TABLE
from iot_platform_tests.clients.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def alert(
    sensor_id: str, rule: str, started_minutes_ago: float, resolved_minutes_ago: float | None = None
) -> dict[str, Any]:
    """An ``iot.sensor_alerts`` row as alert evaluation writes it."""
    started = NOW - dt.timedelta(minutes=started_minutes_ago)
    resolved = None if resolved_minutes_ago is None else NOW - dt.timedelta(minutes=resolved_minutes_ago)
    return {
        "alert_id": hashlib.sha256(f"{rule}|{sensor_id}|{started.isoformat()}".encode()).hexdigest()[:32],
        "sensor_id": sensor_id,
        "sensor_type": "temperature",
        "location": "factory-N",
        "rule": rule,
        "severity": "critical" if rule == "threshold" else "warning",
        "state": "open" if resolved is None else "resolved",
        "started_at": started,
        "last_seen_at": (resolved or NOW) - dt.timedelta(seconds=30),
        "resolved_at": resolved,
        "peak_value": 91.5 if rule == "threshold" else None,
        "threshold": 85.0 if rule == "threshold" else None,
        "readings": 12,
        "detail": f"{rule} on {sensor_id}",
        "evaluated_at": NOW,
    }


def write_alerts(settings: Settings, rows: list[dict[str, Any]]) -> None:
    """Write rows into ``iot.sensor_alerts``, replacing the rows with the same ids (as re-evaluation does)."""
    import pyarrow as pa
    from pyiceberg.expressions import In

    catalog = load_catalog(settings)
    catalog.create_namespace_if_not_exists("iot")
    table = catalog.create_table_if_not_exists(
        SENSOR_ALERTS_TABLE.name,
        schema=SENSOR_ALERTS_TABLE.iceberg_schema(),
        partition_spec=SENSOR_ALERTS_TABLE.iceberg_partition_spec(),
    )
    data = pa.Table.from_pylist(rows, schema=SENSOR_ALERTS_TABLE.iceberg_schema().as_arrow())
    table.overwrite(data, overwrite_filter=In("alert_id", {row["alert_id"] for row in rows}))


def log_rows(settings: Settings, prefix: str) -> list[tuple[str, str, str]]:
    """``(sensor_id, transition, status)`` of the notification log's rows of this test's sensors."""
    rows = load_catalog(settings).load_table(ALERT_NOTIFICATIONS).scan().to_arrow().to_pylist()
    return sorted((r["sensor_id"], r["transition"], r["status"]) for r in rows if r["sensor_id"].startswith(prefix))


class Notifier:
    """The ``alert_notifier`` sensor of the stack's code location, ticked on demand with its cursor kept."""

    def __init__(self, settings: Settings, instance: DagsterInstance) -> None:
        self.sensor = build_alert_notifier(settings)
        self.instance = instance
        self.resources = {"iceberg": IcebergResource.from_settings(settings)}
        self.cursor: str | None = None

    def tick(self) -> str:
        context = build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.resources)
        result = self.sensor(context)
        if isinstance(result, SensorResult):
            self.cursor = result.cursor
            reason = result.skip_reason
            return reason.skip_message or "" if reason else ""
        assert isinstance(result, SkipReason)
        return result.skip_message or ""


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.close()


@pytest.fixture
def instance(stack_settings: Settings) -> Iterator[DagsterInstance]:
    with DagsterInstance.from_config(str(stack_settings.dagster_home)) as real_instance:
        yield real_instance


def mine(receiver: WebhookReceiver, prefix: str) -> list[tuple[str, str]]:
    """``(sensor_id, transition)`` of the accepted messages about this test's sensors, in arrival order."""
    return [
        (body["alert"]["sensor_id"], body["transition"])
        for body in receiver.accepted
        if body["alert"]["sensor_id"].startswith(prefix)
    ]


def test_each_transition_is_sent_once_and_a_later_resolution_once_more(
    stack_settings: Settings, instance: DagsterInstance, receiver: WebhookReceiver
) -> None:
    prefix = f"N{uuid.uuid4().hex[:6].upper()}"
    settings = stack_settings.model_copy(update={"alert_webhook_url": receiver.url})
    hot, frozen, spiky, old = (f"{prefix}-{n}" for n in ("HOT", "FROZEN", "SPIKY", "OLD"))
    hot_alert = alert(hot, "threshold", started_minutes_ago=20)
    write_alerts(
        settings,
        [
            hot_alert,
            alert(frozen, "stuck", started_minutes_ago=40),
            alert(spiky, "rate_of_change", started_minutes_ago=30, resolved_minutes_ago=10),
            alert(old, "silent", started_minutes_ago=26 * 60, resolved_minutes_ago=5),
        ],
    )
    notifier = Notifier(settings, instance)

    assert "0 pending" in notifier.tick()
    assert mine(receiver, prefix) == [
        (frozen, "opened"),
        (spiky, "opened"),
        (hot, "opened"),
        (spiky, "resolved"),
        (old, "resolved"),  # its opening is older than the max age: logged as skipped, not sent
    ]
    first = next(body for body in receiver.accepted if body["alert"]["sensor_id"] == hot)
    assert first["notification_id"] == f"{hot_alert['alert_id']}:opened"
    assert first["alert"]["started_at"] == hot_alert["started_at"].isoformat().replace("+00:00", "Z")
    assert first["alert"]["peak_value"] == 91.5 and first["alert"]["resolved_at"] is None
    assert receiver.requests[0].headers["Idempotency-Key"] == receiver.requests[0].body["notification_id"]
    assert (old, "opened", "skipped") in log_rows(settings, prefix)

    notifier.tick()
    Notifier(settings, instance).tick()  # no cursor: a restarted daemon reads the log, not its memory
    assert len(mine(receiver, prefix)) == 5

    write_alerts(settings, [{**hot_alert, "state": "resolved", "resolved_at": NOW, "evaluated_at": NOW}])
    notifier.tick()
    notifier.tick()
    assert mine(receiver, prefix)[5:] == [(hot, "resolved")]
    assert log_rows(settings, prefix).count((hot, "resolved", "delivered")) == 1


def test_a_receiver_failing_then_recovering_gets_each_transition_once(
    stack_settings: Settings, instance: DagsterInstance, receiver: WebhookReceiver
) -> None:
    prefix = f"N{uuid.uuid4().hex[:6].upper()}"
    settings = stack_settings.model_copy(update={"alert_webhook_url": receiver.url, "alert_webhook_attempts": 4})
    sensors = [f"{prefix}-{n}" for n in range(3)]
    write_alerts(settings, [alert(sensor_id, "threshold", 15 + n) for n, sensor_id in enumerate(sensors)])
    receiver.fail_next(2, status=503)
    receiver.fail_next(1, status=429)

    assert "3 transition(s) delivered" in Notifier(settings, instance).tick()
    assert sorted(mine(receiver, prefix)) == [(sensor_id, "opened") for sensor_id in sensors]
    assert [request.status for request in receiver.requests[:4]] == [503, 503, 429, 200]


def test_a_failing_receiver_fails_the_tick_until_it_recovers(
    stack_settings: Settings, instance: DagsterInstance, receiver: WebhookReceiver
) -> None:
    prefix = f"N{uuid.uuid4().hex[:6].upper()}"
    settings = stack_settings.model_copy(update={"alert_webhook_url": receiver.url, "alert_webhook_attempts": 2})
    sensors = [f"{prefix}-{n}" for n in range(2)]
    write_alerts(settings, [alert(sensor_id, "stuck", 50 - n) for n, sensor_id in enumerate(sensors)])
    notifier = Notifier(settings, instance)
    receiver.fail_always(500)

    with pytest.raises(NotificationUndelivered) as failure:
        notifier.tick()
    message = str(failure.value)
    assert "answered HTTP 500" in message and "after 2 attempt(s)" in message
    assert "127.0.0.1" in message and WebhookReceiver.SECRET not in message
    assert "pending" in message
    assert log_rows(settings, prefix) == []

    receiver.recover()
    notifier.tick()
    assert mine(receiver, prefix) == [(sensors[0], "opened"), (sensors[1], "opened")]
    assert log_rows(settings, prefix) == sorted((sensor_id, "opened", "delivered") for sensor_id in sensors)


def test_an_alert_that_re_evaluation_replaced_is_withdrawn_once_before_its_replacement_opens(
    stack_settings: Settings, instance: DagsterInstance, receiver: WebhookReceiver
) -> None:
    from pyiceberg.expressions import EqualTo

    prefix = f"W{uuid.uuid4().hex[:6].upper()}"
    settings = stack_settings.model_copy(update={"alert_webhook_url": receiver.url})
    sensor = f"{prefix}-HOT"
    first = alert(sensor, "threshold", started_minutes_ago=20)
    write_alerts(settings, [first])
    notifier = Notifier(settings, instance)
    notifier.tick()
    assert mine(receiver, prefix) == [(sensor, "opened")]

    # a late reading before the episode's start: re-evaluation replaces the episode by one with an earlier start
    earlier = alert(sensor, "threshold", started_minutes_ago=25)
    table = load_catalog(settings).load_table(SENSOR_ALERTS_TABLE.name)
    table.delete(EqualTo("alert_id", first["alert_id"]))
    write_alerts(settings, [earlier])
    notifier.tick()
    notifier.tick()
    Notifier(settings, instance).tick()  # a restarted daemon does not withdraw it again
    assert mine(receiver, prefix) == [(sensor, "opened"), (sensor, "withdrawn"), (sensor, "opened")]
    withdrawn = [body for body in receiver.accepted if body["transition"] == "withdrawn"]
    assert [body["notification_id"] for body in withdrawn] == [f"{first['alert_id']}:withdrawn"]
    assert withdrawn[0]["alert"]["rule"] == "threshold" and withdrawn[0]["alert"]["started_at"] is None
    assert "earlier start" in withdrawn[0]["reason"]
    opened = [body["alert"]["alert_id"] for body in receiver.accepted if body["transition"] == "opened"]
    assert opened == [first["alert_id"], earlier["alert_id"]]
    assert log_rows(settings, prefix).count((sensor, "withdrawn", "delivered")) == 1
