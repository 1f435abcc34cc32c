"""Utility customer accounts (电力户号, gas, water and heat accounts) and who held them when (pure).

Utilities report per customer account, not per USCC. An account is held by one enterprise over
[valid_from, valid_to); it can move to another enterprise (a sale, a merger, a new tenant), so the
holder of a record depends on the record's month. Verification data can disagree about who held an
account, so overlapping holdings are kept as registered and reported, never silently resolved.

Attribution rule for a monthly record: the enterprise is the ONLY one that held the account on any
day of the month. No holder that month -> UNKNOWN_UTILITY_ACCOUNT; two enterprises in that month (an
overlap, or a transfer inside the month) -> AMBIGUOUS_UTILITY_ACCOUNT, because a month's meter reading
cannot be split between two firms without the utility's own split; a USCC given on the record that
differs from the holder -> UTILITY_ACCOUNT_CONFLICT. Each rejects that row only, naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

KINDS = ("electricity", "gas", "water", "heat")
NAME_PREFIX = "utilityAccounts/"
NUMBER_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

UNKNOWN = "UNKNOWN_UTILITY_ACCOUNT"
AMBIGUOUS = "AMBIGUOUS_UTILITY_ACCOUNT"
CONFLICT = "UTILITY_ACCOUNT_CONFLICT"
INVALID = "INVALID_UTILITY_ACCOUNT"


@dataclass(frozen=True)
class Holding:
    """``uscc`` held the account from ``valid_from`` (inclusive) to ``valid_to`` (exclusive; None = open)."""

    uscc: str
    valid_from: date
    valid_to: date | None = None

    def intersects(self, start: date, end: date) -> bool:
        """Held on any day of [start, end)?"""
        return self.valid_from < end and (self.valid_to is None or self.valid_to > start)


@dataclass(frozen=True)
class Resolution:
    """How one record's account was attributed: ``uscc`` when it was, else ``code`` and ``reason``."""

    uscc: str = ""
    code: str = ""
    reason: str = ""
    holder: str = ""  # for a conflict: the account's holder that month


