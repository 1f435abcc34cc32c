"""CPU of one group store (DecisionStore.append_many, each decision's row with its review state, as a
quote group stores it) per group size, on SQLite and PostgreSQL: the client's process time, median of rounds.

    .venv/bin/python -m benchmarks.group_store_cpu [--reps 300] [--rounds 5] [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from scoring_service.storage.decisions import Append, DecisionStore
from tanxiao.platform import db

POLICY_TEXT = "version: bench-1\nrate_floor_bp: 25\n"
SIZES = (1, 2, 4, 8)


def _profile(n: int) -> dict[str, Any]:
    return {
        "uscc": f"9133050{n:011d}",
        "period": "2025",
        "intensity": {"tco2e_per_10k_yuan": "0.8123", "percentile": 37},
        "categories": [{"name": f"c{i}", "tco2e": f"{i * 12.5:.3f}"} for i in range(8)],
        "green_power_share": "0.21",
    }


def _item(profile: dict[str, Any]) -> Append:
    request_id = uuid.uuid4().hex
    content = {
        "terms": {"manual_review": False, "final_rate_bp": 385, "approved_limit_fen": 500_000_000},
        "inputs": {"request": {"amount_fen": 600_000_000, "tenor_months": 36}},
        "profile": profile,
        "reasons": ["a", "b", "c"],
    }
    return Append("bank-a", request_id, profile["uscc"], "LOW_CARBON_EXPANSION", request_id, content)


def measure(url: str, reps: int, rounds: int) -> dict[int, float]:
    engine = db.make_engine(url)
    store = DecisionStore(engine)
    profiles = [_profile(i) for i in range(16)]
    kwargs = {"policy_text": POLICY_TEXT, "policy_hash": "bench" * 8, "policy_version": "bench-1"}
    store.append_many([_item(profiles[0])], **kwargs)  # warm: policy, compiled caches
    out: dict[int, float] = {}
    for size in SIZES:
        medians = []
        for _ in range(rounds):
            groups = [[_item(profiles[(r + i) % 16]) for i in range(size)] for r in range(reps)]
            start = time.process_time()
            for group in groups:
                store.append_many(group, **kwargs)
            medians.append((time.process_time() - start) / reps)
        out[size] = statistics.median(medians)
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args = parser.parse_args()
    if args.only != "postgres":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            db.upgrade(url)
            _report("sqlite", measure(url, args.reps, args.rounds))
    if args.only != "sqlite":
        _report("postgres", _on_postgres(args.postgres, args.reps, args.rounds))


def _on_postgres(admin_url: str, reps: int, rounds: int) -> dict[int, float]:
    name = f"group_store_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        db.upgrade(url)
        return measure(url, reps, rounds)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _report(name: str, per_size: dict[int, float]) -> None:
    cells = "  ".join(
        f"n={n}: {us * 1e6:6.0f} us/group {us * 1e6 / n:5.0f} us/quote" for n, us in per_size.items()
    )
    print(f"{name:9s} {cells}", flush=True)


if __name__ == "__main__":
    main()
