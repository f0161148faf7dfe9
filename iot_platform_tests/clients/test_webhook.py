"""The webhook client against a real HTTP receiver on localhost: retries, what is final, bounded waits."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from iot_platform.clients.webhook import backoff_delays, post_json, redacted
from iot_platform_tests.clients.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.close()


def test_backoff_doubles_from_half_a_second_and_is_capped() -> None:
    assert backoff_delays(1) == ()
    assert backoff_delays(4) == (0.5, 1.0, 2.0)
    assert backoff_delays(7) == (0.5, 1.0, 2.0, 4.0, 4.0, 4.0)


def test_a_receiver_failing_twice_gets_the_message_on_the_third_attempt(receiver: WebhookReceiver) -> None:
    receiver.fail_next(2, status=503)
    waits: list[float] = []
    delivery = post_json(
        receiver.url, {"n": 1}, timeout_s=5, attempts=4, headers={"Idempotency-Key": "a1:opened"}, sleep=waits.append
    )
    assert delivery.delivered and delivery.attempts == 3 and delivery.status == 200
    assert waits == [0.5, 1.0]
    assert [request.status for request in receiver.requests] == [503, 503, 200]
    for request in receiver.requests:
        assert request.body == {"n": 1}
        assert request.headers["Idempotency-Key"] == "a1:opened"
        assert request.headers["Content-Type"] == "application/json"
        assert request.path == f"/{WebhookReceiver.SECRET}"


@pytest.mark.parametrize("status", [408, 429, 500, 502])
def test_timeouts_throttling_and_server_errors_are_retried(receiver: WebhookReceiver, status: int) -> None:
    receiver.fail_next(1, status=status)
    delivery = post_json(receiver.url, {}, timeout_s=5, attempts=2, sleep=lambda _: None)
    assert delivery.delivered and delivery.attempts == 2


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_a_refusal_is_final(receiver: WebhookReceiver, status: int) -> None:
    receiver.fail_next(1, status=status)
    delivery = post_json(receiver.url, {}, timeout_s=5, attempts=4, sleep=lambda _: None)
    assert not delivery.delivered
    assert (delivery.attempts, delivery.status, delivery.error) == (1, status, f"answered HTTP {status}")
    assert len(receiver.requests) == 1


def test_a_receiver_that_keeps_failing_gets_every_attempt_and_no_more(receiver: WebhookReceiver) -> None:
    receiver.fail_always(500)
    waits: list[float] = []
    delivery = post_json(receiver.url, {}, timeout_s=5, attempts=3, sleep=waits.append)
    assert not delivery.delivered and delivery.attempts == 3 and delivery.error == "answered HTTP 500"
    assert len(receiver.requests) == 3 and waits == [0.5, 1.0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_receiver_is_reported_without_the_secret_path() -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/secret-token"
    delivery = post_json(url, {}, timeout_s=2, attempts=2, sleep=lambda _: None)
    assert not delivery.delivered and delivery.attempts == 2 and delivery.status is None
    assert delivery.error is not None and delivery.error.startswith("not reached: ConnectError")
    assert redacted(url) == url.split("/hooks")[0] + "/..."


def test_no_retry_starts_after_the_deadline(receiver: WebhookReceiver) -> None:
    receiver.fail_always(503)
    started = time.monotonic()
    delivery = post_json(receiver.url, {}, timeout_s=5, attempts=10, deadline=time.monotonic() + 1.2)
    assert not delivery.delivered
    assert delivery.attempts == 2  # waits 0.5 s, then the next 1 s wait would end past the deadline
    assert time.monotonic() - started < 1.2
