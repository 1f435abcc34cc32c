"""Source precedence: which record a carbon profile uses when several sources report the same
enterprise / month / category (pure: pandas + packaged YAML).

Rules, in order (configuration in registry_service/data/precedence.yaml):

1. Only the latest revision of each (source, external_id) counts (and only ``is_current`` rows when
   the frame has that column). A correction supersedes its earlier revisions.
2. Per (uscc, period, category) the source with the best rank wins. A utility ranks high only for the
   carriers it meters itself (GRID_UTILITY: electricity categories, GAS_UTILITY: natural gas);
   elsewhere it ranks just after STATISTICS. Equal ranks are broken by the configured order, then the
   source name, so the result never depends on row order.
3. Several current records of the winning source (distinct external ids) are summed (``sum``: meters,
   invoices) or the most recently ingested wins (``latest``), as configured.

Records of losing sources are kept, never overwritten: ``select_effective`` reports them as
``superseded_sources`` / ``superseded_count`` so reconciliation can compare them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

KEY = ["uscc", "period", "category"]
REQUIRED_COLUMNS = (*KEY, "source", "external_id", "revision")
# tanxiao.common.v1.DataSource names (UNSPECIFIED is not a source); a unit test keeps them in step.
SOURCES = ("GRID_UTILITY", "GAS_UTILITY", "STATISTICS", "TAX", "SELF_REPORTED", "THIRD_PARTY_VERIFIED")
SameSourceRule = Literal["sum", "latest"]
_FOREIGN_OFFSET = 0.5  # a utility outside its carriers ranks between foreign_rank_after and the next tier


@dataclass(frozen=True)
class Precedence:
    """A validated precedence configuration. Lower rank = more authoritative."""

    version: str
    order: tuple[tuple[str, ...], ...]
    own_categories: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    foreign_rank_after: str = "STATISTICS"
    category_orders: Mapping[str, tuple[tuple[str, ...], ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    same_source_records: SameSourceRule = "sum"

    def __post_init__(self) -> None:
        problems = _config_problems(self)
        if problems:
            raise ValueError("invalid precedence configuration: " + "; ".join(problems))

    def rank(self, source: str, category: str) -> float:
        """Rank of ``source`` for ``category``; unknown sources rank after every known one."""
        if category in self.category_orders:
            tiers = self.category_orders[category]
            listed = _tier_of(tiers, source)
            if listed is not None:
                return float(listed)
            return len(tiers) + self._default_rank(source, category)
        return self._default_rank(source, category)

    def sort_key(self, source: str) -> tuple[int, str]:
        """Category-independent display order of sources (configured order, then name)."""
        tier = _tier_of(self.order, source)
        return (len(self.order) if tier is None else tier, source)

    def _default_rank(self, source: str, category: str) -> float:
        tier = _tier_of(self.order, source)
        if tier is None:
            return float(len(self.order) + 1)
        own = self.own_categories.get(source)
        if own is not None and category not in own:
            after = _tier_of(self.order, self.foreign_rank_after)
            return float(after if after is not None else tier) + _FOREIGN_OFFSET
        return float(tier)


PrecedenceOrder = Precedence  # the name used in the design notes


def load_precedence(text: str | None = None) -> Precedence:
    """The packaged precedence.yaml (read once: the result is immutable), or the given YAML text."""
    if text is None:
        return _packaged()
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ValueError("precedence configuration must be a mapping")
    return precedence_from_dict(raw)


@functools.cache
def _packaged() -> Precedence:
    text = resources.files("registry_service.data").joinpath("precedence.yaml").read_text("utf-8")
    return load_precedence(text)


def precedence_from_dict(raw: Mapping[str, Any]) -> Precedence:
    same = str(raw.get("same_source_records", "sum"))
    if same not in ("sum", "latest"):
        raise ValueError(f"same_source_records must be 'sum' or 'latest', not {same!r}")
    own = raw.get("own_categories") or {}
    orders = raw.get("category_orders") or {}
    return Precedence(
        version=str(raw.get("version", "")),
        order=_tiers(raw.get("order")),
        own_categories=MappingProxyType({str(s): frozenset(map(str, c)) for s, c in own.items()}),
        foreign_rank_after=str(raw.get("foreign_rank_after", "STATISTICS")),
        category_orders=MappingProxyType({str(c): _tiers(o) for c, o in orders.items()}),
        same_source_records="sum" if same == "sum" else "latest",
    )


def select_effective(records: pd.DataFrame, order: Precedence) -> pd.DataFrame:
    """One row per (uscc, period, category): the effective record(s) under ``order``.

    Input columns: uscc, period, category, source, external_id, revision and a quantity
    (``canonical_quantity`` when present, else ``quantity``, taken as canonical); optional id,
    ingest_time, is_current and any others, which are carried over from the representative row (the
    most recently ingested record of the winning source).

    Added columns: ``source_rank``; ``n_records`` (records of the winning source combined);
    ``record_ids`` (sorted tuple of ids, when ``id`` is given); ``superseded_sources``
    (comma-separated, in configured order, "" when none) and ``superseded_count`` (current records
    the row does not use: other sources, and the same source's others under ``latest``). When
    several records are summed, the quantity columns hold the sum and ``quantity``/``unit`` are the
    canonical ones. Sorted by uscc, period, category, with a fresh RangeIndex.
    """
    r = _resolve(records, order)
    if r.n_groups == 0:
        return _empty_output(records)
    out = records.iloc[r.pos[r.rep]].reset_index(drop=True)  # rows come in key order
    out["source_rank"] = r.rank[r.rep]
    n_used = np.bincount(r.group[r.used], minlength=r.n_groups)
    out["n_records"] = n_used.astype(np.int64)
    if "id" in records.columns:
        out["record_ids"] = _record_ids(records, r, n_used)
    _combine_quantities(out, records, r, n_used)
    out["superseded_count"] = np.bincount(r.group[~r.used], minlength=r.n_groups).astype(np.int64)
    out["superseded_sources"] = _superseded_sources(r)
    return out[_output_columns(records, out)]


def current_records(records: pd.DataFrame) -> pd.DataFrame:
    """The rows that can be effective: the latest revision of each (source, external_id), or the
    ``is_current`` rows when the frame has that column. Index preserved."""
    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"record frame lacks columns {missing}")
    return records.iloc[_latest_revisions(records, _current_rows(records))]


def effective_mask(records: pd.DataFrame, order: Precedence) -> pd.Series:
    """Per input row (same index): True when the row contributes to its effective value."""
    r = _resolve(records, order)
    mask = np.zeros(len(records), dtype=bool)
    mask[r.pos[r.used]] = True
    return pd.Series(mask, index=records.index, name="effective")


@dataclass(frozen=True)
class Resolution:
    """One resolution of a record frame, read both ways: per input row whether it contributes
    (effective_mask) and per (uscc, period, category), in key order, what select_effective returns of
    it (its representative row, the effective quantity, the records combined). The profile pipeline
    resolves once and hands the per-key view to data quality (quality.ResolvedRecords)."""

    used: np.ndarray  # bool per input row
    chosen: np.ndarray  # per key: input row position of its representative (select_effective's rows)
    quantity: np.ndarray  # per key: select_effective's quantity (several records of one source summed)
    n_records: np.ndarray  # per key: records combined


def resolve(records: pd.DataFrame, order: Precedence) -> Resolution:
    """effective_mask and select_effective's rows, quantities and record counts from one _resolve."""
    r = _resolve(records, order)
    used = np.zeros(len(records), dtype=bool)
    used[r.pos[r.used]] = True
    if r.n_groups == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Resolution(used, empty, np.zeros(0, dtype=np.float64), empty)
    n_used = np.bincount(r.group[r.used], minlength=r.n_groups).astype(np.int64)
    qty = records[quantity_column(records)].to_numpy(dtype=np.float64)[r.pos]
    # as _combine_quantities: the representative's quantity, the sum where several records count
    total = np.bincount(r.group[r.used], weights=qty[r.used], minlength=r.n_groups)
    quantity = np.where(n_used > 1, total, qty[r.rep])
    return Resolution(used, r.pos[r.rep], quantity, n_used)


@dataclass(frozen=True)
class _Resolved:
    """Current records (one per (source, external_id)), sorted by key."""

    pos: np.ndarray  # row position in the input frame
    group: np.ndarray  # 0.. per (uscc, period, category), in lexical order of the key
    source: np.ndarray  # source code, in Precedence.sort_key order
    rank: np.ndarray
    used: np.ndarray  # contributes to the effective value
    rep: np.ndarray  # the representative row of its group (freshest used row)
    sources: tuple[str, ...]  # source code -> name
    n_groups: int


def _resolve(records: pd.DataFrame, order: Precedence) -> _Resolved:
    """Integer codes, one stable argsort and segment reductions instead of string sorts and groupbys,
    so millions of rows take seconds."""
    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"record frame lacks columns {missing}")
    rows = _current_rows(records)
    rows = _latest_revisions(records, rows)
    sub = records[[*KEY, "source"]].iloc[rows]
    sources = tuple(sorted(map(str, sub["source"].unique()), key=order.sort_key))
    source = pd.Categorical(sub["source"], categories=list(sources)).codes.astype(np.int64)
    rank, dense_rank = _ranks(sub["category"].to_numpy(), source, sources, order)
    key = _key_codes(sub)
    perm = np.argsort(key, kind="stable")
    rows, key, source, rank, dense_rank = rows[perm], key[perm], source[perm], rank[perm], dense_rank[perm]
    starts = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
    group = np.cumsum(starts) - 1
    # Winner: best rank, equal ranks by source code (configured order, then name).
    merit = dense_rank * max(len(sources), 1) + source
    best = np.minimum.reduceat(merit, np.flatnonzero(starts)) if len(key) else merit
    used = merit == best[group]
    rep = _representatives(records, rows, group, used)
    if order.same_source_records == "latest":
        used = rep
    return _Resolved(rows, group, source, rank, used, rep, sources, int(starts.sum()))


