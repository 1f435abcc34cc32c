"""Wiring of the scoring process: LoanScoring and PortfolioReporting on one server, their database,
the registry channel and the loan policy."""

from __future__ import annotations

from scoring_service.portfolio_servicer import SERVICE as PORTFOLIO_SERVICE
from scoring_service.portfolio_servicer import PortfolioServicer
from scoring_service.pricing import Pricer, load_configured_policy
from scoring_service.registry_client import RegistryClient
from scoring_service.servicer import SERVICE, LoanScoringServicer
from scoring_service.storage.decisions import DecisionStore
from scoring_service.storage.loans import LoanRepository
from tanxiao.platform.auth import TokenStore
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine
from tanxiao.platform.server import RunningServer, ServiceBinding, start_server
from tanxiao.platform.tls import secure_channel
from tanxiao.portfolio.v1 import portfolio_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2_grpc


def start_scoring(
    settings: Settings, listen: str | None = None, registry_addr: str | None = None
) -> RunningServer:
    """Start LoanScoring on ``listen`` (default settings.scoring_listen), dialling the registry at
    ``registry_addr`` (default settings.registry_addr). The schema must be migrated."""
    engine = make_engine(
        settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms, pool_size=settings.max_workers
    )
    channel = secure_channel(
        registry_addr or settings.registry_addr,
        settings,
        options=[("grpc.max_receive_message_length", settings.max_message_bytes)],
    )
    try:
        store = DecisionStore(engine)
        registry = RegistryClient(channel, settings)
        pricer = Pricer(registry, store, load_configured_policy(settings))
        bindings = [
            ServiceBinding(
                SERVICE,
                LoanScoringServicer(pricer, store),
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
        ]
        running = start_server(
            "scoring", bindings, listen or settings.scoring_listen, settings, authenticator=TokenStore(engine)
        )
    except BaseException:
        channel.close()
        engine.dispose()
        raise
    running.on_stop.extend([channel.close, engine.dispose])
    return running
