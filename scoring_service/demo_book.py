"""A demo loan book over the demo registry: two lenders, loans by grade and product, some repaid.

Grade 1-2 borrowers get low-carbon expansion loans, the enterprises with a retrofit commitment get a
retrofit loan tied to it (use of proceeds 1.5 节能改造), everyone else working capital; a share of the
loans has repayments since.
Every demo borrower has granted its lender consent (CARBON_DATA and FINANCIALS, one year), as a real
borrower does with its loan application: the lender's credit officers can open its enterprise page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import sqlalchemy as sa

from scoring_service.storage.loans import REPAYMENT, LoanRecord, LoanRepository
from scoring_service.storage.tables import loans as loans_table
from tanxiao.platform.db import read_only

LENDERS = ("lenders/huzhou-bank", "lenders/anji-rcb")


def demo_year() -> int:
    """The year whose graded profiles the demo book lends on: last year."""
    return date.today().year - 1


def load_demo_book(
    engine: sa.Engine,
    grades: Mapping[str, int],
    retrofits: Mapping[str, str],
    *,
    seed: int = 2026,
) -> int:
    """Record the demo loans (idempotent: existing loan ids are skipped); returns how many were new.

    ``grades``: USCC -> grade (0-5) of the borrowers' profiles of :func:`demo_year`; ``retrofits``: USCC
    -> the name of its retrofit commitment. The registry's data comes in as arguments (the composition
    root, ``tanxiao demo-data``, reads it from the registry): scoring never reads registry tables."""
    rng = np.random.default_rng(seed)
    year = demo_year()
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
            # retrofit loans finance energy-saving retrofits (green catalogue 1.5 节能改造): green, and
            # candidates for the carbon emission reduction facility when priced at about the LPR
            green_category="1.5" if uscc in retrofits else "",
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


def demo_borrowers(engine: sa.Engine) -> list[tuple[str, str]]:
    """(uscc, lender) of every demo loan, for the CLI to record each borrower's consent to its lender in
    the registry (registry_service.demo_loader.grant_demo_consents)."""
    with read_only(engine) as conn:
        pairs = conn.execute(
            sa.select(loans_table.c.uscc, loans_table.c.lender)
            .where(loans_table.c.loan_id.like("DEMO-%"))
            .distinct()
            .order_by(loans_table.c.uscc, loans_table.c.lender)
        ).all()
    return [(str(uscc), str(lender)) for uscc, lender in pairs]
