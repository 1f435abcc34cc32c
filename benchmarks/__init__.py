"""Benchmark harness: ``make bench`` (``python -m benchmarks.run``).

Every case is measured against a ceiling measured in the same run on the same machine: a trivial
bytes->bytes unary echo served by the very same server plumbing (``tanxiao.platform.server``).
See ``benchmarks/run.py --help`` and docs/benchmarks.md.
"""
