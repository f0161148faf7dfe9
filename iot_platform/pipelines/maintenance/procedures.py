"""Calling Iceberg's Spark procedures, retrying a bounded number of times when a concurrent commit wins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Row, SparkSession

CONFLICT_MARKERS = ("CommitFailedException", "ValidationException", "conflicting", "Cannot commit")
"""Words of the errors a procedure raises when another writer committed to the table in the meantime."""


def is_commit_conflict(error: BaseException) -> bool:
    """Whether ``error`` says another commit won the race (worth a retry), not that the procedure is wrong."""
    text = str(error)
    return any(marker in text for marker in CONFLICT_MARKERS)


def call(
    spark: SparkSession,
    statement: str,
    *,
    attempts: int,
    log: Callable[[str], None],
) -> tuple[list[Row], int]:
    """Run one ``CALL`` statement, again up to ``attempts`` times in all when it meets a concurrent commit.

    Returns:
        The procedure's output rows and the attempts it took.

    Raises:
        Exception: the procedure failed for another reason, or kept conflicting ``attempts`` times.
    """
    for attempt in range(1, attempts + 1):
        try:
            return spark.sql(statement).collect(), attempt
        except Exception as exc:
            if attempt == attempts or not is_commit_conflict(exc):
                raise
            log(f"a concurrent commit won over `{statement[:80]}...` (attempt {attempt}/{attempts}); retrying")
    raise AssertionError("unreachable")


def timestamp_literal(instant: dt.datetime) -> str:
    """A Spark SQL ``TIMESTAMP`` literal of an aware instant, in UTC."""
    return f"TIMESTAMP '{instant.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S.%f}+00:00'"


def quoted(text: str) -> str:
    """A Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def first_row(rows: list[Row]) -> dict[str, Any]:
    """The first output row of a procedure as a dict (empty when it returned none)."""
    return rows[0].asDict() if rows else {}