class AccountProblem(ValueError):
    """A request about an account that cannot be carried out; ``field`` names the request field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def account_name(kind: str, number: str) -> str:
    return f"{NAME_PREFIX}{kind}/{number}"


def parse_account_name(name: str) -> tuple[str, str]:
    """(kind, number) of "utilityAccounts/{kind}/{number}"; AccountProblem (field "") when malformed."""
    text = name.strip()
    parts = text.removeprefix(NAME_PREFIX).split("/") if text.startswith(NAME_PREFIX) else []
    if len(parts) != 2:
        raise AccountProblem(
            "", f"'{text}' is not a utility account name 'utilityAccounts/{{kind}}/{{number}}'"
        )
    kind, number = parts
    if kind not in KINDS:
        raise AccountProblem("", f"utility account kind '{kind}' must be one of {', '.join(KINDS)}")
    if not NUMBER_PATTERN.fullmatch(number):
        raise AccountProblem(
            "", f"account number '{number}' must be 1-64 characters of A-Z, a-z, 0-9, '-', '_'"
        )
    return kind, number


def holding_problems(holdings: Sequence[Holding], field: str) -> list[tuple[str, str]]:
    """(field, message) for holdings that are empty or run backwards."""
    if not holdings:
        return [(field, "at least one holding is required")]
    return [
        (f"{field}[{i}].valid_to", f"valid_to {h.valid_to} must be after valid_from {h.valid_from}")
        for i, h in enumerate(holdings)
        if h.valid_to is not None and h.valid_to <= h.valid_from
    ]


def overlaps(holdings: Sequence[Holding]) -> list[tuple[date, date | None]]:
    """Each [from, to) on which two holdings by different enterprises both run (to None = open-ended)."""
    found: list[tuple[date, date | None]] = []
    for i, a in enumerate(holdings):
        for b in holdings[i + 1 :]:
            if a.uscc == b.uscc:
                continue
            start = max(a.valid_from, b.valid_from)
            ends = [d for d in (a.valid_to, b.valid_to) if d is not None]
            end = min(ends) if ends else None
            if end is None or start < end:
                found.append((start, end))
    return sorted(found, key=lambda span: span[0])


def transferred(holdings: Sequence[Holding], to_uscc: str, effective: date) -> tuple[Holding, ...]:
    """The holdings after a transfer to ``to_uscc`` from ``effective`` on: the one holding running on
    that day ends there and a new open holding starts. AccountProblem when that is not well defined."""
    running = [h for h in holdings if h.intersects(effective, date.fromordinal(effective.toordinal() + 1))]
    if len(running) != 1:
        held = "nobody holds" if not running else f"{len(running)} holdings run on"
        raise AccountProblem(
            "effective_date", f"{held} the account on {effective}; register the holding instead"
        )
    current = running[0]
    if current.uscc == to_uscc:
        raise AccountProblem(
            "to_enterprise", f"enterprise {to_uscc} already holds the account on {effective}"
        )
    if current.valid_from >= effective:
        raise AccountProblem(
            "effective_date", f"the current holding starts {current.valid_from}, not before {effective}"
        )
    later = [h for h in holdings if h.valid_from > effective]
    if later:
        raise AccountProblem(
            "effective_date", f"a holding starting {later[0].valid_from} follows {effective}"
        )
    kept = [h for h in holdings if h is not current]
    closed = Holding(current.uscc, current.valid_from, effective)
    moved = Holding(to_uscc, effective, current.valid_to)
    return tuple(sorted([*kept, closed, moved], key=lambda h: h.valid_from))


def month_span(period: str) -> tuple[date, date]:
    """[first day, first day of the next month) of a valid "YYYY-MM"."""
    year, month = int(period[:4]), int(period[5:7])
    return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)


def resolve(holdings: Sequence[Holding], period: str, claimed_uscc: str = "") -> Resolution:
    """The enterprise a record for ``period`` (a valid "YYYY-MM") on this account belongs to."""
    start, end = month_span(period)
    holders = sorted({h.uscc for h in holdings if h.intersects(start, end)})
    if not holders:
        return Resolution(code=UNKNOWN, reason=f"no enterprise held the account in {period}")
    if len(holders) > 1:
        return Resolution(code=AMBIGUOUS, reason=f"{len(holders)} enterprises held the account in {period}")
    holder = holders[0]
    if claimed_uscc and claimed_uscc != holder:
        return Resolution(
            code=CONFLICT,
            reason=f"the account was held by another enterprise in {period}, not {claimed_uscc}",
            holder=holder,
        )
    return Resolution(uscc=holder)


def resolve_rows(
    accounts: pd.Series,
    periods: pd.Series,
    usccs: pd.Series,
    registered: Mapping[str, Sequence[Holding]],
    period_problem: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Per row (aligned with the inputs): resolved ``uscc`` and ``code``/``reason``/``holder``.

    Rows without an account keep their USCC and no code. ``registered`` maps an account name to its
    holdings (absent = not registered). A row whose period is malformed (``period_problem`` non-empty)
    keeps its USCC: record validation names the period. Judged once per distinct (account, period, uscc).
    """
    problems = list(period_problem) if period_problem is not None else [""] * len(accounts)
    rows = pd.DataFrame(
        {
            "account": accounts.to_numpy(),
            "period": periods.to_numpy(),
            "uscc": usccs.to_numpy(),
            "bad": problems,
        }
    )
    judged = (rows["account"] != "") & (rows["bad"] == "")
    keys = rows.loc[judged, ["account", "period", "uscc"]].drop_duplicates()
    found = [_resolve_one(a, p, u, registered) for a, p, u in keys.itertuples(index=False)]
    table = keys.assign(
        resolved=[f.uscc for f in found],
        code=[f.code for f in found],
        reason=[f.reason for f in found],
        holder=[f.holder for f in found],
    )
    out = rows.merge(table, on=["account", "period", "uscc"], how="left", sort=False)
    for column in ("resolved", "code", "reason", "holder"):  # object dtype even when nothing was judged
        out[column] = np.where(judged.to_numpy(), out[column].astype(object), "").astype(object)
    return pd.DataFrame(
        {
            "uscc": out["resolved"].where(out["resolved"] != "", out["uscc"]).to_numpy(dtype=object),
            "code": out["code"].to_numpy(dtype=object),
            "reason": out["reason"].to_numpy(dtype=object),
            "holder": out["holder"].to_numpy(dtype=object),
        },
        index=accounts.index,
    )


def _resolve_one(
    account: str, period: str, uscc: str, registered: Mapping[str, Sequence[Holding]]
) -> Resolution:
    try:
        kind, number = parse_account_name(account)
    except AccountProblem as problem:
        return Resolution(code=INVALID, reason=problem.message)
    holdings = registered.get(account_name(kind, number))
    if holdings is None:
        return Resolution(code=UNKNOWN, reason=f"utility account {account} is not registered")
    return resolve(holdings, period, uscc)
