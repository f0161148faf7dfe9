"""The platform's Dagster runs as plain values: job names and the shape of a run id.

Shared by the Dagster definitions and the processes that launch or look up runs (API, demo, Spark app names),
which must not import Dagster modules to learn them.
"""

from __future__ import annotations

INGEST_JOB = "ingest_job"
"""Ingests new Kafka records into ``iot.sensor_readings`` / ``iot.rejected_readings``."""

HOURLY_STATS_JOB = "hourly_stats_job"
"""Ingests what is new, then rebuilds the hourly statistics of the run's hour(s)."""

COMPACTION_JOB = "table_compaction_job"
"""Compacts the closed partitions of ``iot.sensor_readings``, ``iot.hourly_stats`` and ``iot.rejected_readings``."""

HOUSEKEEPING_JOB = "table_housekeeping_job"
"""Rewrites piled-up manifests, expires old snapshots and removes orphan files of the same tables."""

RUN_ID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
"""A Dagster run id (a UUID), unanchored so it can be part of a larger pattern."""

SPARK_APP_TAG = "iot/spark_app_id"
"""Run tag: the Spark application the run's work ran in (the Spark Connect server's, or the run's own), recorded
by the run itself when its Spark session opens. What the API reports for the run, and what proves ownership."""

SPARK_SINCE_TAG = "iot/spark_since"
"""Run tag: when the run's Spark session opened (ISO 8601, UTC)."""

SPARK_MODE_TAG = "iot/spark_mode"
"""Run tag: ``connect`` (the run worked on the shared Spark Connect server) or ``application`` (its own)."""

SPARK_SESSION_TAG = "iot/spark_session"
"""Run tag: the id of the run's Spark Connect session. The server's Spark UI tags each of the run's Spark jobs
``SparkConnect_OperationTag_User_iot-platform_Session_<id>_Operation_...``, so the run's jobs can be found there."""
