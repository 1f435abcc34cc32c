"""Utility accounts (registry_service.domain.accounts): who held an account in a record's month."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from registry_service.domain.accounts import (
    AMBIGUOUS,
    CONFLICT,
    INVALID,
    UNKNOWN,
    AccountProblem,
    Holding,
    holding_problems,
    month_span,
    overlaps,
    parse_account_name,
    resolve,
    resolve_rows,
    transferred,
)

A, B, C = "91330502AAAAAAAAAA", "91330502BBBBBBBBBB", "91330502CCCCCCCCCC"
ACCOUNT = "utilityAccounts/electricity/3300123456"
# The case: the account moved from A to B on 2025-07-01.
MOVED = (Holding(A, date(2024, 1, 1), date(2025, 7, 1)), Holding(B, date(2025, 7, 1), None))


def test_a_moved_account_belongs_to_the_holder_of_each_month() -> None:
    assert (
        resolve(MOVED, "2025-03").uscc == A
    )  # March: [2025-03-01, 2025-04-01) inside A's [2024-01-01, 2025-07-01)
    assert resolve(MOVED, "2025-06").uscc == A  # June ends 2025-07-01, the (exclusive) end of A's holding
    assert resolve(MOVED, "2025-07").uscc == B  # July starts on the transfer day: B's alone
    assert resolve(MOVED, "2025-09").uscc == B


def test_a_month_before_any_holding_is_unknown() -> None:
    assert resolve(MOVED, "2023-12").code == UNKNOWN  # December 2023 ends 2024-01-01 = A's first day


def test_a_transfer_inside_a_month_makes_that_month_ambiguous() -> None:
    mid = (Holding(A, date(2025, 1, 1), date(2025, 7, 15)), Holding(B, date(2025, 7, 15)))
    assert resolve(mid, "2025-07").code == AMBIGUOUS  # 1-14 July A, 15-31 July B: no single holder
    assert resolve(mid, "2025-06").uscc == A and resolve(mid, "2025-08").uscc == B


def test_overlapping_holdings_are_ambiguous_and_reported_with_their_span() -> None:
    both = (Holding(A, date(2025, 1, 1), date(2025, 10, 1)), Holding(B, date(2025, 7, 1)))
    assert resolve(both, "2025-08").code == AMBIGUOUS
    assert resolve(both, "2025-05").uscc == A and resolve(both, "2025-11").uscc == B
    # [2025-01-01, 2025-10-01) and [2025-07-01, open) overlap on [max(starts), min(ends)) = [07-01, 10-01).
    assert overlaps(both) == [(date(2025, 7, 1), date(2025, 10, 1))]
    assert overlaps(MOVED) == []  # touching at 07-01 is no overlap: valid_to is exclusive
    assert overlaps((Holding(A, date(2025, 1, 1)), Holding(C, date(2025, 3, 1)))) == [
        (date(2025, 3, 1), None)
    ]
    assert overlaps((Holding(A, date(2025, 1, 1)), Holding(A, date(2025, 3, 1)))) == []  # same holder


def test_a_uscc_that_disagrees_with_the_holder_is_a_conflict() -> None:
    found = resolve(MOVED, "2025-09", claimed_uscc=A)
    assert (found.code, found.holder, found.uscc) == (CONFLICT, B, "")
    assert resolve(MOVED, "2025-09", claimed_uscc=B).uscc == B  # agreeing is fine


def test_rows_resolve_per_row_and_leave_uscc_rows_alone() -> None:
    accounts = pd.Series([ACCOUNT, ACCOUNT, "", "utilityAccounts/gas/999", "utilityAccounts/coal/1", ACCOUNT])
    periods = pd.Series(["2025-03", "2025-09", "2025-03", "2025-03", "2025-03", "2025-1"])
    usccs = pd.Series(["", "", C, "", "", ""])
    out = resolve_rows(accounts, periods, usccs, {ACCOUNT: MOVED}, ["", "", "", "", "", "bad"])
    assert out["uscc"].tolist() == [A, B, C, "", "", ""]
    assert out["code"].tolist() == ["", "", "", UNKNOWN, INVALID, ""]  # a bad period is left to validation


def test_account_names() -> None:
    assert parse_account_name(" utilityAccounts/heat/HZ-01_7 ") == ("heat", "HZ-01_7")
    for bad in ("utilityAccounts/electricity", "accounts/electricity/1", "utilityAccounts/oil/1",
                "utilityAccounts/gas/a b", "utilityAccounts/gas/" + "9" * 65):  # fmt: skip
        with pytest.raises(AccountProblem):
            parse_account_name(bad)


def test_transfer_closes_the_running_holding() -> None:
    held = (Holding(A, date(2024, 1, 1)),)
    assert transferred(held, B, date(2025, 7, 1)) == MOVED
    with pytest.raises(AccountProblem, match="already holds"):
        transferred(MOVED, B, date(2025, 8, 1))
    with pytest.raises(AccountProblem, match="nobody holds"):
        transferred(MOVED, C, date(2023, 5, 1))
    with pytest.raises(AccountProblem, match="starts 2025-07-01"):
        transferred(MOVED, C, date(2025, 7, 1))
    with pytest.raises(AccountProblem, match="2 holdings"):
        transferred((Holding(A, date(2025, 1, 1)), Holding(B, date(2025, 2, 1))), C, date(2025, 3, 1))


def test_holdings_must_exist_and_run_forwards() -> None:
    assert holding_problems([], "h") == [("h", "at least one holding is required")]
    backwards = [Holding(A, date(2025, 7, 1), date(2025, 7, 1))]
    assert [f for f, _ in holding_problems(backwards, "h")] == ["h[0].valid_to"]


def test_month_span_crosses_the_year() -> None:
    assert month_span("2025-12") == (date(2025, 12, 1), date(2026, 1, 1))


def test_rows_without_a_judged_account_keep_their_uscc() -> None:
    """Found by the fuzz suite: every account row with a malformed period left nothing to resolve and
    the merge's float columns refused "" (TypeError -> INTERNAL)."""
    out = resolve_rows(
        pd.Series([ACCOUNT, ""]), pd.Series(["2025-13", "2025-01"]), pd.Series(["", C]), {}, ["bad", ""]
    )
    assert out["uscc"].tolist() == ["", C] and out["code"].tolist() == ["", ""]
