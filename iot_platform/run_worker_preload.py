"""Imported once, by the code server's fork server (:mod:`iot_platform.run_workers`): what every run needs is
loaded here, and each run is forked from this process.

Loads the modules a run imports before its first query (Dagster's run execution, the Spark Connect client,
pyiceberg) and builds the definitions from this process's settings; the run's ``defs()`` takes them
(:func:`iot_platform.run_workers.preloaded`). Nothing here may fail the fork server: a problem is logged and the
run meets it again itself, building its definitions as it would without a fork server, and reports it.
"""

from __future__ import annotations

import gc
import importlib
import logging

import dagster as dg

RUN_MODULES = ("dagster._core.execution.api", "pyspark.sql.connect.session", "pyiceberg.table", "pyarrow.parquet")
"""What a run imports besides the definitions' own modules: Dagster's run execution, the Spark Connect client, the
Iceberg and Parquet writers."""

definitions: dg.Definitions | None = None
"""The platform's definitions, built once here; taken by the first ``defs()`` of each forked run."""

try:
    for name in RUN_MODULES:
        importlib.import_module(name)
    from iot_platform.definitions import build_definitions
    from iot_platform.settings import load_settings

    definitions = build_definitions(load_settings())
    definitions.get_repository_def()
except Exception:  # a run reports the problem itself (see the module docstring)
    logging.getLogger(__name__).warning("could not preload the platform for its runs", exc_info=True)
    definitions = None
# What is loaded stays out of the garbage collector's scans in every fork: a collection in a run neither spends
# time on it nor copies its memory pages (which the forks share with this process until they write to them).
gc.freeze()
