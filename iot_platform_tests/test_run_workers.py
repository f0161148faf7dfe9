"""Runs forked from a preloaded process: the code server's switch to a fork server, and what a fork finds."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue
from typing import Any

from dagster._grpc.server import DagsterApiServer

from iot_platform.jobs import INGEST_JOB
from iot_platform.run_workers import PRELOAD_MODULE, _sets_context, fork_run_workers, preloaded


def test_the_code_server_starts_runs_from_a_fork_server_preloading_the_platform() -> None:
    assert fork_run_workers()
    assert fork_run_workers()  # idempotent
    context = DagsterApiServer.__dict__["_mp_ctx"].fget(None)
    assert context.get_start_method() == "forkserver"
    assert PRELOAD_MODULE in multiprocessing.forkserver._forkserver._preload_modules  # type: ignore[attr-defined]


class StartsRunsFromItsContext:
    def __init__(self) -> None:
        self._mp_ctx = multiprocessing.get_context("spawn")

    def StartRun(self) -> Any:  # noqa: N802 (the code server's method name)
        return self._mp_ctx.Process()


class StartsRunsOtherwise:
    def StartRun(self) -> Any:  # noqa: N802
        return multiprocessing.Process()


def test_only_a_server_that_starts_runs_from_its_context_is_changed() -> None:
    assert _sets_context(StartsRunsFromItsContext)
    assert not _sets_context(StartsRunsOtherwise)
    assert not _sets_context(object)


def report_preloaded(queue: Queue[Any]) -> None:
    """In a forked run: what ``defs()`` would take, and what a second call gets."""
    definitions = preloaded()
    jobs = sorted(job.name for job in definitions.get_repository_def().get_all_jobs()) if definitions else None
    queue.put((jobs, preloaded()))


def test_a_process_forked_from_the_preload_takes_the_definitions_built_there_once() -> None:
    assert preloaded() is None  # nothing was preloaded in this process
    assert fork_run_workers()
    context = multiprocessing.get_context("forkserver")
    queue: Queue[Any] = context.Queue()
    process = context.Process(target=report_preloaded, args=(queue,))
    process.start()
    jobs, again = queue.get(timeout=120)
    process.join(30)
    assert process.exitcode == 0
    assert jobs is not None and INGEST_JOB in jobs
    assert again is None
