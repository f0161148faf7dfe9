"""Which earlier submission a new one repeats, so the same work is not queued twice.

A submission names a job and a set of partitions. It repeats an earlier one when the caller sends the same
``Idempotency-Key`` (recorded as a run or backfill tag), or when the same job is already queued or running for
the same partition (a run) or the same partition set (a backfill that is still requested). ``force`` skips the
second check only: a key always names the one submission it was first used for.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from iot_platform.api.errors import IdempotencyKeyReused
from iot_platform.clients.dagster import PARTITION_TAG, UNFINISHED_RUN_STATUSES, BackfillInfo, DagsterClient, RunInfo

IDEMPOTENCY_KEY_TAG = "iot/idempotency_key"
"""Tag on a run or backfill launched with an ``Idempotency-Key`` header: the key."""
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
"""What an ``Idempotency-Key`` may look like (a UUID fits)."""
REQUESTED = "REQUESTED"
"""The status of a backfill that is still launching or running its runs."""

SUBMIT_LOCK = threading.Lock()
"""Held from the search for an earlier submission to the launch, so two equal requests to this API process
cannot both launch."""


def _reused(key: str, earlier: str, now: str) -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        f"Idempotency-Key {key} was first used for {earlier}, not {now}: use a new key for a different submission"
    )


def earlier_run(
    dagster: DagsterClient, job_name: str, partition: str, idempotency_key: str | None, *, force: bool
) -> RunInfo | None:
    """The run a single-partition submission repeats, or ``None`` when it should be launched.

    Raises:
        IdempotencyKeyReused: the key named a submission of another partition, or a backfill.
        ServiceUnavailable: Dagster cannot be reached.
    """
    if idempotency_key is not None:
        keyed = dagster.find_runs(job_name, {IDEMPOTENCY_KEY_TAG: idempotency_key})
        if keyed:
            if keyed[0].partition != partition:
                raise _reused(idempotency_key, f"run {keyed[0].run_id}", f"partition {partition}")
            return keyed[0]
        if _keyed_backfill(dagster, idempotency_key) is not None:
            raise _reused(idempotency_key, "a backfill", f"partition {partition}")
    if force:
        return None
    same = dagster.find_runs(job_name, {PARTITION_TAG: partition}, UNFINISHED_RUN_STATUSES)
    return same[0] if same else None


def earlier_backfill(
    dagster: DagsterClient, job_name: str, partitions: Sequence[str], idempotency_key: str | None, *, force: bool
) -> BackfillInfo | None:
    """The backfill (with its runs) a range submission repeats, or ``None`` when it should be launched.

    Raises:
        IdempotencyKeyReused: the key named a backfill of another job or range, or a single run.
        ServiceUnavailable: Dagster cannot be reached.
    """
    wanted = tuple(partitions)
    if idempotency_key is not None:
        keyed = _keyed_backfill(dagster, idempotency_key)
        if keyed is not None:
            if keyed.job_name != job_name or keyed.partition_names != wanted:
                raise _reused(idempotency_key, f"backfill {keyed.backfill_id}", f"{wanted[0]}..{wanted[-1]}")
            return dagster.backfill(keyed.backfill_id)
        if dagster.find_runs(job_name, {IDEMPOTENCY_KEY_TAG: idempotency_key}):
            raise _reused(idempotency_key, "a single-partition run", f"{wanted[0]}..{wanted[-1]}")
    if force:
        return None
    for backfill in dagster.find_backfills(REQUESTED):
        if backfill.job_name == job_name and backfill.partition_names == wanted:
            return dagster.backfill(backfill.backfill_id)
    return None


def _keyed_backfill(dagster: DagsterClient, idempotency_key: str) -> BackfillInfo | None:
    """The newest backfill launched with this key (not only the requested ones: a key outlives its work)."""
    for backfill in dagster.find_backfills():
        if backfill.tags.get(IDEMPOTENCY_KEY_TAG) == idempotency_key:
            return backfill
    return None
