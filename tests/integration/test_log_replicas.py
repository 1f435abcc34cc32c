"""Two scoring replicas and a standalone sequencer on one database (PostgreSQL, and SQLite too) under
concurrent quotes: no decision lost or duplicated, every inclusion proof verifies, the heads are
consistent with each other. A correctness test, not a timing."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent import futures
from dataclasses import replace

import grpc
import sqlalchemy as sa
from helpers import Registry
from test_scoring import FIRMS, LENDER, _quote, _seed

from scoring_service.app import start_scoring
from scoring_service.audit import verify_log
from scoring_service.log_keys import load_signing_key
from scoring_service.sequencer import Sequencer, SequencerThread
from scoring_service.storage.log import ENTRY_WITH_LEAF, LogStore
from scoring_service.storage.tables import log_decisions, log_leaves
from tanxiao.scoring.v1 import decision_log_pb2 as lpb
from tanxiao.scoring.v1 import decision_log_pb2_grpc, scoring_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.translog import verify_consistency, verify_inclusion

THREADS, PER_THREAD = 6, 12


def test_two_replicas_and_a_sequencer_lose_and_duplicate_nothing(
    registry: Registry, tmp_path: object
) -> None:
    _seed(registry)
    key_file = f"{tmp_path}/log.pem"
    base = replace(
        registry.settings,
        profile_cache_seconds=30.0,
        log_signing_key_file=key_file,
        log_merge_delay_seconds=0.2,
    )
    replicas = [
        start_scoring(
            replace(base, log_sequencer=True), "127.0.0.1:0", registry_addr=registry.server.address
        ),
        start_scoring(
            replace(base, log_sequencer=False), "127.0.0.1:0", registry_addr=registry.server.address
        ),
    ]
    standalone = SequencerThread(Sequencer(registry.engine, load_signing_key(key_file), batch_size=7), 0.05)
    standalone.start()
    channels = [grpc.insecure_channel(r.address) for r in replicas]
    try:
        stubs = [scoring_pb2_grpc.LoanScoringStub(c) for c in channels]
        names: dict[str, set[str]] = {}
        lock = threading.Lock()
        heads: list[lpb.SignedTreeHead] = []

        def client(t: int) -> None:
            log = decision_log_pb2_grpc.DecisionLogStub(channels[t % 2])
            for i in range(PER_THREAD):
                # Threads t and t + 3 send the same requests, each to another replica (a retry that
                # the load balancer sent elsewhere): every request is raced across the replicas.
                request_id = f"r-{t % 3}-{i}"
                uscc = FIRMS[(t % 3 + i) % len(FIRMS)]
                decision = stubs[t % 2].QuoteLoanTerms(_quote(uscc, spb.GENERAL, request_id), timeout=60)
                with lock:
                    names.setdefault(request_id, set()).add(decision.name)
                if i % 4 == 0:
                    head = log.GetSignedTreeHead(lpb.GetSignedTreeHeadRequest(), timeout=10)
                    with lock:
                        heads.append(head)

        with futures.ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(client, range(THREADS)))

        distinct = 3 * PER_THREAD
        assert len(names) == distinct and all(len(n) == 1 for n in names.values())  # one decision each
        _await_integrated(registry.engine, distinct)
        with registry.engine.connect() as connection:
            assert (
                connection.execute(sa.select(sa.func.count()).select_from(log_decisions)).scalar_one()
                == distinct
            )
            indexes = list(
                connection.execute(sa.select(log_leaves.c.idx).select_from(ENTRY_WITH_LEAF)).scalars()
            )
        assert None not in indexes and sorted(indexes) == list(range(distinct))  # every entry, no gap

        log = decision_log_pb2_grpc.DecisionLogStub(channels[1])
        for (name,) in names.values():
            proof = log.GetInclusionProof(lpb.GetInclusionProofRequest(decision=name), timeout=10)
            head = proof.signed_tree_head
            verify_inclusion(
                proof.leaf_index, head.tree_size, proof.leaf_hash, list(proof.hashes), head.root_hash
            )
            assert proof.lender == LENDER

        latest = log.GetSignedTreeHead(lpb.GetSignedTreeHeadRequest(), timeout=10)
        for head in heads:  # every head either replica served is extended by the latest
            if head.tree_size == 0:
                continue
            proof = log.GetConsistencyProof(
                lpb.GetConsistencyProofRequest(first_tree_size=head.tree_size), timeout=10
            )
            verify_consistency(
                head.tree_size, latest.tree_size, head.root_hash, latest.root_hash, list(proof.hashes)
            )
        stored = LogStore(registry.engine).heads()
        for older, newer in itertools.pairwise(stored):
            if older.tree_size == 0:  # the empty tree's head: every tree extends it
                continue
            _, _, proof_bytes = LogStore(registry.engine).consistency(older.tree_size, newer.tree_size)
            verify_consistency(
                older.tree_size, newer.tree_size, older.root_hash, newer.root_hash, proof_bytes
            )
        report = verify_log(registry.engine)
        assert report.ok, report.problems
    finally:
        standalone.stop()
        for channel in channels:
            channel.close()
        for replica in replicas:
            replica.stop(None)


def _await_integrated(engine: sa.Engine, expected: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            pending = connection.execute(
                sa.select(sa.func.count()).select_from(ENTRY_WITH_LEAF).where(log_leaves.c.idx.is_(None))
            ).scalar_one()
            heads = LogStore(engine).heads()
        if pending == 0 and heads and heads[-1].tree_size == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"not integrated in time: {pending} pending")
