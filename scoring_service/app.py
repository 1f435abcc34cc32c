"""Wiring of the scoring process: LoanScoring and PortfolioReporting on one server, their database,
the registry channel and the loan policy."""

from __future__ import annotations

from sqlalchemy import Engine

from scoring_service.consent_check import ConsentChecker
from scoring_service.log_keys import load_signing_key
from scoring_service.log_servicer import SERVICE as LOG_SERVICE
from scoring_service.log_servicer import DecisionLogServicer
from scoring_service.portfolio_servicer import SERVICE as PORTFOLIO_SERVICE
from scoring_service.portfolio_servicer import PortfolioServicer
from scoring_service.pricing import Pricer, load_configured_policy
from scoring_service.registry_client import RegistryClient
from scoring_service.sequencer import Sequencer, SequencerThread
from scoring_service.servicer import SERVICE, LoanScoringServicer
from scoring_service.storage.decisions import DecisionStore
from scoring_service.storage.loans import LoanRepository
from scoring_service.storage.log import LogStore
from tanxiao.platform.auth import TokenStore
from tanxiao.platform.config import Settings
from tanxiao.platform.db import WalCheckpointer, make_engine
from tanxiao.platform.observability import client_channel
from tanxiao.platform.server import RunningServer, ServiceBinding, freeze_start_up_heap, start_server
from tanxiao.platform.tls import secure_channel
from tanxiao.portfolio.v1 import portfolio_pb2_grpc
from tanxiao.registry.v1.registry_pb2 import DESCRIPTOR as REGISTRY_PROTO
from tanxiao.scoring.v1 import decision_log_pb2_grpc, scoring_pb2_grpc

REGISTRY_SERVICE = REGISTRY_PROTO.services_by_name["CarbonRegistry"].full_name


def start_scoring(
    settings: Settings, listen: str | None = None, registry_addr: str | None = None
) -> RunningServer:
    """Start LoanScoring on ``listen`` (default settings.scoring_listen), dialling the registry at
    ``registry_addr`` (default settings.registry_addr). The schema must be migrated."""
    engine = make_engine(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.max_workers,
        background_checkpoint=True,  # quote groups' commits skip the WAL checkpoint: a thread runs it
    )
    channel = secure_channel(
        registry_addr or settings.registry_addr,
        settings,
        options=[("grpc.max_receive_message_length", settings.max_message_bytes)],
    )
    try:
        store = DecisionStore(engine, merge_delay_seconds=settings.log_merge_delay_seconds)
        log_store = LogStore(engine)
        registry = RegistryClient(client_channel("scoring", channel), settings)  # request id, trace
        pricer = Pricer(registry, store, load_configured_policy(settings))
        bindings = [
            ServiceBinding(
                SERVICE,
                LoanScoringServicer(pricer, store, ConsentChecker(channel, settings)),
                scoring_pb2_grpc.add_LoanScoringServicer_to_server,
            ),
            ServiceBinding(
                PORTFOLIO_SERVICE,
                PortfolioServicer(
                    LoanRepository(engine),
                    registry,
                    store,
                    max_loan_amount_fen=settings.max_loan_amount_fen,
                    min_cell_size=settings.min_cell_size,
                ),
                portfolio_pb2_grpc.add_PortfolioReportingServicer_to_server,
            ),
            ServiceBinding(
                LOG_SERVICE,
                DecisionLogServicer(log_store, store),
                decision_log_pb2_grpc.add_DecisionLogServicer_to_server,
            ),
        ]
        sequencer = _sequencer(settings, engine)  # the key is loaded before serving: a bad key fails here
        running = start_server(
            "scoring",
            bindings,
            listen or settings.scoring_listen,
            settings,
            authenticator=TokenStore(engine, ttl_seconds=settings.token_cache_seconds),
        )
    except BaseException:
        channel.close()
        engine.dispose()
        raise
    checkpointer = WalCheckpointer(engine).start()  # SQLite only
    if sequencer is not None:
        running.on_stop.append(sequencer.start().stop)
    running.on_stop.extend(
        [registry.start_watching(channel), channel.close, checkpointer.stop, engine.dispose]
    )
    if running.observability is not None:  # pool gauges; readiness follows the database and the registry
        running.observability.watch_database(engine)
        running.observability.watch_upstream("registry", channel, REGISTRY_SERVICE)
    freeze_start_up_heap(running)  # again: the policy, sequencer and registry channel made since
    return running


def _sequencer(settings: Settings, engine: Engine) -> SequencerThread | None:
    """The decision-log sequencer thread (one per replica; a lock lets one integrate at a time),
    running four times per merge delay so an entry waits at most about a quarter of it plus a batch."""
    if not settings.log_sequencer:
        return None
    key = load_signing_key(settings.log_signing_key_file)
    sequencer = Sequencer(engine, key, batch_size=settings.log_batch_size)
    return SequencerThread(sequencer, settings.log_merge_delay_seconds / 4)
