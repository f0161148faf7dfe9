"""The alert rules as first defined with Spark window functions per rule: the reference the grouped pass of
``iot_platform.transforms.alerts`` is compared with (``test_alert_parity.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from iot_platform.registry import PARAM_COLUMNS, RuleName
from iot_platform.transforms.alerts import alert_id_column

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, WindowSpec

_OWN_PARAMS = tuple(
    name for name in PARAM_COLUMNS if name not in ("sensor_id", "sensor_type", "location", "registered")
)


def with_params(readings: DataFrame, params: DataFrame) -> DataFrame:
    """Readings with their sensor's effective rule settings.

    A registered sensor gets its own row of ``params``; any other sensor its type's (``sensor_id`` null), or none
    when the type is unknown too (then every rule is off for it).

    Args:
        readings: Rows with ``sensor_id``, ``sensor_type``, ``location`` (others are kept).
        params: :func:`params_frame`'s output.

    Returns:
        The readings with ``sensor_type`` and ``location`` taken from the registry for registered sensors, a
        boolean ``registered``, a boolean ``typed`` (some parameters apply) and the columns of ``PARAM_COLUMNS``
        other than ``sensor_id``, ``sensor_type``, ``location`` and ``registered``.
    """
    from pyspark.sql import functions as F

    own = params.where(F.col("registered")).select(
        F.col("sensor_id").alias("_p_sensor"),
        F.col("sensor_type").alias("_p_type"),
        F.col("location").alias("_p_location"),
        F.struct(*_OWN_PARAMS).alias("_own"),
    )
    by_type = params.where(~F.col("registered")).select(
        F.col("sensor_type").alias("_t_type"), F.struct(*_OWN_PARAMS).alias("_type")
    )
    joined = readings.join(F.broadcast(own), readings["sensor_id"] == F.col("_p_sensor"), "left")
    joined = joined.join(F.broadcast(by_type), joined["sensor_type"] == F.col("_t_type"), "left")
    kept = [name for name in readings.columns if name not in ("sensor_type", "location")]
    chosen = F.coalesce(F.col("_own"), F.col("_type"))
    return joined.select(
        *kept,
        F.coalesce(F.col("_p_type"), F.col("sensor_type")).alias("sensor_type"),
        F.coalesce(F.col("_p_location"), F.col("location")).alias("location"),
        F.col("_p_sensor").isNotNull().alias("registered"),
        chosen.isNotNull().alias("typed"),
        *(chosen[name].alias(name) for name in _OWN_PARAMS),
    )


def _by_sensor() -> WindowSpec:
    from pyspark.sql import Window

    return Window.partitionBy("sensor_id").orderBy("_us")


def _instant(micros: Column) -> Column:
    from pyspark.sql import functions as F

    return F.timestamp_micros(micros)


def _episode(
    rule: RuleName,
    *,
    severity: Column,
    state_open: Column,
    started: Column,
    last_seen: Column,
    resolved: Column,
    peak: Column,
    threshold: Column,
    readings: Column,
    detail: Column,
) -> list[Column]:
    """The columns of an episode, in ``EPISODE_COLUMNS`` order, over a frame with ``sensor_id``, ``sensor_type``
    and ``location``."""
    from pyspark.sql import functions as F

    return [
        alert_id_column(F.lit(rule.value), F.col("sensor_id"), started).alias("alert_id"),
        F.col("sensor_id"),
        F.col("sensor_type"),
        F.col("location"),
        F.lit(rule.value).alias("rule"),
        severity.alias("severity"),
        F.when(state_open, F.lit("open")).otherwise(F.lit("resolved")).alias("state"),
        started.alias("started_at"),
        last_seen.alias("last_seen_at"),
        F.when(~state_open, resolved).alias("resolved_at"),
        peak.cast("double").alias("peak_value"),
        threshold.cast("double").alias("threshold"),
        readings.cast("bigint").alias("readings"),
        detail.alias("detail"),
    ]


def _run_episode(rule: RuleName, *, peak: Column, threshold: Column, readings: Column, detail: Column) -> list[Column]:
    """:func:`_episode` of a run of offending readings aggregated into ``_severity`` and the epoch microseconds
    ``_first``, ``_last`` and ``_resolved`` (null: still open)."""
    from pyspark.sql import functions as F

    return _episode(
        rule,
        severity=F.col("_severity"),
        state_open=F.col("_resolved").isNull(),
        started=_instant(F.col("_first")),
        last_seen=_instant(F.col("_last")),
        resolved=_instant(F.col("_resolved")),
        peak=peak,
        threshold=threshold,
        readings=readings,
        detail=detail,
    )


def _run_names(severity: str) -> list[Column]:
    """Aggregates every run keeps: the sensor's type and location, and the rule's severity as ``_severity``."""
    from pyspark.sql import functions as F

    return [
        F.first("sensor_type").alias("sensor_type"),
        F.first("location").alias("location"),
        F.first(severity).alias("_severity"),
    ]


def _island_resolution() -> Column:
    """The time of the first reading after an island of :func:`_islands` (null while it lasts)."""
    from pyspark.sql import functions as F

    return F.max(F.when(F.col("_next_flag") == F.lit(False), F.col("_next_us"))).alias("_resolved")


def prepared(readings: DataFrame, params: DataFrame) -> DataFrame:
    """Readings with parameters (:func:`with_params`), ``_us`` (event time in epoch microseconds), ``_rn`` (position
    in the sensor's order) and the previous and next reading's time and value."""
    from pyspark.sql import functions as F

    frame = with_params(readings, params).withColumn("_us", F.unix_micros("event_time"))
    w = _by_sensor()
    return frame.select(
        "*",
        F.row_number().over(w).alias("_rn"),
        F.lag("_us").over(w).alias("_prev_us"),
        F.lag("value").over(w).alias("_prev_value"),
        F.lead("_us").over(w).alias("_next_us"),
    )


def threshold_episodes(frame: DataFrame) -> DataFrame:
    """``threshold`` episodes of :func:`prepared` readings.

    A run starts at a reading outside [threshold_min, threshold_max] and lasts until a reading inside the limits
    narrowed by the hysteresis on each side (readings between the two count as neither). A run is an episode when
    it has ``threshold_min_readings`` offending readings, or spans ``threshold_min_seconds`` when that is above 0.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    low, high, value = F.col("threshold_min"), F.col("threshold_max"), F.col("value")
    hysteresis = F.col("threshold_hysteresis")
    clear = F.coalesce((value >= low + hysteresis) & (value <= high - hysteresis), F.lit(True))
    offending = F.coalesce((value < low) | (value > high), F.lit(False))
    w = _by_sensor()
    runs = frame.select(
        "*",
        clear.alias("_clear"),
        offending.alias("_off"),
        F.sum(clear.cast("int")).over(w.rowsBetween(Window.unboundedPreceding, 0)).alias("_run"),
        F.lead(clear).over(w).alias("_next_clear"),
    )
    beyond = F.greatest(value - high, low - value)
    grouped = (
        runs.where(~F.col("_clear"))
        .groupBy("sensor_id", "_run")
        .agg(
            *_run_names("threshold_severity"),
            F.first("threshold_min_readings").alias("_min_readings"),
            F.first("threshold_min_seconds").alias("_min_seconds"),
            F.min(F.when(F.col("_off"), F.col("_us"))).alias("_first"),
            F.max(F.when(F.col("_off"), F.col("_us"))).alias("_last"),
            F.max(F.when(F.col("_next_clear"), F.col("_next_us"))).alias("_resolved"),
            F.count(F.when(F.col("_off"), F.lit(1))).alias("_n"),
            F.max_by(value, F.when(F.col("_off"), beyond)).alias("_peak"),
            F.max_by(F.when(value > high, high).otherwise(low), F.when(F.col("_off"), beyond)).alias("_limit"),
        )
    )
    long_enough = (F.col("_n") >= F.col("_min_readings")) | (
        (F.col("_min_seconds") > 0) & ((F.col("_last") - F.col("_first")) >= F.col("_min_seconds") * 1_000_000)
    )
    side = F.when(F.col("_peak") > F.col("_limit"), F.lit("above")).otherwise(F.lit("below"))
    return grouped.where((F.col("_n") > 0) & long_enough).select(
        *_run_episode(
            RuleName.THRESHOLD,
            peak=F.col("_peak"),
            threshold=F.col("_limit"),
            readings=F.col("_n"),
            detail=F.format_string("%d readings %s %s", F.col("_n"), side, F.col("_limit").cast("string")),
        )
    )


def _islands(frame: DataFrame, flag: str) -> DataFrame:
    """``frame`` with ``_island`` (equal for consecutive rows where ``flag`` holds) and ``_next_flag`` (the flag of
    the sensor's next reading)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = _by_sensor()
    return frame.select(
        "*",
        F.sum((~F.col(flag)).cast("int")).over(w.rowsBetween(Window.unboundedPreceding, 0)).alias("_island"),
        F.lead(flag).over(w).alias("_next_flag"),
    )


def stuck_episodes(frame: DataFrame) -> DataFrame:
    """``stuck`` episodes of :func:`prepared` readings: stretches where each reading differs from the one before by
    no more than ``stuck_epsilon`` (0: the same value) and follows it within ``silent_seconds`` (a gap is the silent
    rule's, not a frozen value), lasting at least ``stuck_seconds``.

    An episode starts at the stretch's first reading, is last seen at its last and resolves at the first reading
    that breaks it (null while none has). One ordered pass: a stretch is a run between breaks, so the cost does not
    grow with the window's length.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    step = F.abs(F.col("value") - F.col("_prev_value"))
    gap = (F.col("_us") - F.col("_prev_us")) / 1_000_000
    limit = F.coalesce(F.col("silent_seconds"), F.col("stuck_seconds"))
    breaks = F.coalesce((step > F.col("stuck_epsilon")) | (gap > limit), F.lit(True))
    w = _by_sensor()
    stretches = frame.where(F.col("stuck_seconds").isNotNull()).select(
        "*", F.sum(breaks.cast("int")).over(w.rowsBetween(Window.unboundedPreceding, 0)).alias("_stretch")
    )
    grouped = stretches.groupBy("sensor_id", "_stretch").agg(
        *_run_names("stuck_severity"),
        F.first("stuck_epsilon").alias("_epsilon"),
        F.first("stuck_seconds").alias("_seconds"),
        F.min("_us").alias("_first"),
        F.max("_us").alias("_last"),
        F.max_by("_next_us", "_us").alias("_resolved"),
        F.count(F.lit(1)).alias("_n"),
        F.min_by("value", "_us").alias("_value"),
    )
    lasting = (F.col("_last") - F.col("_first")) >= F.col("_seconds") * 1_000_000
    return grouped.where(lasting).select(
        *_run_episode(
            RuleName.STUCK,
            peak=F.col("_value"),
            threshold=F.col("_epsilon"),
            readings=F.col("_n"),
            detail=F.format_string("value stayed at %s for %d readings", F.col("_value").cast("string"), F.col("_n")),
        )
    )


def gap_episodes(frame: DataFrame) -> DataFrame:
    """``silent`` episodes between two consecutive readings further apart than ``silent_seconds`` (resolved by the
    reading after the gap; ``peak_value`` is the gap in seconds)."""
    from pyspark.sql import functions as F

    gap = (F.col("_us") - F.col("_prev_us")) / 1_000_000
    gaps = frame.where(F.coalesce(gap > F.col("silent_seconds"), F.lit(False)))
    before = _instant(F.col("_prev_us"))
    return gaps.select(
        *_episode(
            RuleName.SILENT,
            severity=F.col("silent_severity"),
            state_open=F.lit(False),
            started=before,
            last_seen=before,
            resolved=F.col("event_time"),
            peak=gap,
            threshold=F.col("silent_seconds"),
            readings=F.lit(0),
            detail=F.format_string("no reading for %.1f s", gap),
        )
    )


def rate_episodes(frame: DataFrame) -> DataFrame:
    """``rate_of_change`` episodes: consecutive readings whose change from the previous reading, per second, is above
    ``rate_max_per_second`` (``started_at`` is the later reading of the first such pair; ``peak_value`` the largest
    rate)."""
    from pyspark.sql import functions as F

    rate = F.abs(F.col("value") - F.col("_prev_value")) / ((F.col("_us") - F.col("_prev_us")) / 1_000_000)
    flagged = frame.select("*", rate.alias("_rate")).withColumn(
        "_fast", F.coalesce(F.col("_rate") > F.col("rate_max_per_second"), F.lit(False))
    )
    grouped = (
        _islands(flagged, "_fast")
        .where(F.col("_fast"))
        .groupBy("sensor_id", "_island")
        .agg(
            *_run_names("rate_severity"),
            F.first("rate_max_per_second").alias("_limit"),
            F.min("_us").alias("_first"),
            F.max("_us").alias("_last"),
            _island_resolution(),
            F.count(F.lit(1)).alias("_n"),
            F.max("_rate").alias("_peak"),
        )
    )
    return grouped.select(
        *_run_episode(
            RuleName.RATE_OF_CHANGE,
            peak=F.col("_peak"),
            threshold=F.col("_limit"),
            readings=F.col("_n"),
            detail=F.format_string("changed up to %.3f per second", F.col("_peak")),
        )
    )


def reading_episodes(readings: DataFrame, params: DataFrame) -> DataFrame:
    """Every ``threshold``, ``stuck``, ``silent`` (gap) and ``rate_of_change`` episode of ``readings``.

    Args:
        readings: Rows with ``sensor_id``, ``sensor_type``, ``location``, ``value`` and ``event_time``, at most one
            per (sensor, event time).
        params: :func:`params_frame`'s output.

    Returns:
        Episodes with ``EPISODE_COLUMNS``.
    """
    frame = prepared(readings.select("sensor_id", "sensor_type", "location", "value", "event_time"), params)
    frame = frame.where("typed")
    episodes = threshold_episodes(frame).unionByName(stuck_episodes(frame))
    return episodes.unionByName(gap_episodes(frame)).unionByName(rate_episodes(frame))


def rejected_burst_episodes(readings: DataFrame, rejected: DataFrame, params: DataFrame) -> DataFrame:
    """``rejected_burst`` episodes: tumbling windows of ``rejected_window_seconds`` (aligned to the epoch) where a
    sensor's rejected records number at least ``rejected_min_records`` and exceed ``rejected_max_share`` of its
    records; consecutive such windows form one episode.

    It starts at the first rejected record's Kafka time and resolves at the end of its last window once the sensor
    has a record (valid or rejected) after it.

    Args:
        readings: Valid readings with ``sensor_id``, ``sensor_type``, ``location``, ``event_time``.
        rejected: Rejected records with ``record_key`` (the sensor id) and ``kafka_timestamp``.
        params: :func:`params_frame`'s output.

    Returns:
        Episodes with ``EPISODE_COLUMNS``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    records = _sensor_records(readings, rejected)
    windows = _record_windows(readings, records, params)
    latest = records.groupBy("sensor_id").agg(F.max("_us").alias("_latest"))
    share = F.col("_n_rejected") / F.col("_n")
    bursts = windows.where((F.col("_n_rejected") >= F.col("_min")) & (share > F.col("_share_max")))
    bursts = bursts.withColumn("_share", share).withColumn(
        "_episode", F.col("_window") - F.row_number().over(Window.partitionBy("sensor_id").orderBy("_window"))
    )
    grouped = (
        bursts.groupBy("sensor_id", "_episode")
        .agg(
            *_run_names("_severity"),
            F.first("_share_max").alias("_share_max"),
            F.min("_first").alias("_first"),
            F.max("_last").alias("_last"),
            ((F.max("_window") + 1) * F.first("_seconds") * 1_000_000).cast("bigint").alias("_end"),
            F.sum("_n_rejected").alias("_n"),
            F.max("_share").alias("_peak"),
        )
        .join(latest, "sensor_id")
    )
    return grouped.select(
        *_episode(
            RuleName.REJECTED_BURST,
            severity=F.col("_severity"),
            state_open=F.col("_latest") < F.col("_end"),
            started=_instant(F.col("_first")),
            last_seen=_instant(F.col("_last")),
            resolved=_instant(F.col("_end")),
            peak=F.col("_peak"),
            threshold=F.col("_share_max"),
            readings=F.col("_n"),
            detail=F.format_string(
                "%d records rejected, up to %.0f%% of the sensor's records", F.col("_n"), F.col("_peak") * 100
            ),
        )
    )


def _sensor_records(readings: DataFrame, rejected: DataFrame) -> DataFrame:
    """Every record of a sensor: ``sensor_id``, ``_us`` (the event time, or the Kafka time of a rejected record keyed
    by the sensor) and ``_rejected`` (1 or 0)."""
    from pyspark.sql import functions as F

    valid = readings.select("sensor_id", F.unix_micros("event_time").alias("_us"), F.lit(0).alias("_rejected"))
    return valid.unionByName(
        rejected.where(F.col("record_key").isNotNull() & F.col("kafka_timestamp").isNotNull()).select(
            F.col("record_key").alias("sensor_id"),
            F.unix_micros("kafka_timestamp").alias("_us"),
            F.lit(1).alias("_rejected"),
        )
    )


def _record_windows(readings: DataFrame, records: DataFrame, params: DataFrame) -> DataFrame:
    """Counts of :func:`_sensor_records` per sensor and tumbling window of its ``rejected_window_seconds``, with the
    rule's settings (a sensor's type and location come from its latest reading)."""
    from pyspark.sql import functions as F

    named = readings.groupBy("sensor_id").agg(
        F.max_by("sensor_type", "event_time").alias("sensor_type"), F.max_by("location", "event_time").alias("location")
    )
    keyed = records.join(named, "sensor_id", "left")
    frame = with_params(keyed, params).where(F.col("rejected_window_seconds").isNotNull())
    width = (F.col("rejected_window_seconds") * 1_000_000).cast("bigint")
    return (
        frame.withColumn("_window", F.floor(F.col("_us") / width))
        .groupBy("sensor_id", "_window")
        .agg(
            *_run_names("rejected_severity"),
            F.first("rejected_window_seconds").alias("_seconds"),
            F.first("rejected_max_share").alias("_share_max"),
            F.first("rejected_min_records").alias("_min"),
            F.sum("_rejected").alias("_n_rejected"),
            F.count(F.lit(1)).alias("_n"),
            F.min(F.when(F.col("_rejected") == 1, F.col("_us"))).alias("_first"),
            F.max(F.when(F.col("_rejected") == 1, F.col("_us"))).alias("_last"),
        )
    )
