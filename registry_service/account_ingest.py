"""Ingest by utility account: the step of the ingest pipeline that turns an account into a USCC.

Before a chunk is validated, rows carrying ``utility_account`` get the USCC of the enterprise that
held the account in the row's month (registry_service.domain.accounts.resolve_rows); rows that cannot
be attributed are rejected one by one naming ``records[i].utility_account`` and remembered as
sightings, written in the ingest's own transaction for the reconciliation report. Everything after
(record validation, provider scoping, storage) sees the resolved USCC, so a data provider's scope
applies to account-keyed rows exactly as to USCC-keyed ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from registry_service.domain.accounts import CONFLICT, INVALID, parse_account_name, resolve_rows
from registry_service.domain.records import period_format_problem
from registry_service.storage.accounts import AccountRepository

ACCOUNT_COLUMN = "utility_account"
_SIGHTING_COLUMNS = ["account", "kind", "reason_code", "claimed_uscc", "holder_uscc", "period"]


class AccountResolution:
    """Per ingest stream: resolves chunks, rejects what it could not attribute, keeps the sightings."""

    def __init__(self, repository: AccountRepository) -> None:
        self._repository = repository
        self._pending: pd.DataFrame | None = None  # the last chunk's rejections, until applied
        self._sightings: list[pd.DataFrame] = []

    def resolve(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the USCC of every attributable account row filled in (a copy when changed)."""
        self._pending = None
        if ACCOUNT_COLUMN not in frame.columns:
            return frame
        accounts = frame[ACCOUNT_COLUMN].fillna("").astype(str).str.strip().reset_index(drop=True)
        if not (accounts != "").any():
            return frame
        periods = frame["period"].fillna("").astype(str).str.strip().reset_index(drop=True)
        usccs = frame["uscc"].fillna("").astype(str).str.strip().str.upper().reset_index(drop=True)
        names = {_canonical(a) for a in pd.unique(accounts) if a}
        registered = self._repository.holdings_of(n for n in names if n)
        bad_period = [period_format_problem(p) for p in periods]
        resolved = resolve_rows(accounts, periods, usccs, registered, bad_period)
        self._pending = resolved.assign(account=accounts, period=periods, claimed=usccs)
        out = frame.reset_index(drop=True).copy()
        out["uscc"] = np.where(
            accounts != "", resolved["uscc"].to_numpy(), out["uscc"].fillna("").astype(str)
        )
        return out

    def reject(self, checked: pd.DataFrame) -> None:
        """Mark the rows of the last resolved chunk whose account could not be attributed (``checked``
        is that chunk validated, row for row) and keep them as sightings."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        failed = (pending["code"] != "").to_numpy()
        if not failed.any():
            return
        rows = pending[failed]
        labels = checked.index[failed]
        checked.loc[labels, "reject_code"] = rows["code"].to_numpy()
        checked.loc[labels, "reject_field"] = (
            "records[" + checked.loc[labels, "index"].astype(str) + "]." + ACCOUNT_COLUMN
        )
        checked.loc[labels, "reject_reason"] = rows["reason"].to_numpy()
        seen = rows[rows["code"] != INVALID]
        if len(seen):
            names = seen["account"].map(_canonical)
            self._sightings.append(
                pd.DataFrame(
                    {
                        "account": names.to_numpy(),
                        "kind": names.str.split("/").str[1].to_numpy(),
                        "reason_code": seen["code"].to_numpy(),
                        "claimed_uscc": np.where(seen["code"] == CONFLICT, seen["claimed"], ""),
                        "holder_uscc": seen["holder"].to_numpy(),
                        "period": seen["period"].to_numpy(),
                    }
                )
            )

    def record(self, conn: Connection) -> None:
        """Write the sightings of the whole stream (in the ingest's transaction; re-runnable)."""
        if self._sightings:
            self._repository.record_sightings(conn, pd.concat(self._sightings, ignore_index=True))


def _canonical(account: str) -> str:
    try:
        kind, number = parse_account_name(account)
    except ValueError:
        return ""
    return f"utilityAccounts/{kind}/{number}"
