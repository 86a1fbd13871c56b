"""Benchmarks of icalendly_async: ``python -m benchmarks`` (see README.md)."""
