"""No float money anywhere: every proto field and every table column that holds an amount of money
is an integer (fen) or a decimal, never a double/float.

It scans ALL protos (the generated module of every .proto file under protos/, found on disk) and ALL
table definitions (every SQLAlchemy metadata of the services; the migrations test diffs the same set
against the database). Nothing is pending: the registry's financials, profile added value and capex
became fen in revision 0013 (they were the last float money).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from google.protobuf.descriptor import Descriptor, FieldDescriptor

MONEY = re.compile(
    r"(^|_)(cny|yuan|fen|amount|outstanding|drawdown|repayment|capex|revenue|debt|equity|evic|price|limit"
    r"|added_value)(_|$)"
)
NOT_MONEY = re.compile(r"_(pct|bp|ratio|share|factor|count|months|days|seconds)$")
FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)

ROOT = Path(__file__).resolve().parents[2]
# Every .proto under protos/ -> its generated module ("tanxiao/registry/v1/consent.proto" ->
# "tanxiao.registry.v1.consent_pb2"), keyed by the file name.
PROTO_MODULES = {
    path.name: ".".join(path.relative_to(ROOT / "protos").with_suffix("").parts) + "_pb2"
    for path in sorted((ROOT / "protos").rglob("*.proto"))
}
TABLE_MODULES = {
    "registry tables": "registry_service.storage.tables",
    "registry tables (consents)": "registry_service.consent_store",
    "scoring tables (decisions, loan book)": "scoring_service.storage.tables",
    "platform tables (tokens)": "tanxiao.platform.auth",
    "platform tables (idempotency)": "tanxiao.platform.idempotency",
}


def is_money(name: str) -> bool:
    return bool(MONEY.search(name)) and not NOT_MONEY.search(name)


def _messages(descriptor: Descriptor) -> Iterator[Descriptor]:
    yield descriptor
    for nested in descriptor.nested_types:
        yield from _messages(nested)


def float_money_fields(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    out = []
    for message in module.DESCRIPTOR.message_types_by_name.values():
        for descriptor in _messages(message):
            for field in descriptor.fields:
                if field.type in FLOATS and is_money(field.name):
                    out.append(f"{descriptor.full_name}.{field.name}")
    return out


def float_money_columns(module_name: str) -> list[str]:
    metadata: sa.MetaData = importlib.import_module(module_name).metadata
    return [
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.Float) and is_money(column.name)
    ]


def _params(names: dict[str, str]) -> list[object]:
    return [pytest.param(label, module, id=label) for label, module in names.items()]


@pytest.mark.parametrize(("label", "module"), _params(PROTO_MODULES))
def test_no_float_money_in_protos(label: str, module: str) -> None:
    assert float_money_fields(module) == [], f"{label}: float money fields"


@pytest.mark.parametrize(("label", "module"), _params(TABLE_MODULES))
def test_no_float_money_in_tables(label: str, module: str) -> None:
    assert float_money_columns(module) == [], f"{label}: float money columns"


def test_the_scan_sees_money() -> None:
    """The scanner itself: it finds the fields it should (names) and ignores rates and ratios."""
    assert is_money("requested_amount_fen") and is_money("capex_10k_cny") and is_money("outstanding_cny")
    assert is_money("total_debt_10k_cny") and is_money("approved_limit_cny_before")
    assert not is_money("limit_effect_pct") and not is_money("final_rate_bp") and not is_money("k_value")
    assert not is_money("min_equity_share")
    assert is_money("total_added_value") and is_money("added_value_fen")  # industrial added value is money
    # the scoring contract's money is int64 fen
    from tanxiao.scoring.v1 import scoring_pb2

    fields = scoring_pb2.QuoteLoanTermsRequest.DESCRIPTOR.fields_by_name
    assert fields["requested_amount_fen"].type == FieldDescriptor.TYPE_INT64
    assert fields["bank_limit_fen"].type == FieldDescriptor.TYPE_INT64
    assert "requested_amount_cny" not in fields
    # the portfolio contract and the loan book are int64 / BIGINT fen too
    from tanxiao.portfolio.v1 import portfolio_pb2

    loan = portfolio_pb2.Loan.DESCRIPTOR.fields_by_name
    assert loan["outstanding_fen"].type == FieldDescriptor.TYPE_INT64 and "outstanding_cny" not in loan
    # the scan covers every proto file of the contract, consent and decision log included
    assert {"common.proto", "registry.proto", "consent.proto", "scoring.proto", "decision_log.proto",
            "portfolio.proto"} <= set(PROTO_MODULES)  # fmt: skip
    # the registry's money is int64 fen now: financials, a profile's added value, capex, savings
    from tanxiao.registry.v1 import registry_pb2

    financials = registry_pb2.AnnualFinancials.DESCRIPTOR.fields_by_name
    for name in (
        "industrial_added_value_fen",
        "revenue_fen",
        "total_equity_fen",
        "total_debt_fen",
        "evic_fen",
    ):
        assert financials[name].type == FieldDescriptor.TYPE_INT64 and financials[name].has_presence
    assert not [name for name in financials if name.endswith("_10k_cny")]
    assert registry_pb2.Commitment.DESCRIPTOR.fields_by_name["capex_fen"].type == FieldDescriptor.TYPE_INT64
    assert registry_pb2.CarbonProfile.DESCRIPTOR.fields_by_name["added_value_fen"].type == (
        FieldDescriptor.TYPE_INT64
    )
    # and the table columns are integers
    from registry_service.storage import tables

    assert isinstance(tables.enterprise_financials.c.revenue_fen.type, sa.BigInteger)
    assert isinstance(tables.commitments.c.capex_fen.type, sa.BigInteger)
    assert isinstance(tables.carbon_profiles.c.added_value_fen.type, sa.BigInteger)
    assert isinstance(tables.benchmarks.c.total_added_value_fen.type, sa.BigInteger)


def test_a_float_money_field_would_be_found() -> None:
    """The scanner is not vacuous: a double named like money in a proto, a Float column named like
    money in a table are reported."""
    from google.protobuf import descriptor_pb2, descriptor_pool

    pool = descriptor_pool.DescriptorPool()
    proto = descriptor_pb2.FileDescriptorProto(name="probe.proto", package="probe")
    message = proto.message_type.add(name="Probe")
    message.field.add(name="capex_10k_cny", number=1, type=FieldDescriptor.TYPE_DOUBLE, label=1)
    message.field.add(name="k_value", number=2, type=FieldDescriptor.TYPE_DOUBLE, label=1)
    message.field.add(name="capex_fen", number=3, type=FieldDescriptor.TYPE_INT64, label=1)
    pool.Add(proto)
    descriptor = pool.FindMessageTypeByName("probe.Probe")
    found = [f.name for f in descriptor.fields if f.type in FLOATS and is_money(f.name)]
    assert found == ["capex_10k_cny"]
    metadata = sa.MetaData()
    sa.Table("probe", metadata, sa.Column("revenue_10k_cny", sa.Float), sa.Column("k_value", sa.Float))
    columns = [c.name for t in metadata.tables.values() for c in t.columns if isinstance(c.type, sa.Float)]
    assert [c for c in columns if is_money(c)] == ["revenue_10k_cny"]
