"""``iot.sensor_alerts`` and ``iot.sensor_state`` on Spark: incremental, re-runnable alert evaluation.

Each run evaluates the readings (and rejected records) ingested since the watermark recorded in the newest snapshot
summary of ``iot.sensor_alerts``: ``plan`` decides from where each affected sensor is evaluated again, ``read``
reads the new data and the look-back it needs (on Spark), the rules of ``transforms/alert_rules.py`` find the
episodes over those records collected into the run's process (grouped by sensor in the executors, through
``transforms/alerts.py``, when an evaluation is too large to collect), ``episodes`` adds the ones that follow from a
sensor's state (silent now, unknown sensor) and compares them with the stored ones, and ``write`` updates the sensor
state, then replaces the sensors' episodes together with the new watermark in one commit. Re-running over the same
readings changes nothing.
"""
