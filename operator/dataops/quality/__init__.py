"""Data quality: expectations evaluated by Great Expectations or by a single-pass Spark engine."""
