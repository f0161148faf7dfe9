"""``iot.sensor_alerts`` and ``iot.sensor_state``: incremental, re-runnable alert evaluation.

Each run evaluates the readings (and rejected records) ingested since the watermark recorded in the newest snapshot
summary of ``iot.sensor_alerts``: ``plan`` decides from where each affected sensor is evaluated again, ``scan``
reads the new data and the look-back it needs from the tables' files into the run's process, where the rules of
``transforms/alert_rules.py`` find the episodes (an evaluation too large for that reads on Spark with ``read`` and
runs the rules grouped by sensor in the executors, through ``transforms/alerts.py``), ``episodes`` adds the ones
that follow from a sensor's state (silent now, unknown sensor) and compares them with the stored ones, and ``write``
updates the sensor state, then replaces the sensors' episodes together with the new watermark in one commit.
Re-running over the same readings changes nothing.
"""
