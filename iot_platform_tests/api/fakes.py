"""Fakes of Dagster, the Spark master and the stats table, for unit tests of the API's own logic.

They record what the API asked and answer like the real clients do, including their typed errors; the
integration tests (``integration/test_api.py``) use the real engines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from iot_platform.api.stats_reader import Cursor, StatsPage, StatsQuery
from iot_platform.clients.dagster import BackfillInfo, DagsterStatus, RunInfo
from iot_platform.clients.spark import CONNECT_SERVER_APP_NAME
from iot_platform.clients.spark_master import ClusterState, SparkApplication, parse_master_state
from iot_platform.errors import Conflict, NotFound, ServiceUnavailable
from iot_platform.runs import HOURLY_STATS_JOB
from iot_platform_tests.clients.spark_master_fakes import WEB_URL, load_fixture

PLATFORM_RUN_ID = "6f1c2a3e-1b7d-4c59-9a1e-2f0c3d4b5a61"
"""Run id in the name of the platform app of ``master_app_running_and_waiting.json``."""
PLATFORM_APP_ID = "app-20261124015421-0000"
FOREIGN_APP_ID = "app-20261124015454-0001"
"""``adhoc-notebook``, WAITING, launched outside the platform."""
SERVER_APP_ID = "app-20261124010000-0002"
"""The shared Spark Connect server, once :meth:`FakeMaster.add_server` has put it on the master."""


def dagster_down() -> ServiceUnavailable:
    """The error the real client raises when nothing listens at the webserver."""
    return ServiceUnavailable("Dagster", "no answer from http://dagster.test:3000/graphql (ConnectError)")


class FakeDagster:
    """An in-memory Dagster: runs and backfills made through the API, plus any the test adds."""

    web_url = "http://dagster.test:3000"

    def __init__(self, jobs: Sequence[str] = (HOURLY_STATS_JOB,)) -> None:
        self.jobs = tuple(jobs)
        self.runs: dict[str, RunInfo] = {}
        self.backfills: dict[str, BackfillInfo] = {}
        self.submitted: list[tuple[str, str, dict[str, str]]] = []
        self.backfilled: list[tuple[str, list[str], dict[str, str]]] = []
        self.terminated: list[str] = []
        self.in_progress_calls = 0
        self.status_calls = 0
        self.down: ServiceUnavailable | None = None

    def _check(self) -> None:
        if self.down is not None:
            raise self.down

    def add_run(self, status: str = "STARTED", run_id: str | None = None, **fields: Any) -> RunInfo:
        """Put a run in storage as if Dagster had launched it."""
        run = RunInfo(
            run_id=run_id or str(uuid.uuid4()),
            status=status,
            job_name=fields.pop("job_name", HOURLY_STATS_JOB),
            partition=fields.pop("partition", None),
            range_start=fields.pop("range_start", None),
            range_end=fields.pop("range_end", None),
            backfill_id=fields.pop("backfill_id", None),
            created_at=fields.pop("created_at", dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)),
            started_at=fields.pop("started_at", None),
            ended_at=fields.pop("ended_at", None),
            tags=fields.pop("tags", {}),
        )
        self.runs[run.run_id] = run
        return run

    def in_progress_runs(self) -> tuple[RunInfo, ...]:
        self._check()
        self.in_progress_calls += 1
        return tuple(run for run in self.runs.values() if run.status in ("STARTED", "CANCELING"))

    def recent_runs(self, limit: int) -> tuple[RunInfo, ...]:
        self._check()
        return tuple(reversed(self.runs.values()))[:limit]

    def status(self) -> DagsterStatus:
        self.status_calls += 1
        self._check()
        return DagsterStatus(version="1.13.27", jobs=self.jobs)

    def submit_run(self, job_name: str, tags: Mapping[str, str]) -> str:
        self._check()
        if job_name not in self.jobs:
            raise NotFound(f"no loaded code location has job {job_name}")
        return self.add_run("QUEUED", job_name=job_name, tags=dict(tags)).run_id

    def submit_partition(self, job_name: str, partition: str, tags: Mapping[str, str]) -> str:
        self._check()
        if job_name not in self.jobs:
            raise NotFound(f"no loaded code location has job {job_name}")
        self.submitted.append((job_name, partition, dict(tags)))
        run_tags = {**tags, "dagster/partition": partition}
        return self.add_run("QUEUED", job_name=job_name, partition=partition, tags=run_tags).run_id

    def submit_partition_range(self, job_name: str, first: str, last: str, tags: Mapping[str, str]) -> str:
        self._check()
        if job_name not in self.jobs:
            raise NotFound(f"no loaded code location has job {job_name}")
        self.submitted.append((job_name, f"{first}...{last}", dict(tags)))
        return self.add_run("QUEUED", job_name=job_name, range_start=first, range_end=last).run_id

    def launch_backfill(self, job_name: str, partitions: Sequence[str], tags: Mapping[str, str]) -> str:
        self._check()
        self.backfilled.append((job_name, list(partitions), dict(tags)))
        backfill_id = uuid.uuid4().hex[:8]
        self.backfills[backfill_id] = BackfillInfo(
            backfill_id=backfill_id,
            status="REQUESTED",
            partition_names=tuple(partitions),
            runs=(),
            created_at=dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC),
            ended_at=None,
            error=None,
            job_name=job_name,
            tags=dict(tags),
        )
        return backfill_id

    def find_runs(
        self, job_name: str, tags: Mapping[str, str], statuses: Sequence[str] | None = None
    ) -> tuple[RunInfo, ...]:
        self._check()
        found = [
            run
            for run in self.runs.values()
            if run.job_name == job_name
            and all(run.tags.get(key) == value for key, value in tags.items())
            and (statuses is None or run.status in statuses)
        ]
        return tuple(reversed(found))

    def find_backfills(self, status: str | None = None) -> tuple[BackfillInfo, ...]:
        self._check()
        found = [backfill for backfill in self.backfills.values() if status is None or backfill.status == status]
        return tuple(reversed(found))

    def run(self, run_id: str) -> RunInfo:
        self._check()
        try:
            return self.runs[run_id]
        except KeyError:
            raise NotFound(f"Dagster has no run {run_id}") from None

    def terminate_run(self, run_id: str) -> RunInfo:
        run = self.run(run_id)
        if run.finished:
            raise Conflict(f"Run {run_id} could not be terminated due to having status {run.status}.")
        self.terminated.append(run_id)
        run = dataclasses.replace(run, status="CANCELED" if run.status == "QUEUED" else "CANCELING")
        self.runs[run_id] = run
        return run

    def backfill(self, backfill_id: str) -> BackfillInfo:
        self._check()
        try:
            return self.backfills[backfill_id]
        except KeyError:
            raise NotFound(f"Dagster has no backfill {backfill_id}") from None

    def cancel_backfill(self, backfill_id: str) -> BackfillInfo:
        backfill = self.backfill(backfill_id)
        if backfill.finished:
            raise Conflict(f"backfill {backfill_id} has already finished with status {backfill.status}")
        backfill = dataclasses.replace(backfill, status="CANCELING")
        self.backfills[backfill_id] = backfill
        return backfill


class FakeMaster:
    """A Spark master answering with a captured ``/json/`` document; ``kill_application`` ends the app."""

    def __init__(self, fixture: str = "master_app_running_and_waiting.json") -> None:
        self.document = load_fixture(fixture)
        self.calls = 0
        self.killed: list[str] = []
        self.down: ServiceUnavailable | None = None

    @property
    def web_url(self) -> str:
        return WEB_URL

    def add_server(self, app_id: str = SERVER_APP_ID, name: str = CONNECT_SERVER_APP_NAME) -> str:
        """Put a running Spark Connect server application on the master (one core, like an idle server)."""
        self.document["activeapps"].append(
            {
                "id": app_id,
                "starttime": 1795482000000,
                "name": name,
                "cores": 1,
                "user": "root",
                "memoryperexecutor": 1024,
                "state": "RUNNING",
                "duration": 3_600_000,
            }
        )
        return app_id

    def cluster_state(self) -> ClusterState:
        self.calls += 1
        if self.down is not None:
            raise self.down
        return parse_master_state(self.document, web_url=WEB_URL)

    def kill_application(self, app_id: str) -> SparkApplication:
        app = self.cluster_state().application(app_id)
        if app is None:
            raise NotFound(f"Spark application {app_id} is not known to the master at {WEB_URL}")
        self.killed.append(app_id)
        active = self.document["activeapps"]
        raw = next(item for item in active if item["id"] == app_id)
        active.remove(raw)
        self.document["completedapps"].append({**raw, "state": "KILLED"})
        return dataclasses.replace(app, state="KILLED", active=False)


class FakeConnectServer:
    """The Spark Connect server's answer to "what is your application id": ``app_id``, ``None`` when unreachable."""

    def __init__(self, app_id: str | None = None) -> None:
        self.app_id = app_id
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        return self.app_id


class FakeStats:
    """Rows held in memory; records each query and answers with the rows that match it."""

    def __init__(self, rows: Sequence[Mapping[str, Any]] = ()) -> None:
        self.rows = [dict(row) for row in rows]
        self.queries: list[StatsQuery] = []
        self.down: ServiceUnavailable | None = None
        self.next_cursor: Cursor | None = None

    def read(self, query: StatsQuery) -> StatsPage:
        self.queries.append(query)
        if self.down is not None:
            raise self.down
        return StatsPage(rows=self.rows[: query.limit], next_cursor=self.next_cursor)
