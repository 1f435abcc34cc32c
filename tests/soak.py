"""Long soak (`make soak`): the soak tests with phases of minutes instead of seconds.

    python tests/soak.py [--seconds N] [extra pytest arguments]

Sets TANXIAO_SOAK=long (and TANXIAO_SOAK_SECONDS when --seconds is given) and runs
tests/integration/test_soak.py: the load (streaming ingest, quotes, reports), the same load beside
idle streams (cancelled after the idle timeout) and slow ones (completed), and the PostgreSQL replica
test (it fails when CI=true and the PostgreSQL at TANXIAO_TEST_POSTGRES_URL is unreachable, and skips
otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

SOAK_TESTS = Path(__file__).resolve().parent / "integration" / "test_soak.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, help="length of each soak phase (default 300)")
    args, extra = parser.parse_known_args(argv)
    os.environ["TANXIAO_SOAK"] = "long"
    if args.seconds is not None:
        os.environ["TANXIAO_SOAK_SECONDS"] = str(args.seconds)
    return int(pytest.main([str(SOAK_TESTS), "-v", "-p", "no:cacheprovider", *extra]))


if __name__ == "__main__":
    sys.exit(main())
