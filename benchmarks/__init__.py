"""Benchmarks of the engine against a per-agent Mesa reference and the bare numpy floor (``python -m benchmarks``).

Measured here, never in timed tests. See ``benchmarks/README.md`` for what every number means.
"""
