"""Exactly-once ingestion: Kafka offsets -> ``iot.sensor_readings`` and ``iot.rejected_readings`` on Spark.

Each run reads from the offsets recorded in the newest ``sensor_readings`` snapshot summary carrying them (or,
when table maintenance expired every such snapshot, the offsets recovered from the stored rows: :mod:`.offsets`)
to the end of every partition (:mod:`.plan`), judges and de-duplicates the records (:mod:`.batch`), and commits
the new valid rows together with the new offsets in one Iceberg snapshot (:mod:`.commit`). A run that fails anywhere
before that commit leaves the offsets where they were, so the next run reads the same records again; rows already
stored (same sensor and event time) and rejected records already stored (same topic, partition and offset) are not
written twice.
"""
