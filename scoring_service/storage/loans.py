"""The loan book (SQLAlchemy Core): loans and their balance history.

A balance is never overwritten: each drawdown, repayment, stated balance or close is an event with the
outstanding after it, so the book can be read as of any date (the report's as-of and compare dates).
Every write is idempotent by (lender, request_id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from scoring_service.storage.tables import loan_balance_events, loans
from tanxiao.errors import AlreadyExists, FailedPrecondition, NotFound, ValidationError
from tanxiao.platform.db import read_only
from tanxiao.platform.idempotency import run_in_transaction
from tanxiao.platform.paging import decode_page_token, encode_page_token, filter_fingerprint, page_size_of

START, DRAWDOWN, REPAYMENT, BALANCE, CLOSE = "START", "DRAWDOWN", "REPAYMENT", "BALANCE", "CLOSE"
BOOK_COLUMNS = (
    "lender",
    "loan_id",
    "uscc",
    "product",
    "commitment",
    "outstanding_fen",
    "rate_bp",
    "start_date",
    "committed_amount_fen",
    "green_category",
    "co2_reduced_tco2_per_year",
    "energy_saved_tce_per_year",
    "benefit_factors",
    "maturity_date",
)


@dataclass(frozen=True)
class LoanRecord:
    lender: str
    loan_id: str
    uscc: str
    product: str
    committed_amount_fen: int  # fen (1 yuan = 100 fen)
    outstanding_fen: int
    start_date: date
    maturity_date: date
    rate_bp: float
    currency: str = "CNY"
    decision_id: str | None = None
    commitment: str = ""
    close_date: date | None = None
    balance_as_of: date | None = None
    create_time: datetime | None = None
    # Use of proceeds (green catalogue code, "" = unclassified) and benefits a year at origination.
    green_category: str = ""
    co2_reduced_tco2_per_year: float = 0.0
    energy_saved_tce_per_year: float = 0.0
    benefit_factors: str = ""


class LoanRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, loan: LoanRecord, request_id: str = "") -> LoanRecord:
        def work(conn: Connection) -> LoanRecord:
            if request_id and (same := self._by_request(conn, loan.lender, request_id)) is not None:
                return self._get(conn, loan.lender, same, None)
            if self._exists(conn, loan.lender, loan.loan_id):
                raise AlreadyExists(
                    f"loan {loan.loan_id} of {loan.lender} is already recorded", reason="LOAN_EXISTS"
                )
            now = datetime.now(UTC)
            conn.execute(loans.insert().values(**_loan_row(loan, request_id or None, now)))
            conn.execute(loan_balance_events.insert().values(**_start_event(loan, now)))
            return self._get(conn, loan.lender, loan.loan_id, None)

        return run_in_transaction(self.engine, work)

    def record_many(self, items: Sequence[LoanRecord]) -> int:
        """Bulk insert (imports): loans already recorded are skipped; returns how many were recorded."""
        if not items:
            return 0

        def work(conn: Connection) -> int:
            query = sa.select(loans.c.lender, loans.c.loan_id).where(
                loans.c.lender.in_({i.lender for i in items})
            )
            existing = {(lender, loan_id) for lender, loan_id in conn.execute(query)}
            fresh = [i for i in items if (i.lender, i.loan_id) not in existing]
            now = datetime.now(UTC)
            if fresh:
                conn.execute(loans.insert(), [_loan_row(i, None, now) for i in fresh])
                conn.execute(loan_balance_events.insert(), [_start_event(i, now) for i in fresh])
            return len(fresh)

        return run_in_transaction(self.engine, work)

    def balance_event(
        self, lender: str, loan_id: str, as_of: date, kind: str, amount: int, request_id: str = ""
    ) -> LoanRecord:
        """Add a DRAWDOWN / REPAYMENT / BALANCE / CLOSE event; the outstanding after it is derived."""

        def work(conn: Connection) -> LoanRecord:
            if request_id and self._event_by_request(conn, lender, request_id):
                return self._get(conn, lender, loan_id, None)
            current = self._get(conn, lender, loan_id, None)
            if current.close_date is not None:
                raise FailedPrecondition(
                    f"loan {loan_id} was closed on {current.close_date}", reason="LOAN_CLOSED"
                )
            last = conn.execute(
                sa.select(sa.func.max(loan_balance_events.c.as_of_date)).where(*_key(lender, loan_id))
            ).scalar_one()
            field = "close_date" if kind == CLOSE else "as_of_date"
            if as_of < current.start_date or (last is not None and as_of < last):
                raise ValidationError.for_field(
                    field, f"must not be before the loan's last balance date {last}"
                )
            outstanding = _after(kind, current.outstanding_fen, amount, current.committed_amount_fen)
            conn.execute(loan_balance_events.insert().values(
                lender=lender, loan_id=loan_id, as_of_date=as_of, kind=kind, amount_fen=amount,
                outstanding_fen=outstanding, request_id=request_id or None, record_time=datetime.now(UTC),
            ))  # fmt: skip
            if kind == CLOSE:
                conn.execute(loans.update().where(*_loan_key(lender, loan_id)).values(close_date=as_of))
            return self._get(conn, lender, loan_id, None)

        return run_in_transaction(self.engine, work)

    def get(self, lender: str, loan_id: str, as_of: date | None = None) -> LoanRecord:
        with read_only(self.engine) as conn:
            return self._get(conn, lender, loan_id, as_of)

    def page(self, lender: str, page_size: int, page_token: str) -> tuple[list[LoanRecord], str]:
        size = page_size_of(page_size)
        fingerprint = filter_fingerprint("loans", lender)
        after = decode_page_token(page_token, fingerprint, shape=(str,))
        query = sa.select(loans.c.loan_id).where(loans.c.lender == lender)
        if after:
            query = query.where(loans.c.loan_id > str(after[0]))
        with read_only(self.engine) as conn:
            ids = list(conn.execute(query.order_by(loans.c.loan_id).limit(size + 1)).scalars())
            items = [self._get(conn, lender, i, None) for i in ids[:size]]
        token = encode_page_token([ids[size - 1]], fingerprint) if len(ids) > size else ""
        return items, token

    def book(self, as_of: date, lender: str | None = None) -> pd.DataFrame:
        """Loans with a positive outstanding on ``as_of`` (BOOK_COLUMNS), of one lender or all."""
        ranked = (
            sa.select(
                loan_balance_events.c.lender,
                loan_balance_events.c.loan_id,
                loan_balance_events.c.outstanding_fen,
                sa.func.row_number()
                .over(
                    partition_by=(loan_balance_events.c.lender, loan_balance_events.c.loan_id),
                    order_by=(loan_balance_events.c.as_of_date.desc(), loan_balance_events.c.id.desc()),
                )
                .label("rank"),
            )
            .where(loan_balance_events.c.as_of_date <= as_of)
            .subquery()
        )
        query = (
            sa.select(
                loans.c.lender,
                loans.c.loan_id,
                loans.c.uscc,
                loans.c.product,
                loans.c.commitment,
                ranked.c.outstanding_fen,
                loans.c.rate_bp,
                loans.c.start_date,
                loans.c.committed_amount_fen,
                loans.c.green_category,
                loans.c.co2_reduced_tco2_per_year,
                loans.c.energy_saved_tce_per_year,
                loans.c.benefit_factors,
                loans.c.maturity_date,
            )
            .join(ranked, sa.and_(ranked.c.lender == loans.c.lender, ranked.c.loan_id == loans.c.loan_id))
            .where(ranked.c.rank == 1, ranked.c.outstanding_fen > 0)
        )
        if lender is not None:
            query = query.where(loans.c.lender == lender)
        with read_only(self.engine) as conn:
            rows = conn.execute(query.order_by(loans.c.lender, loans.c.loan_id)).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=list(BOOK_COLUMNS))

    def disbursement_events(self, until: date, lender: str | None = None) -> pd.DataFrame:
        """Every balance event up to ``until`` with its loan's attributes (loan name, lender, uscc,
        product, rate_bp, start_date, maturity_date, kind, as_of_date, amount_fen)."""
        e = loan_balance_events.c
        query = (
            sa.select(
                loans.c.lender, loans.c.loan_id, loans.c.uscc, loans.c.product, loans.c.rate_bp,
                loans.c.start_date, loans.c.maturity_date, e.kind, e.as_of_date, e.amount_fen,
            )
            .join(loans, sa.and_(loans.c.lender == e.lender, loans.c.loan_id == e.loan_id))
            .where(e.as_of_date <= until)
        )  # fmt: skip
        if lender is not None:
            query = query.where(loans.c.lender == lender)
        with read_only(self.engine) as conn:
            rows = conn.execute(query.order_by(e.id)).all()
        columns = ["lender", "loan_id", "uscc", "product", "rate_bp", "start_date", "maturity_date", "kind",
                   "as_of_date", "amount_fen"]  # fmt: skip
        frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
        frame.insert(0, "loan", frame["lender"] + "/loans/" + frame["loan_id"])
        return frame

    # --- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _by_request(conn: Connection, lender: str, request_id: str) -> str | None:
        query = sa.select(loans.c.loan_id).where(loans.c.lender == lender, loans.c.request_id == request_id)
        return conn.execute(query).scalar_one_or_none()

    @staticmethod
    def _event_by_request(conn: Connection, lender: str, request_id: str) -> bool:
        query = sa.select(loan_balance_events.c.id).where(
            loan_balance_events.c.lender == lender, loan_balance_events.c.request_id == request_id
        )
        return conn.execute(query).first() is not None

    @staticmethod
    def _exists(conn: Connection, lender: str, loan_id: str) -> bool:
        return conn.execute(sa.select(loans.c.loan_id).where(*_loan_key(lender, loan_id))).first() is not None

    @staticmethod
    def _get(conn: Connection, lender: str, loan_id: str, as_of: date | None) -> LoanRecord:
        row = conn.execute(sa.select(loans).where(*_loan_key(lender, loan_id))).mappings().first()
        if row is None:
            raise NotFound(f"loan {loan_id} of {lender} not found", reason="LOAN_NOT_FOUND")
        events = sa.select(loan_balance_events.c.as_of_date, loan_balance_events.c.outstanding_fen).where(
            *_key(lender, loan_id)
        )
        if as_of is not None:
            events = events.where(loan_balance_events.c.as_of_date <= as_of)
        last = conn.execute(
            events.order_by(loan_balance_events.c.as_of_date.desc(), loan_balance_events.c.id.desc()).limit(1)
        ).first()
        return LoanRecord(
            lender=row["lender"], loan_id=row["loan_id"], uscc=row["uscc"], product=row["product"],
            committed_amount_fen=int(row["committed_amount_fen"]),
            outstanding_fen=int(last[1]) if last else 0,
            start_date=row["start_date"], maturity_date=row["maturity_date"], rate_bp=row["rate_bp"],
            currency=row["currency"], decision_id=row["decision_id"], commitment=row["commitment"],
            close_date=row["close_date"], balance_as_of=last[0] if last else None,
            create_time=row["create_time"], green_category=row["green_category"],
            co2_reduced_tco2_per_year=row["co2_reduced_tco2_per_year"],
            energy_saved_tce_per_year=row["energy_saved_tce_per_year"],
            benefit_factors=row["benefit_factors"],
        )  # fmt: skip


def _after(kind: str, outstanding: int, amount: int, committed: int) -> int:
    """The outstanding after an event, in fen (exact integers: no tolerance needed)."""
    field = {DRAWDOWN: "drawdown_fen", REPAYMENT: "repayment_fen", BALANCE: "outstanding_fen"}.get(kind, "")
    if kind == DRAWDOWN:
        value = outstanding + amount
    elif kind == REPAYMENT:
        value = outstanding - amount
        if value < 0:
            raise ValidationError.for_field(
                field, f"repays {_yuan(amount)} but only {_yuan(outstanding)} is outstanding"
            )
    elif kind == BALANCE:
        value = amount
    else:
        return 0
    if value > committed:
        raise ValidationError.for_field(
            field, f"outstanding would be {_yuan(value)}, above the committed {_yuan(committed)}"
        )
    return value


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d} yuan" if fen >= 0 else f"-{_yuan(-fen)}"


def _loan_row(loan: LoanRecord, request_id: str | None, now: datetime) -> dict[str, Any]:
    return {
        "lender": loan.lender, "loan_id": loan.loan_id, "uscc": loan.uscc, "product": loan.product,
        "decision_id": loan.decision_id, "commitment": loan.commitment,
        "committed_amount_fen": loan.committed_amount_fen, "currency": loan.currency,
        "start_date": loan.start_date, "maturity_date": loan.maturity_date, "rate_bp": loan.rate_bp,
        "close_date": None, "request_id": request_id, "create_time": now,
        "green_category": loan.green_category, "co2_reduced_tco2_per_year": loan.co2_reduced_tco2_per_year,
        "energy_saved_tce_per_year": loan.energy_saved_tce_per_year, "benefit_factors": loan.benefit_factors,
    }  # fmt: skip


def _start_event(loan: LoanRecord, now: datetime) -> dict[str, Any]:
    return {
        "lender": loan.lender, "loan_id": loan.loan_id, "as_of_date": loan.start_date, "kind": START,
        "amount_fen": loan.outstanding_fen, "outstanding_fen": loan.outstanding_fen, "request_id": None,
        "record_time": now,
    }  # fmt: skip


def _loan_key(lender: str, loan_id: str) -> list[sa.ColumnElement[bool]]:
    return [loans.c.lender == lender, loans.c.loan_id == loan_id]


def _key(lender: str, loan_id: str) -> list[sa.ColumnElement[bool]]:
    return [loan_balance_events.c.lender == lender, loan_balance_events.c.loan_id == loan_id]


def with_balance(loan: LoanRecord, outstanding: int) -> LoanRecord:
    return replace(loan, outstanding_fen=outstanding)