def _current_rows(records: pd.DataFrame) -> np.ndarray:
    if "is_current" in records.columns:
        return np.flatnonzero(records["is_current"].to_numpy(dtype=bool))
    return np.arange(len(records))


def _latest_revisions(records: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Positions of the latest revision of each (source, external_id) among ``rows``; only keys
    that occur more than once are sorted. ``is_current`` is trusted when present (the store's unique
    index guarantees one current revision per key). Equal revisions (inconsistent input) are broken
    by freshness and content, never by row order."""
    if "is_current" in records.columns:
        return rows  # the store keeps exactly one current revision per (source, external_id)
    pairs = records[["source", "external_id"]].iloc[rows]
    repeated = pairs.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return rows
    dup = rows[repeated]
    codes = pairs[repeated].groupby(["source", "external_id"], sort=False).ngroup().to_numpy()
    perm = np.lexsort((*_freshness(records, dup, revision_first=True), codes))
    c = codes[perm]
    latest = dup[perm[np.r_[c[1:] != c[:-1], True]]]
    return np.sort(np.concatenate([rows[~repeated], latest]))


def _representatives(
    records: pd.DataFrame, rows: np.ndarray, group: np.ndarray, used: np.ndarray
) -> np.ndarray:
    """Per group, the freshest used row; freshness is only computed where a group has several."""
    n_used = np.bincount(group[used], minlength=int(group.max()) + 1 if len(group) else 0)
    rep: np.ndarray = used & (n_used[group] == 1)
    several = np.flatnonzero(used & (n_used[group] > 1))
    if len(several):
        perm = np.lexsort((*_freshness(records, rows[several]), group[several]))
        g = group[several][perm]
        rep[several[perm[np.r_[g[1:] != g[:-1], True]]]] = True
    return rep


def _key_codes(sub: pd.DataFrame) -> np.ndarray:
    """One int64 per (uscc, period, category); sorted factorisation keeps lexical order."""
    code = np.zeros(len(sub), dtype=np.int64)
    for column in KEY:
        codes, uniques = pd.factorize(sub[column], sort=True)
        code = code * len(uniques) + codes
    return code


def _freshness(records: pd.DataFrame, rows: np.ndarray, *, revision_first: bool = False) -> list[np.ndarray]:
    """np.lexsort keys of ``rows`` (least significant first; the last row of a sort is the freshest):
    revision (when ``revision_first``), ingest time, id, revision, then external id, quantity and
    key, so that any tie resolves by content and never by row order."""
    sub = records.iloc[rows]
    revision = sub["revision"].to_numpy(dtype=np.int64)
    keys: list[np.ndarray] = [pd.factorize(sub[c], sort=True)[0] for c in reversed(KEY)]
    qty = sub[quantity_column(records)].to_numpy(dtype=np.float64)
    keys += [np.nan_to_num(qty, nan=-np.inf), pd.factorize(sub["external_id"], sort=True)[0], revision]
    if "id" in records.columns:
        keys.append(pd.factorize(sub["id"], sort=True)[0])
    if "ingest_time" in records.columns:
        micros = pd.to_datetime(sub["ingest_time"], utc=True).to_numpy(dtype="datetime64[us]")
        keys.append(np.where(np.isnat(micros), -np.inf, micros.astype(np.int64).astype(np.float64)))
    if revision_first:
        keys.append(revision)
    return keys


def _ranks(
    categories: np.ndarray, source: np.ndarray, sources: tuple[str, ...], order: Precedence
) -> tuple[np.ndarray, np.ndarray]:
    """(rank, dense integer rank) per row, computed once per distinct (source, category)."""
    cat_codes, cat_names = pd.factorize(categories)
    n_cat = max(len(cat_names), 1)
    inverse, distinct = pd.factorize(source * n_cat + cat_codes)
    table = np.array([order.rank(sources[p // n_cat], str(cat_names[p % n_cat])) for p in distinct])
    dense = np.unique(table, return_inverse=True)[1].reshape(-1) if len(table) else table
    return table[inverse].astype(np.float64), dense[inverse].astype(np.int64)


def quantity_column(records: pd.DataFrame) -> str:
    """The canonical quantity column of a record frame."""
    if "canonical_quantity" in records.columns:
        return "canonical_quantity"
    if "quantity" in records.columns:
        return "quantity"
    raise ValueError("record frame lacks a quantity column (canonical_quantity or quantity)")


def _combine_quantities(out: pd.DataFrame, records: pd.DataFrame, r: _Resolved, n_used: np.ndarray) -> None:
    multi = n_used > 1
    if not multi.any():
        return
    column = quantity_column(records)
    qty = records[column].to_numpy(dtype=np.float64)[r.pos]
    total = np.bincount(r.group[r.used], weights=qty[r.used], minlength=len(out))
    out[column] = np.where(multi, total, out[column].to_numpy(dtype=np.float64))
    if column == "canonical_quantity" and "quantity" in out.columns:
        out["quantity"] = np.where(multi, total, out["quantity"].to_numpy(dtype=np.float64))
        if "unit" in out.columns and "canonical_unit" in out.columns:
            out["unit"] = np.where(multi, out["canonical_unit"].to_numpy(), out["unit"].to_numpy())


def _record_ids(records: pd.DataFrame, r: _Resolved, n_used: np.ndarray) -> np.ndarray:
    """Sorted id tuples per output row; Python work only for the (rare) rows of several records."""
    ids = pd.to_numeric(records["id"]).to_numpy()[r.pos]
    out = np.empty(len(n_used), dtype=object)
    out[:] = [(int(i),) for i in ids[r.rep]]
    several = np.flatnonzero(r.used & (n_used > 1)[r.group])  # contiguous per group: rows are sorted
    if len(several):
        cuts = np.flatnonzero(np.diff(r.group[several])) + 1
        for rows in np.split(several, cuts):
            out[r.group[rows[0]]] = tuple(sorted(int(i) for i in ids[rows]))
    return out


def _superseded_sources(r: _Resolved) -> np.ndarray:
    """Names of the unused sources per output row via a bit per source (no per-group string joins)."""
    losers = ~r.used
    pairs = pd.unique(r.group[losers] * 64 + r.source[losers])  # at most 64 sources: bits of an int64
    masks = np.zeros(r.n_groups, dtype=np.int64)
    np.bitwise_or.at(masks, pairs // 64, np.left_shift(1, pairs % 64))
    distinct, inverse = np.unique(masks, return_inverse=True)
    labels = np.empty(len(distinct), dtype=object)
    labels[:] = [",".join(n for code, n in enumerate(r.sources) if int(m) >> code & 1) for m in distinct]
    return labels[inverse.reshape(-1)]


def _output_columns(records: pd.DataFrame, out: pd.DataFrame) -> list[str]:
    added = ["source_rank", "n_records", "record_ids", "superseded_sources", "superseded_count"]
    return [
        *KEY,
        *[c for c in records.columns if c not in KEY and c in out.columns],
        *[c for c in added if c in out.columns],
    ]


def _empty_output(records: pd.DataFrame) -> pd.DataFrame:
    out = records.iloc[0:0].copy()
    out["source_rank"] = pd.Series(dtype=np.float64)
    out["n_records"] = pd.Series(dtype=np.int64)
    if "id" in records.columns:
        out["record_ids"] = pd.Series(dtype=object)
    out["superseded_sources"] = pd.Series(dtype=object)
    out["superseded_count"] = pd.Series(dtype=np.int64)
    return out.reset_index(drop=True)[_output_columns(records, out)]


def _tiers(raw: object) -> tuple[tuple[str, ...], ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("a precedence order must be a non-empty list of sources or lists of sources")
    return tuple(tuple(str(s) for s in entry) if isinstance(entry, list) else (str(entry),) for entry in raw)


def _tier_of(tiers: Iterable[tuple[str, ...]], source: str) -> int | None:
    return next((i for i, tier in enumerate(tiers) if source in tier), None)


def _config_problems(p: Precedence) -> list[str]:
    problems = _order_problems("order", p.order, require_all=True)
    for category, tiers in p.category_orders.items():
        problems += _order_problems(f"category_orders.{category}", tiers, require_all=False)
    problems += [f"own_categories: unknown source {s}" for s in p.own_categories if s not in SOURCES]
    if p.foreign_rank_after not in SOURCES:
        problems.append(f"foreign_rank_after: unknown source {p.foreign_rank_after}")
    if p.same_source_records not in ("sum", "latest"):
        problems.append("same_source_records must be 'sum' or 'latest'")
    return problems


def _order_problems(name: str, tiers: tuple[tuple[str, ...], ...], *, require_all: bool) -> list[str]:
    listed = [s for tier in tiers for s in tier]
    problems = [f"{name}: unknown source {s}" for s in listed if s not in SOURCES]
    problems += [f"{name}: {s} listed twice" for s in sorted(set(listed)) if listed.count(s) > 1]
    if any(not tier for tier in tiers):
        problems.append(f"{name}: empty tier")
    if require_all:
        problems += [f"{name}: {s} missing" for s in SOURCES if s not in listed]
    return problems
