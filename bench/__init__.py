"""Benchmarks (run by hand; results in BENCHMARKS.md). A package so the tests share its server helpers."""
