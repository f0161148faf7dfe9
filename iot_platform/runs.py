"""The platform's Dagster runs as plain values: job names and the shape of a run id.

Shared by the Dagster definitions and the processes that launch or look up runs (API, demo, Spark app names),
which must not import Dagster modules to learn them.
"""

from __future__ import annotations

INGEST_JOB = "ingest_job"
"""Ingests new Kafka records into ``iot.sensor_readings`` / ``iot.rejected_readings``."""

HOURLY_STATS_JOB = "hourly_stats_job"
"""Ingests what is new, then rebuilds the hourly statistics of the run's hour(s)."""

RUN_ID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
"""A Dagster run id (a UUID), unanchored so it can be part of a larger pattern."""
