"""Manifest rewriting: when a table's current snapshot lists more manifests than the threshold (every commit adds
one), regroup them so that planning a read opens few files."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from iot_platform.pipelines.maintenance.files import table_files
from iot_platform.pipelines.maintenance.params import MaintenanceParams
from iot_platform.pipelines.maintenance.procedures import call, quoted
from iot_platform.pipelines.maintenance.result import ManifestResult

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyspark.sql import SparkSession


def rewrite_manifests(
    spark: SparkSession,
    table: Table,
    params: MaintenanceParams,
    *,
    now: dt.datetime,
    log: Callable[[str], None] = print,
) -> ManifestResult:
    """Rewrite the table's manifests when there are more than ``params.manifest_threshold``.

    Args:
        spark: A session with the platform's catalog.
        table: The table (pyiceberg).
        params: Threshold, catalog name, attempts.
        now: The current time (unused: the threshold alone decides; taken like every maintenance operation).
        log: Progress lines.

    Returns:
        Manifests before and after (equal when under the threshold).
    """
    began = time.monotonic()
    name = ".".join(table.name()[-2:])
    before = table_files(table).manifests
    if before <= params.manifest_threshold:
        return ManifestResult(name, before, before, False, 0, time.monotonic() - began)
    statement = f"CALL {params.catalog_name}.system.rewrite_manifests(table => {quoted(name)})"
    _, attempts = call(spark, statement, attempts=params.commit_attempts, log=log)
    after = table_files(table).manifests
    log(f"{name}: rewrote {before} manifests into {after}")
    return ManifestResult(name, before, after, True, attempts, time.monotonic() - began)
