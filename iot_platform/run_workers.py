"""Run workers forked from a process that already has the platform loaded.

Dagster's code server (``dagster api grpc``) starts every run in a new Python process (multiprocessing "spawn").
Before its first Spark query that process imports Dagster, the platform, the Spark Connect client and pyiceberg,
and builds the definitions again: about 2.3 s of CPU and 1.5 to 2 s of wall time on the 2-core machine, for runs
whose own work is a few seconds. :func:`fork_run_workers` makes the code server start runs from a multiprocessing
fork server instead: one process started with the code server's first run, which imports :data:`PRELOAD_MODULE`
(what every run needs, and the definitions built once); each run is then a fork of it and finds everything
loaded. Everything else about a run stays Dagster's: the same entry point, event queue, termination event and
process bookkeeping in the code server; only the way the process starts differs.

The fork server holds the code as loaded when it started: reloading the code location (which restarts the code
server's process, and the fork server with it) is what makes runs see changed code or a changed sensor registry,
as it is for the definitions the webserver shows. ``IOT_DAGSTER_FORK_RUN_WORKERS=false`` keeps Dagster's default.
"""

from __future__ import annotations

import multiprocessing
import sys
from typing import Any

import dagster as dg

PRELOAD_MODULE = "iot_platform.run_worker_preload"
"""What the fork server imports once: the modules a run needs, and the definitions, built (:func:`preloaded`)."""

_CONTEXT_ATTRIBUTE = "_mp_ctx"
"""The attribute through which Dagster 1.13's code server (``DagsterApiServer``) starts run processes."""


def fork_run_workers() -> bool:
    """Make every Dagster code server in this process start its runs as forks of a preloaded fork server.

    Idempotent. Only the code server starts run processes, so in any other process (a run, a test) this changes
    nothing that is used.

    Returns:
        Whether runs are forked: false where the fork server is unavailable (not a POSIX system) or the code
        server does not start runs the way this relies on (then runs start Dagster's default way).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    from dagster._grpc.server import DagsterApiServer

    current = DagsterApiServer.__dict__.get(_CONTEXT_ATTRIBUTE)
    if isinstance(current, property):
        return True
    if current is not None or not _sets_context(DagsterApiServer):
        return False
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD_MODULE])

    def fork_server(_server: Any) -> Any:
        return context

    def keep(_server: Any, _value: Any) -> None:
        """The code server's own choice of context is set in its ``__init__``; the fork server replaces it."""

    # A property on the class takes precedence over the attribute each code server sets on itself.
    setattr(DagsterApiServer, _CONTEXT_ATTRIBUTE, property(fork_server, keep))
    return True


def _sets_context(server_class: Any) -> bool:
    """Whether ``server_class`` sets the context attribute this module replaces and starts runs from it."""
    init, start_run = getattr(server_class, "__init__", None), getattr(server_class, "StartRun", None)
    names = [getattr(getattr(method, "__code__", None), "co_names", ()) for method in (init, start_run)]
    return _CONTEXT_ATTRIBUTE in names[0] and {_CONTEXT_ATTRIBUTE, "Process"} <= set(names[1])


def preloaded() -> dg.Definitions | None:
    """The definitions the fork server built, once, in the run forked from it; ``None`` anywhere else (the caller
    builds them)."""
    module: Any = sys.modules.get(PRELOAD_MODULE)
    if module is None:
        return None
    definitions: dg.Definitions | None = getattr(module, "definitions", None)
    module.definitions = None
    return definitions
