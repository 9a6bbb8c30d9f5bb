"""Benchmarks printing ratios measured side by side (make bench)."""
