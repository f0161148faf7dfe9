"""Posting JSON to an operator's webhook (a plain client): the run-failure reports and the alert transitions.

A webhook URL's path often holds the receiver's secret token, so every message about a delivery names the URL by
scheme and host only (:func:`redacted`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 4.0
"""Waits between attempts double from the base up to the cap: short, so a sensor tick stays well within its limit."""

RETRIED_CLIENT_ERRORS = frozenset({408, 429})
"""The 4xx answers that mean "try again later"; any other 4xx is final (the receiver refuses this message)."""


@dataclass(frozen=True)
class Delivery:
    """How posting one message ended."""

    delivered: bool
    attempts: int
    status: int | None = None
    """HTTP status of the last answer (none when the receiver was not reached)."""
    error: str | None = None
    """Why it was not delivered, in one line without the URL: ``answered HTTP 503``, ``not reached: ConnectError``."""


def redacted(url: str) -> str:
    """Scheme and host of a webhook URL, for messages: its path often holds the webhook's secret token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..."


def backoff_delays(attempts: int, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S) -> tuple[float, ...]:
    """The waits before the second, third, ... attempt: ``base_s`` doubling per attempt, at most ``cap_s`` each.

    Args:
        attempts: Attempts in all (at least 1).
        base_s: Wait before the second attempt.
        cap_s: Longest single wait.

    Returns:
        ``attempts - 1`` waits in seconds, e.g. ``(0.5, 1.0, 2.0)`` for 4 attempts.
    """
    return tuple(min(base_s * 2**retry, cap_s) for retry in range(max(attempts, 1) - 1))


def is_retryable(status: int) -> bool:
    """Whether an HTTP answer may succeed when the same message is posted again (5xx, 408, 429)."""
    return status >= 500 or status in RETRIED_CLIENT_ERRORS


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout_s: float,
    attempts: int = 1,
    headers: Mapping[str, str] | None = None,
    deadline: float | None = None,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST ``payload`` as JSON until a 2xx answer, retrying with :func:`backoff_delays` waits.

    A transport error, a 5xx, 408 or 429 is retried; any other answer is final. No attempt starts (and no
    request waits) past ``deadline``, so a caller can bound the time a batch of messages takes.

    Args:
        url: The webhook URL.
        payload: The JSON body.
        timeout_s: Limit of one request (connect, send, wait for the answer).
        attempts: Most attempts (at least 1).
        headers: Extra request headers (``Content-Type: application/json`` is always sent).
        deadline: ``time.monotonic()`` instant after which nothing more is tried.
        client: A client to reuse across messages (default: one for this call).
        sleep: How to wait between attempts (tests pass a recorder).

    Returns:
        The outcome: delivered or not, the attempts made, the last status and, when not delivered, why.
    """
    owned = client is None
    http = client or httpx.Client()
    delays = backoff_delays(attempts)
    outcome = Delivery(delivered=False, attempts=0, error="not attempted: no time left in this batch")
    try:
        for attempt in range(1, max(attempts, 1) + 1):
            limit = timeout_s if deadline is None else min(timeout_s, deadline - time.monotonic())
            if limit <= 0:
                break
            outcome = _attempt(http, url, payload, headers or {}, limit, attempt)
            if outcome.delivered or (outcome.status is not None and not is_retryable(outcome.status)):
                break
            if attempt <= len(delays):
                if deadline is not None and time.monotonic() + delays[attempt - 1] >= deadline:
                    break
                sleep(delays[attempt - 1])
    finally:
        if owned:
            http.close()
    return outcome


def _attempt(
    http: httpx.Client, url: str, payload: Mapping[str, Any], headers: Mapping[str, str], timeout_s: float, attempt: int
) -> Delivery:
    """One POST, its outcome numbered ``attempt``."""
    try:
        response = http.post(url, json=dict(payload), headers=dict(headers), timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Delivery(
            delivered=False, attempts=attempt, error=f"not reached: {type(exc).__name__}: {str(exc) or 'timed out'}"
        )
    if response.is_success:
        return Delivery(delivered=True, attempts=attempt, status=response.status_code)
    return Delivery(
        delivered=False, attempts=attempt, status=response.status_code, error=f"answered HTTP {response.status_code}"
    )
