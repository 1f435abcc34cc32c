"""The demo data records each demo borrower's consent to its lender, once, so the lender's credit
officers can open their borrowers' enterprise pages after `make run` (docs/security.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from helpers import DEVELOPMENT

from registry_service.consent_store import ConsentRepository
from registry_service.demo_loader import load_demo
from scoring_service.demo_book import grant_demo_consents, load_demo_book
from scoring_service.storage.tables import loans
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    settings = Settings.from_env({"TANXIAO_DATABASE_URL": db_url, **DEVELOPMENT})
    load_demo(settings, enterprises=8)
    engine = make_engine(db_url)
    load_demo_book(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_every_demo_borrower_consents_to_its_lender_and_to_no_other(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        pairs = set(conn.execute(sa.select(loans.c.uscc, loans.c.lender).distinct()).all())
    assert {lender for _uscc, lender in pairs} == {"lenders/huzhou-bank", "lenders/anji-rcb"}
    assert grant_demo_consents(engine) == len(pairs)
    assert grant_demo_consents(engine) == 0  # idempotent: `make run` loads demo data on every start
    repository = ConsentRepository(engine)
    for uscc, lender in pairs:
        (grant,) = repository.list(uscc)  # the lender's, and no other lender's
        assert grant.lender == lender and grant.scopes == {"CARBON_DATA", "FINANCIALS"}
        assert grant.reference.startswith("演示授权书")
    assert set(repository.consenting("lenders/huzhou-bank", "CARBON_DATA")) == {
        uscc for uscc, lender in pairs if lender == "lenders/huzhou-bank"
    }
