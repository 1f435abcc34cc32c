"""A demo loan book over the demo registry: two lenders, loans by grade and product, some repaid.

Grade 1-2 borrowers get low-carbon expansion loans, the enterprises with a retrofit commitment get a
retrofit loan tied to it, everyone else working capital; a share of the loans has repayments since.
Every demo borrower has granted its lender consent (CARBON_DATA and FINANCIALS, one year), as a real
borrower does with its loan application: the lender's credit officers can open its enterprise page.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import sqlalchemy as sa

from registry_service.consent_store import ConsentRepository
from registry_service.storage.tables import carbon_profiles, commitments
from scoring_service.storage.loans import REPAYMENT, LoanRecord, LoanRepository
from scoring_service.storage.tables import loans as loans_table
from tanxiao.platform.db import read_only

LENDERS = ("lenders/huzhou-bank", "lenders/anji-rcb")


def load_demo_book(engine: sa.Engine, *, seed: int = 2026) -> int:
    """Record the demo loans (idempotent: existing loan ids are skipped); returns how many were new."""
    rng = np.random.default_rng(seed)
    year = date.today().year - 1
    with read_only(engine) as conn:
        grades = dict(
            conn.execute(
                sa.select(carbon_profiles.c.uscc, carbon_profiles.c.grade).where(
                    carbon_profiles.c.period == str(year)
                )
            ).all()
        )
        retrofits = {
            u: f"enterprises/{u}/commitments/{i}"
            for i, u in conn.execute(sa.select(commitments.c.id, commitments.c.uscc))
        }
    loans, repayments = [], []
    for n, (uscc, grade) in enumerate(sorted(grades.items())):
        lender = LENDERS[n % 3 == 0]
        product = (
            "HIGH_CARBON_RETROFIT"
            if uscc in retrofits
            else ("LOW_CARBON_EXPANSION" if grade in (1, 2) else "GENERAL")
        )
        committed = round(rng.uniform(3, 30)) * 1_000_000 * 100  # fen
        start = date(year, 1 + n % 12, 10)
        loan = LoanRecord(
            lender=lender, loan_id=f"DEMO-{n:04d}", uscc=uscc, product=product,
            committed_amount_fen=committed, outstanding_fen=committed, start_date=start,
            maturity_date=date(year + 3, start.month, 10),
            rate_bp=float(310 + (grade - 3) * 15 if grade else 345), commitment=retrofits.get(uscc, ""),
        )  # fmt: skip
        loans.append(loan)
        if n % 4 == 1:
            repayments.append((loan, date(year + 1, 3, 31), committed // 4))
    repository = LoanRepository(engine)
    created = repository.record_many(loans)
    if created:
        for loan, when, amount in repayments:
            repository.balance_event(
                loan.lender, loan.loan_id, when, REPAYMENT, amount, f"demo-repay-{loan.loan_id}"
            )
    return created


def grant_demo_consents(engine: sa.Engine, *, days: int = 365) -> int:
    """Record each demo borrower's consent to its lender (idempotent: a borrower with an active
    CARBON_DATA grant to that lender is skipped); returns how many grants were new."""
    with read_only(engine) as conn:
        pairs = conn.execute(
            sa.select(loans_table.c.uscc, loans_table.c.lender)
            .where(loans_table.c.loan_id.like("DEMO-%"))
            .distinct()
            .order_by(loans_table.c.uscc, loans_table.c.lender)
        ).all()
    repository = ConsentRepository(engine)
    expire = datetime.now(UTC) + timedelta(days=days)
    granted = 0
    for uscc, lender in pairs:
        if any("CARBON_DATA" in g.scopes for g in repository.list(uscc, lender)):
            continue
        repository.grant(
            uscc, lender, frozenset({"CARBON_DATA", "FINANCIALS"}), expire, "演示授权书 (demo)", "demo-data"
        )
        granted += 1
    return granted
