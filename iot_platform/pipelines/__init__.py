"""The Spark work of each asset, without Dagster: each pipeline plans, reads, transforms and writes."""
