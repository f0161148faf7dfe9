"""Iceberg table maintenance and retention of the platform's tables."""
