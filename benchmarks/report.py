"""The table (terminal and Markdown) and the machine description."""

from __future__ import annotations

import os
import platform
import re
from importlib import metadata
from pathlib import Path

from benchmarks.core import Row

HEADER = ("case", "size", "metric", "value", "ratio to echo", "growth", "target", "result", "note")


def fmt_value(row: Row) -> str:
    if row.value is None:
        return "—"
    if row.unit in ("ms", "s"):
        return f"{row.value:,.2f} {row.unit}"
    return f"{row.value:,.0f}"


def cells(row: Row) -> list[str]:
    return [
        row.case,
        row.size,
        row.metric,
        fmt_value(row),
        f"{row.ratio:.2f}" if row.ratio is not None else "",
        row.growth,
        row.target,
        row.status,
        row.note,
    ]


def text_table(rows: list[Row]) -> str:
    body = [list(HEADER), *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in body) for i in range(len(HEADER) - 1)]
    out = []
    for n, line in enumerate(body):
        out.append("  ".join(c.ljust(w) for c, w in zip(line[:-1], widths, strict=True)) + "  " + line[-1])
        if n == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
    return "\n".join(out)


def markdown_table(rows: list[Row]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(esc(c) for c in cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine(pg_version: str = "") -> list[tuple[str, str]]:
    cpuinfo = _read("/proc/cpuinfo")
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.M)
    os_name = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', _read("/etc/os-release"), re.M)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "?"

    items = [
        ("CPU", f"{models[0] if models else platform.processor() or '?'}"),
        ("cores", f"{len(models) or os.cpu_count()} logical in /proc/cpuinfo, {usable} usable here"),
        ("RAM", f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "?"),
        ("OS", f"{os_name.group(1) if os_name else platform.system()} (kernel {platform.release()})"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        (
            "libraries",
            ", ".join(
                f"{d} {version(d)}"
                for d in ("grpcio", "protobuf", "numpy", "pandas", "SQLAlchemy", "psycopg")
            ),
        ),
        ("load average at start", " / ".join(f"{x:.2f}" for x in load) + " (1/5/15 min)"),
    ]
    if pg_version:
        items.append(("PostgreSQL", pg_version))
    return items
