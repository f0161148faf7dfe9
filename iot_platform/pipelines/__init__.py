"""The Spark work of each asset, without Dagster: one package per asset, read -> transform -> write."""
