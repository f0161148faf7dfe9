"""The alert notifier's decisions: which transitions are pending, in which order, what is skipped, what is sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dagster import DefaultSensorStatus, SkipReason, build_sensor_context

from iot_platform.definitions import build_definitions
from iot_platform.resources.iceberg import IcebergResource
from iot_platform.sensors.alert_notifier import (
    SENSOR_NAME,
    LogStatus,
    NotifierConfig,
    PendingTransition,
    Transition,
    build_alert_notifier,
    log_row,
    notification_payload,
    pending_transitions,
    send_in_order,
    split_stale,
    withdrawn_transitions,
)
from iot_platform.settings import load_settings
from iot_platform.tables import ALERT_NOTIFICATIONS_TABLE, SENSOR_ALERTS_TABLE
from iot_platform_tests.clients.webhook_receiver import WebhookReceiver

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


def alert(alert_id: str, started_min: int, resolved_min: int | None = None, **extra: Any) -> dict[str, Any]:
    """An ``iot.sensor_alerts`` row starting ``started_min`` minutes after T0."""
    started = T0 + dt.timedelta(minutes=started_min)
    resolved = None if resolved_min is None else T0 + dt.timedelta(minutes=resolved_min)
    row: dict[str, Any] = {
        "alert_id": alert_id,
        "sensor_id": f"TEMP-{alert_id}",
        "sensor_type": "temperature",
        "location": "factory-A",
        "rule": "threshold",
        "severity": "critical",
        "state": "open" if resolved is None else "resolved",
        "started_at": started,
        "last_seen_at": resolved or started,
        "resolved_at": resolved,
        "peak_value": 92.25,
        "threshold": 85.0,
        "readings": 7,
        "detail": "above 85.0 for 7 readings",
        "evaluated_at": T0 + dt.timedelta(hours=2),
    }
    return row | extra


def keys(pending: list[PendingTransition]) -> list[tuple[str, str]]:
    return [(item.alert_id, item.transition.value) for item in pending]


def test_open_alerts_need_opened_and_resolved_ones_both_in_time_order() -> None:
    alerts = [alert("a", 30), alert("b", 0, resolved_min=40), alert("c", 10, resolved_min=20)]
    assert keys(pending_transitions(alerts, set())) == [
        ("b", "opened"),
        ("c", "opened"),
        ("c", "resolved"),
        ("a", "opened"),
        ("b", "resolved"),
    ]


def test_logged_transitions_are_not_pending_again() -> None:
    alerts = [alert("a", 0), alert("b", 5, resolved_min=9)]
    assert keys(pending_transitions(alerts, {("a", "opened"), ("b", "opened")})) == [("b", "resolved")]
    assert pending_transitions(alerts, {("a", "opened"), ("b", "opened"), ("b", "resolved")}) == []


def test_opened_goes_before_resolved_even_when_resolved_at_the_same_instant_or_earlier() -> None:
    same = alert("a", 10, resolved_min=10)
    skewed = alert("b", 10, resolved_min=5)  # a resolution stamped before the start is read as at the start
    assert keys(pending_transitions([same], set())) == [("a", "opened"), ("a", "resolved")]
    assert keys(pending_transitions([skewed], set())) == [("b", "opened"), ("b", "resolved")]


def test_an_alert_written_twice_counts_once_as_evaluated_last() -> None:
    older = alert("a", 0, evaluated_at=T0 + dt.timedelta(minutes=5))
    newer = alert("a", 0, resolved_min=8, evaluated_at=T0 + dt.timedelta(minutes=10))
    assert keys(pending_transitions([newer, older], set())) == [("a", "opened"), ("a", "resolved")]
    assert keys(pending_transitions([older, older], set())) == [("a", "opened")]


def test_transitions_older_than_the_max_age_are_stale() -> None:
    pending = pending_transitions([alert("a", 0, resolved_min=120), alert("b", 90)], set())
    stale, fresh = split_stale(pending, now=T0 + dt.timedelta(hours=25), max_age=dt.timedelta(hours=24))
    assert keys(stale) == [("a", "opened")]
    assert keys(fresh) == [("b", "opened"), ("a", "resolved")]


def test_the_payload_carries_every_alert_column_with_utc_instants() -> None:
    row = alert("a1b2", 0, resolved_min=15, peak_value=float("nan"))
    payload = notification_payload(PendingTransition(row, Transition.RESOLVED), T0 + dt.timedelta(hours=3))
    assert payload["notification_id"] == "a1b2:resolved"
    assert payload["transition"] == "resolved"
    assert payload["sent_at"] == "2026-11-24T13:00:00Z"
    assert list(payload["alert"]) == list(SENSOR_ALERTS_TABLE.column_names)
    assert payload["alert"]["started_at"] == "2026-11-24T10:00:00Z"
    assert payload["alert"]["resolved_at"] == "2026-11-24T10:15:00Z"
    assert payload["alert"]["peak_value"] is None  # NaN is no JSON
    assert payload["alert"]["threshold"] == 85.0 and payload["alert"]["readings"] == 7


def test_a_log_row_fills_the_notification_log_contract() -> None:
    item = PendingTransition(alert("a", 0), Transition.OPENED)
    row = log_row(item, LogStatus.DELIVERED, 2, T0)
    assert list(row) == list(ALERT_NOTIFICATIONS_TABLE.column_names)
    assert (row["alert_id"], row["transition"], row["status"], row["attempts"]) == ("a", "opened", "delivered", 2)


def test_an_opened_alert_the_table_no_longer_holds_is_withdrawn_now() -> None:
    logged = [
        {"alert_id": "gone", "sensor_id": "TEMP-1", "rule": "threshold", "recorded_at": T0},
        {"alert_id": "kept", "sensor_id": "TEMP-2", "rule": "stuck", "recorded_at": T0},
    ]
    now = T0 + dt.timedelta(hours=30)
    withdrawn = withdrawn_transitions(logged, stored_ids={"kept"}, now=now)
    assert keys(withdrawn) == [("gone", "withdrawn")]
    assert withdrawn[0].at == now  # found missing now: never stale, whatever the episode's age
    payload = notification_payload(withdrawn[0], now)
    assert payload["notification_id"] == "gone:withdrawn"
    assert (payload["alert"]["sensor_id"], payload["alert"]["rule"]) == ("TEMP-1", "threshold")
    assert payload["alert"]["started_at"] is None and payload["alert"]["state"] is None
    assert "re-evaluation" in payload["reason"]
    assert "reason" not in notification_payload(PendingTransition(alert("a", 0), Transition.OPENED), now)
    assert log_row(withdrawn[0], LogStatus.DELIVERED, 1, now)["transition"] == "withdrawn"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.close()


def config(url: str, **limits: Any) -> NotifierConfig:
    return NotifierConfig(url=url, timeout_s=2, attempts=2, max_age=dt.timedelta(hours=24), **limits)


def test_sending_stops_at_the_first_transition_that_fails(receiver: WebhookReceiver) -> None:
    pending = pending_transitions([alert("a", 0), alert("b", 1), alert("c", 2)], set())
    receiver.fail_next(1, status=503)  # the first is retried once and delivered
    with httpx.Client() as client:
        assert [row["alert_id"] for row in send_in_order(pending, config(receiver.url), client).rows] == ["a", "b", "c"]
        receiver.fail_always(500)
        sent = send_in_order(pending, config(receiver.url), client)
    assert sent.rows == [] and sent.failed is not None
    assert sent.failed[0].alert_id == "a" and sent.failed[1].error == "answered HTTP 500"
    assert [request.status for request in receiver.requests] == [503, 200, 200, 200, 500, 500]


def test_a_tick_sends_at_most_its_share(receiver: WebhookReceiver) -> None:
    pending = pending_transitions([alert(str(n), n) for n in range(5)], set())
    with httpx.Client() as client:
        sent = send_in_order(pending, config(receiver.url, max_sends=3), client)
        assert [row["alert_id"] for row in sent.rows] == ["0", "1", "2"] and sent.failed is None
        assert send_in_order(pending, config(receiver.url, budget_s=0.0), client).rows == []


def test_without_a_webhook_the_notifier_is_stopped_and_says_why() -> None:
    settings = load_settings()
    notifier = build_alert_notifier(settings)
    assert notifier.default_status is DefaultSensorStatus.STOPPED
    result = notifier(build_sensor_context(resources={"iceberg": IcebergResource.from_settings(settings)}))
    assert isinstance(result, SkipReason) and "IOT_ALERT_WEBHOOK_URL is not set" in (result.skip_message or "")


def test_with_a_webhook_the_notifier_runs_by_default_at_the_configured_interval() -> None:
    defs = build_definitions(load_settings(alert_webhook_url="http://hooks.test/x", alert_notify_interval_s=20))
    notifier = defs.resolve_sensor_def(SENSOR_NAME)
    assert notifier.default_status is DefaultSensorStatus.RUNNING
    assert notifier.minimum_interval_seconds == 20
    assert "iceberg" in notifier.required_resource_keys
