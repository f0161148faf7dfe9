"""``alert_notifier``: posts one JSON message per alert transition (opened, resolved, withdrawn) to
``IOT_ALERT_WEBHOOK_URL``.

The transitions to send are derived, every tick, from what alert evaluation wrote to ``iot.sensor_alerts`` minus
what ``iot.alert_notifications`` already logs, so no transition is sent twice across ticks, re-evaluations or
restarts, and a receiver that was down gets everything it missed once it is back. An alert the receiver was told
about that re-evaluation removed (late readings gave the episode an earlier start, hence a new id, or made it vanish)
is ``withdrawn``, so no receiver keeps an alert open that the platform no longer has. A sensor, not a step of a run:
a slow or failing receiver never delays ingestion.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import httpx
from dagster import DefaultSensorStatus, SensorDefinition, SensorEvaluationContext, SensorResult, SkipReason, sensor

from iot_platform.clients.alert_notifications import (
    alerts_table,
    append_log,
    logged_transitions,
    notifications_table,
    open_notifications,
    recent_alerts,
    stored_alert_ids,
)
from iot_platform.clients.webhook import Delivery, post_json, redacted
from iot_platform.errors import NotificationUndelivered
from iot_platform.resources.iceberg import IcebergResource
from iot_platform.settings import Settings
from iot_platform.tables import SENSOR_ALERTS_TABLE

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

SENSOR_NAME = "alert_notifier"
MAX_SENDS_PER_TICK = 200
SEND_BUDGET_S = 20.0
"""No new message is started this long after sending began; what is left waits for the next tick."""
SEND_LIMIT_S = 40.0
"""No request (first attempt or retry) runs past this many seconds after sending began, so a tick ends well within
Dagster's 60 s sensor limit whatever the webhook timeout and attempts."""
WITHDRAWN_LOOKBACK = dt.timedelta(days=30)
"""How far back the log is searched for ``opened`` alerts that re-evaluation has since removed."""
WITHDRAWN_REASON = (
    "re-evaluation no longer finds this episode: late readings gave it an earlier start (its replacement is "
    "notified under its own alert_id) or ended it"
)


class Transition(StrEnum):
    """A change of an alert that the webhook hears about."""

    OPENED = "opened"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"
    """An ``opened`` alert that ``iot.sensor_alerts`` no longer holds."""


class LogStatus(StrEnum):
    """What became of a transition, as ``iot.alert_notifications`` records it."""

    DELIVERED = "delivered"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class PendingTransition:
    """One transition of one alert that the log does not hold yet."""

    alert: Mapping[str, Any]
    """The alert's ``iot.sensor_alerts`` row (for ``withdrawn``: its id, sensor and rule from the log)."""
    transition: Transition
    noticed_at: dt.datetime | None = None
    """When a ``withdrawn`` alert was found missing."""

    @property
    def alert_id(self) -> str:
        return str(self.alert["alert_id"])

    @property
    def notification_id(self) -> str:
        """``<alert_id>:<transition>``: the message's id and its ``Idempotency-Key``."""
        return f"{self.alert_id}:{self.transition.value}"

    @property
    def at(self) -> dt.datetime:
        """When the transition happened: the episode's start, its resolution (never before its start), or when a
        withdrawn alert was found missing."""
        if self.noticed_at is not None:
            return self.noticed_at
        started: dt.datetime = self.alert["started_at"]
        if self.transition is Transition.OPENED:
            return started
        return max(self.alert["resolved_at"] or self.alert["last_seen_at"], started)


def pending_transitions(alerts: Iterable[Mapping[str, Any]], logged: set[tuple[str, str]]) -> list[PendingTransition]:
    """Every alert's ``opened`` and every resolved alert's ``resolved`` that is not logged, oldest first.

    An alert's ``opened`` always precedes its ``resolved``. When an alert id appears more than once, the row
    evaluated last counts.

    Args:
        alerts: ``iot.sensor_alerts`` rows.
        logged: ``(alert_id, transition)`` pairs already in ``iot.alert_notifications``.

    Returns:
        The transitions still to send or skip, in sending order.
    """
    latest: dict[str, Mapping[str, Any]] = {}
    for alert in alerts:
        known = latest.get(alert["alert_id"])
        if known is None or alert["evaluated_at"] >= known["evaluated_at"]:
            latest[alert["alert_id"]] = alert
    pending: list[PendingTransition] = []
    for alert in latest.values():
        transitions = [Transition.OPENED] + ([Transition.RESOLVED] if alert["state"] == "resolved" else [])
        pending.extend(
            PendingTransition(alert, transition)
            for transition in transitions
            if (str(alert["alert_id"]), transition.value) not in logged
        )
    order = list(Transition)
    return sorted(pending, key=lambda p: (p.at, order.index(p.transition), p.alert_id))


