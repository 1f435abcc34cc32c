"""The console under test (fixture ``site`` in conftest.py)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field


@dataclass
class ConsoleSite:
    url: str
    env: dict[str, str]
    tokens: dict[str, str]
    decision: str  # a huzhou-bank decision id (without "decisions/")
    uscc: str
    borrower: str  # a demo borrower of huzhou-bank with a commitment; consented by the demo data
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
