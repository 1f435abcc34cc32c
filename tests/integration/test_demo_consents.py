"""The demo data records each demo borrower's consent to its lender, once, so the lender's credit
officers can open their borrowers' enterprise pages after `make run` (docs/security.md). The whole
`tanxiao demo-data` is exercised by the console tests (tests/console/conftest.py), whose officer opens
a borrower's page under the consent the demo data recorded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from helpers import make_uscc

from registry_service.consent_store import ConsentRepository
from registry_service.demo_loader import grant_demo_consents
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from scoring_service.demo_book import LENDERS, demo_borrowers
from scoring_service.storage.loans import LoanRecord, LoanRepository
from tanxiao.platform.db import make_engine

BORROWERS = {make_uscc(700 + n): LENDERS[n % 3 == 0] for n in range(5)}


def _loan(lender: str, loan_id: str, uscc: str) -> LoanRecord:
    return LoanRecord(
        lender=lender,
        loan_id=loan_id,
        uscc=uscc,
        product="GENERAL",
        committed_amount_fen=10**9,
        outstanding_fen=10**9,
        start_date=date(2025, 1, 10),
        maturity_date=date(2028, 1, 10),
        rate_bp=345.0,
    )


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    EnterpriseRepository(engine).create_many(
        [Enterprise(uscc, f"演示企业{n}", "2825", "330502") for n, uscc in enumerate(BORROWERS)]
    )
    loans = [_loan(lender, f"DEMO-{n:04d}", uscc) for n, (uscc, lender) in enumerate(BORROWERS.items())]
    # a loan that is not the demo's (no DEMO- id) gets no consent from the demo data
    loans.append(_loan(LENDERS[0], "REAL-1", make_uscc(700)))
    LoanRepository(engine).record_many(loans)
    try:
        yield engine
    finally:
        engine.dispose()


def test_every_demo_borrower_consents_to_its_lender_and_to_no_other(engine: sa.Engine) -> None:
    assert grant_demo_consents(engine, demo_borrowers(engine)) == len(BORROWERS)
    # idempotent: `make run` loads demo data on every start
    assert grant_demo_consents(engine, demo_borrowers(engine)) == 0
    repository = ConsentRepository(engine)
    for uscc, lender in BORROWERS.items():
        (grant,) = repository.list(uscc)  # its lender's, and no other lender's
        assert grant.lender == lender and grant.scopes == {"CARBON_DATA", "FINANCIALS"}
        assert grant.reference.startswith("演示授权书")
    for lender in LENDERS:
        assert repository.consenting(lender, "CARBON_DATA") == sorted(
            uscc for uscc, owner in BORROWERS.items() if owner == lender
        )