def withdrawn_transitions(
    open_notified: Iterable[Mapping[str, Any]], stored_ids: set[str], now: dt.datetime
) -> list[PendingTransition]:
    """A ``withdrawn`` for every alert the receiver was told had opened that ``iot.sensor_alerts`` no longer holds.

    Args:
        open_notified: Log rows of delivered ``opened`` transitions with no closing one logged.
        stored_ids: Those alerts' ids that the table still holds.
        now: When they were found missing.
    """
    return [
        PendingTransition(
            {"alert_id": row["alert_id"], "sensor_id": row["sensor_id"], "rule": row["rule"]},
            Transition.WITHDRAWN,
            noticed_at=now,
        )
        for row in open_notified
        if row["alert_id"] not in stored_ids
    ]


def split_stale(
    pending: Sequence[PendingTransition], now: dt.datetime, max_age: dt.timedelta
) -> tuple[list[PendingTransition], list[PendingTransition]]:
    """``(stale, fresh)``: transitions older than ``max_age`` are logged as skipped instead of sent, so a backlog
    evaluated late never floods the receiver with old news."""
    oldest = now - max_age
    stale = [p for p in pending if p.at < oldest]
    fresh = [p for p in pending if p.at >= oldest]
    return stale, fresh


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def notification_payload(pending: PendingTransition, sent_at: dt.datetime) -> dict[str, Any]:
    """The webhook's JSON body: the notification id, the transition, the alert (every ``iot.sensor_alerts``
    column, instants as ISO 8601 UTC; a withdrawn alert has only its id, sensor and rule) and when it was sent; a
    ``withdrawn`` message also says why."""
    body = {
        "notification_id": pending.notification_id,
        "transition": pending.transition.value,
        "alert": {name: _json_value(pending.alert.get(name)) for name in SENSOR_ALERTS_TABLE.column_names},
        "sent_at": _json_value(sent_at),
    }
    if pending.transition is Transition.WITHDRAWN:
        body["reason"] = WITHDRAWN_REASON
    return body


def log_row(pending: PendingTransition, status: LogStatus, attempts: int, recorded_at: dt.datetime) -> dict[str, Any]:
    """The ``iot.alert_notifications`` row recording what became of a transition."""
    return {
        "alert_id": pending.alert_id,
        "transition": pending.transition.value,
        "sensor_id": pending.alert["sensor_id"],
        "rule": pending.alert["rule"],
        "status": status.value,
        "attempts": attempts,
        "recorded_at": recorded_at,
    }


@dataclass(frozen=True)
class NotifierConfig:
    """Where and how transitions are delivered."""

    url: str
    timeout_s: float
    attempts: int
    max_age: dt.timedelta
    max_sends: int = MAX_SENDS_PER_TICK
    budget_s: float = SEND_BUDGET_S
    limit_s: float = SEND_LIMIT_S

    @classmethod
    def from_settings(cls, settings: Settings) -> NotifierConfig | None:
        """The configuration, or ``None`` when no alert webhook is set."""
        if not settings.alert_webhook_url:
            return None
        return cls(
            url=settings.alert_webhook_url,
            timeout_s=settings.alert_webhook_timeout_s,
            attempts=settings.alert_webhook_attempts,
            max_age=dt.timedelta(hours=settings.alert_notify_max_age_hours),
        )


@dataclass(frozen=True)
class Sent:
    """The outcome of sending a tick's transitions in order."""

    rows: list[dict[str, Any]]
    """Log rows of the delivered transitions."""
    failed: tuple[PendingTransition, Delivery] | None
    """The transition that could not be delivered (sending stopped there)."""


def send_in_order(pending: Sequence[PendingTransition], config: NotifierConfig, client: httpx.Client) -> Sent:
    """POST transitions one by one, stopping at the first that fails, at ``max_sends`` or when the budget is spent.

    Args:
        pending: Fresh transitions in sending order.
        config: URL, timeout, attempts, limits.
        client: The HTTP client to send with.

    Returns:
        The delivered transitions' log rows and the failure, if one stopped the sending.
    """
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    for item in pending[: config.max_sends]:
        if time.monotonic() >= started + config.budget_s:
            break
        headers = {"Idempotency-Key": item.notification_id}
        body = notification_payload(item, dt.datetime.now(dt.UTC))
        delivery = post_json(
            config.url,
            body,
            timeout_s=config.timeout_s,
            attempts=config.attempts,
            headers=headers,
            deadline=started + config.limit_s,
            client=client,
        )
        if not delivery.delivered:
            return Sent(rows, (item, delivery))
        rows.append(log_row(item, LogStatus.DELIVERED, delivery.attempts, dt.datetime.now(dt.UTC)))
    return Sent(rows, None)


