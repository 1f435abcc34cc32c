"""Loan-book requests: validation of RecordLoan / UpdateLoanBalance / CloseLoan and of loan files
(`tanxiao import loans`), and Loan messages. Every bad field is named; nothing is half-written."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
from google.protobuf.timestamp_pb2 import Timestamp

from scoring_service.inputs import LENDER
from scoring_service.portfolio.green import is_category
from scoring_service.storage.decisions import DecisionStore
from scoring_service.storage.loans import LoanRecord
from tanxiao.enum_names import enum_name, enum_value
from tanxiao.errors import FieldViolation, ValidationError
from tanxiao.portfolio.v1 import portfolio_pb2
from tanxiao.scoring.v1 import scoring_pb2
from tanxiao.standards.uscc import InvalidUSCC, normalize_uscc

LOAN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
PRODUCTS = ("LOW_CARBON_EXPANSION", "HIGH_CARBON_RETROFIT", "GENERAL")
# A loan file's columns; amounts in yuan with at most two decimals (converted exactly to fen).
LOAN_COLUMNS = (
    "lender", "loan_id", "enterprise", "product", "committed_amount_cny", "outstanding_cny", "currency",
    "start_date", "maturity_date", "rate_bp",
)  # fmt: skip
# Largest committed amount accepted when the caller passes none (Settings.max_loan_amount_fen).
DEFAULT_MAX_AMOUNT_FEN = 10**13
# Plausible bound of one loan's yearly benefit (tCO2 or tce): a large coal plant emits ~10^7 t a year.
MAX_BENEFIT = 1e8
FEN_PER_YUAN = 100


def loan_name(lender: str, loan_id: str) -> str:
    return f"{lender}/loans/{loan_id}"


def parse_loan_name(name: str, field: str = "name") -> tuple[str, str]:
    lender, sep, loan_id = name.strip().partition("/loans/")
    if not sep or not LENDER.match(lender) or not LOAN_ID.match(loan_id):
        raise ValidationError.for_field(field, "must be lenders/{lender}/loans/{loan_id}")
    return lender, loan_id


def parse_date(text: str, field: str, problems: list[FieldViolation]) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        problems.append(FieldViolation(field, "must be a date, YYYY-MM-DD"))
        return None


def loan_from_request(
    request: portfolio_pb2.RecordLoanRequest,
    decisions: DecisionStore,
    max_amount_fen: int = DEFAULT_MAX_AMOUNT_FEN,
) -> LoanRecord:
    """The loan to record; enterprise, product and rate default from the decision when one is named."""
    problems: list[FieldViolation] = []
    enterprise, product, rate, commitment = (
        request.enterprise,
        enum_name(scoring_pb2.Product, request.product),
        request.rate_bp,
        request.commitment,
    )
    decision_id = None
    if request.decision:
        decision_id = request.decision.removeprefix("decisions/")
        content = decisions.get(decision_id).content
        if content["lender"] != request.lender:
            problems.append(FieldViolation("decision", "belongs to another lender"))
        enterprise = enterprise or content["enterprise"]
        product = product or content["request"]["product"]
        rate = rate or content["terms"]["final_rate_bp"]
        commitment = commitment or content["request"].get("commitment", "")
    row = {
        "lender": request.lender, "loan_id": request.loan_id, "enterprise": enterprise, "product": product,
        "committed_amount_fen": request.committed_amount_fen, "outstanding_fen": request.outstanding_fen,
        "currency": request.currency or "CNY", "start_date": request.start_date,
        "maturity_date": request.maturity_date, "rate_bp": rate, "commitment": commitment,
        "green_category": request.green_category,
        "co2_reduced_tco2_per_year": request.co2_reduced_tco2_per_year,
        "energy_saved_tce_per_year": request.energy_saved_tce_per_year,
        "benefit_factors": request.benefit_factors,
    }  # fmt: skip
    loan = loan_from_row(row, "", problems, max_amount_fen)
    if problems:
        raise ValidationError.from_violations(problems)
    assert loan is not None
    return LoanRecord(**{**loan.__dict__, "decision_id": decision_id})


def loan_from_row(
    row: dict[str, Any],
    prefix: str,
    problems: list[FieldViolation],
    max_amount_fen: int = DEFAULT_MAX_AMOUNT_FEN,
) -> LoanRecord | None:
    """Validate one loan (an RPC request, amounts ``*_fen`` as integers); problems named ``prefix +
    field``. The committed amount is 1 fen .. ``max_amount_fen``: a lender recording 1e308 CNY made the
    cross-lender totals overflow, so implausible amounts never enter the book."""
    before = len(problems)

    def bad(field: str, text: str, reason: str = "") -> None:
        problems.append(FieldViolation(prefix + field, text, reason))

    lender, loan_id = str(row.get("lender") or ""), str(row.get("loan_id") or "")
    if not LENDER.match(lender):
        bad("lender", "must be lenders/{id}: lower-case letters, digits and '-'")
    if not LOAN_ID.match(loan_id):
        bad("loan_id", "must be 1-64 of A-Z a-z 0-9 _ -")
    uscc = ""
    enterprise = str(row.get("enterprise") or "")
    try:
        uscc = normalize_uscc(enterprise.removeprefix("enterprises/"))
    except InvalidUSCC as exc:
        bad("enterprise", f"must be enterprises/{{uscc}} with a valid USCC: {exc}", "INVALID_USCC")
    product = str(row.get("product") or "")
    if product not in PRODUCTS:
        bad("product", f"must be one of {', '.join(PRODUCTS)}")
    committed, outstanding = (_fen(row.get(k)) for k in ("committed_amount_fen", "outstanding_fen"))
    rate = _rate(row.get("rate_bp"))
    if committed is None or not 0 < committed <= max_amount_fen:
        bad(
            "committed_amount_fen",
            f"must be an amount in fen, 1 to {max_amount_fen} ({_yuan(max_amount_fen)})",
        )
    if outstanding is None or outstanding < 0 or (committed is not None and outstanding > committed):
        bad("outstanding_fen", "must be between 0 and the committed amount, fen")
    if rate is None or not 0 <= rate <= 5_000:
        bad("rate_bp", "must be 0 to 5000 basis points")
    if str(row.get("currency") or "CNY") != "CNY":
        bad("currency", "only CNY loans are reported")
    start = parse_date(str(row.get("start_date") or ""), prefix + "start_date", problems)
    maturity = parse_date(str(row.get("maturity_date") or ""), prefix + "maturity_date", problems)
    if start and maturity and maturity <= start:
        bad("maturity_date", "must be after start_date")
    if start and start > date.today():
        bad("start_date", "must not be in the future")
    commitment = str(row.get("commitment") or "")
    if commitment and not commitment.startswith(f"enterprises/{uscc}/commitments/"):
        bad("commitment", "must be a commitment of the loan's enterprise")
    green_category = str(row.get("green_category") or "").strip()
    if green_category and not is_category(green_category):
        bad("green_category", "must be a category code of the green catalogue (e.g. 1.5), or empty")
    benefits = {}
    for name in ("co2_reduced_tco2_per_year", "energy_saved_tce_per_year"):
        value = _rate(row.get(name) or 0)
        if value is None or not 0 <= value <= MAX_BENEFIT:
            bad(name, f"must be 0 to {MAX_BENEFIT:,.0f} a year")
        benefits[name] = value or 0.0
    benefit_factors = str(row.get("benefit_factors") or "").strip()
    if len(benefit_factors) > 64 or (any(benefits.values()) and not benefit_factors):
        bad("benefit_factors", "name the factor set the benefits were computed on (1-64 characters)")
    if len(problems) > before:
        return None
    assert committed is not None and outstanding is not None and rate is not None and start and maturity
    return LoanRecord(
        lender=lender, loan_id=loan_id, uscc=uscc, product=product, committed_amount_fen=committed,
        outstanding_fen=outstanding, start_date=start, maturity_date=maturity, rate_bp=rate,
        commitment=commitment, green_category=green_category, benefit_factors=benefit_factors, **benefits,
    )  # fmt: skip


def loans_from_frame(
    frame: pd.DataFrame, first_row: int, max_amount_fen: int = DEFAULT_MAX_AMOUNT_FEN
) -> tuple[list[LoanRecord], list[tuple[int, str, str]]]:
    """Valid loans of a file chunk (amounts in yuan), and (file row, field, reason) for each bad row."""
    good, rejects = [], []
    for offset, raw in enumerate(frame.to_dict("records")):
        problems: list[FieldViolation] = []
        row = dict(raw)
        for yuan_column in ("committed_amount_cny", "outstanding_cny"):
            fen = fen_of_yuan(raw.get(yuan_column))
            if fen is None:
                problems.append(
                    FieldViolation(yuan_column, "must be an amount in yuan with at most 2 decimals")
                )
            row[yuan_column.replace("_cny", "_fen")] = fen
        loan = None if problems else loan_from_row(row, "", problems, max_amount_fen)
        if loan is None:
            rejects.extend((first_row + offset + 2, p.field, p.description) for p in problems[:1])
        else:
            good.append(loan)
    return good, rejects


def loan_to_proto(loan: LoanRecord) -> portfolio_pb2.Loan:
    created = Timestamp()
    if loan.create_time is not None:
        created.FromDatetime(loan.create_time)
    return portfolio_pb2.Loan(
        name=loan_name(loan.lender, loan.loan_id), lender=loan.lender, loan_id=loan.loan_id,
        enterprise=f"enterprises/{loan.uscc}", product=enum_value(scoring_pb2.Product, loan.product),
        decision=f"decisions/{loan.decision_id}" if loan.decision_id else "",
        committed_amount_fen=loan.committed_amount_fen, outstanding_fen=loan.outstanding_fen,
        currency=loan.currency, start_date=loan.start_date.isoformat(),
        maturity_date=loan.maturity_date.isoformat(), rate_bp=loan.rate_bp,
        status=portfolio_pb2.CLOSED if loan.close_date else portfolio_pb2.OPEN,
        balance_as_of_date=loan.balance_as_of.isoformat() if loan.balance_as_of else "",
        close_date=loan.close_date.isoformat() if loan.close_date else "", commitment=loan.commitment,
        create_time=created, green_category=loan.green_category,
        co2_reduced_tco2_per_year=loan.co2_reduced_tco2_per_year,
        energy_saved_tce_per_year=loan.energy_saved_tce_per_year, benefit_factors=loan.benefit_factors,
    )  # fmt: skip


def fen_of_yuan(value: Any) -> int | None:
    """Yuan (a number or text such as "1234.5") as exact fen, or None when it is not a finite amount with
    at most two decimals. Text is read as a decimal, never through a binary float."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        return None
    if not amount.is_finite() or abs(amount) > Decimal(10) ** 17:
        return None
    fen = amount * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        return None
    return int(fen)


def _fen(value: Any) -> int | None:
    """An integer fen amount (proto int64, or an int from a converted file row)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _rate(value: Any) -> float | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return float(number) if number.is_finite() else None


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / FEN_PER_YUAN:,.2f} yuan"