@dataclass(frozen=True)
class TickOutcome:
    """What one notifier tick did."""

    delivered: int
    skipped: int
    remaining: int
    failure: str | None = None

    @property
    def summary(self) -> str:
        return (
            f"{self.delivered} transition(s) delivered, {self.skipped} older than the max age logged as skipped, "
            f"{self.remaining} pending"
        )


def notify_pending(catalog: Catalog, alerts: Table, config: NotifierConfig, now: dt.datetime) -> TickOutcome:
    """One tick: find the transitions not yet logged, skip the stale ones, send the fresh ones, log both.

    Args:
        catalog: The platform's pyiceberg catalog.
        alerts: ``iot.sensor_alerts`` at the snapshot to work from.
        config: Webhook and limits.
        now: The current time (UTC).

    Returns:
        Counts, and a failure message naming the webhook by host (never its secret path) when one was not delivered.
    """
    rows = recent_alerts(alerts, now - config.max_age)
    log = notifications_table(catalog)
    pending = pending_transitions(rows, logged_transitions(log, rows))
    recent_ids = {str(row["alert_id"]) for row in rows}
    open_notified = [
        row for row in open_notifications(log, now - WITHDRAWN_LOOKBACK) if row["alert_id"] not in recent_ids
    ]
    still_stored = stored_alert_ids(alerts, (row["alert_id"] for row in open_notified))
    stale, fresh = split_stale(pending, now, config.max_age)
    fresh = withdrawn_transitions(open_notified, still_stored, now) + fresh  # the old id closes before news
    with httpx.Client() as client:
        sent = send_in_order(fresh, config, client)
    skipped = [log_row(item, LogStatus.SKIPPED, 0, now) for item in stale]
    append_log(log, [*skipped, *sent.rows])
    remaining = len(fresh) - len(sent.rows)
    failure = None
    if sent.failed is not None:
        item, delivery = sent.failed
        failure = (
            f"alert webhook {redacted(config.url)} {delivery.error} after {delivery.attempts} attempt(s) for "
            f"{item.notification_id}; {len(sent.rows)} delivered this tick, {remaining} transition(s) pending"
        )
    return TickOutcome(len(sent.rows), len(skipped), remaining, failure)


def _idle_snapshot(cursor: str | None) -> int | None:
    """The ``iot.sensor_alerts`` snapshot after which nothing was pending, from the cursor."""
    return json.loads(cursor).get("idle_at_snapshot") if cursor else None


def build_alert_notifier(settings: Settings) -> SensorDefinition:
    """The ``alert_notifier`` sensor, ticking every ``IOT_ALERT_NOTIFY_INTERVAL_S`` seconds.

    Args:
        settings: The webhook URL (running by default only when set), its timeout and attempts, the max age.

    Returns:
        A sensor that needs the ``iceberg`` resource.
    """
    config = NotifierConfig.from_settings(settings)

    @sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=settings.alert_notify_interval_s,
        default_status=DefaultSensorStatus.RUNNING if config else DefaultSensorStatus.STOPPED,
        description=(
            "Posts one JSON message per alert transition (opened, resolved, withdrawn) of iot.sensor_alerts to the "
            "alert webhook (IOT_ALERT_WEBHOOK_URL) and logs it in iot.alert_notifications, so none is sent twice. "
            "A tick fails when the webhook does not accept a message; the message is sent again on a later tick."
        ),
    )
    def alert_notifier(context: SensorEvaluationContext, iceberg: IcebergResource) -> SensorResult | SkipReason:
        if config is None:
            return SkipReason("IOT_ALERT_WEBHOOK_URL is not set: alert transitions are not sent anywhere")
        catalog = iceberg.catalog()
        alerts = alerts_table(catalog)
        if alerts is None:
            return SkipReason("no alert yet: iot.sensor_alerts does not exist (alert evaluation creates it)")
        snapshot = alerts.current_snapshot()
        snapshot_id = snapshot.snapshot_id if snapshot else None
        if snapshot_id is not None and snapshot_id == _idle_snapshot(context.cursor):
            return SkipReason("no alert changed since every transition was handled")
        outcome = notify_pending(catalog, alerts, config, dt.datetime.now(dt.UTC))
        if outcome.failure is not None:
            raise NotificationUndelivered(outcome.failure)
        idle = outcome.remaining == 0
        context.log.info(outcome.summary)
        return SensorResult(
            skip_reason=outcome.summary,
            cursor=json.dumps({"idle_at_snapshot": snapshot_id if idle else None}),
        )

    return alert_notifier
