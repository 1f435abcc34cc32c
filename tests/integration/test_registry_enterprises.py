"""Enterprises over gRPC: create/get/list/update, errors with field violations, pagination."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from helpers import Registry, error_details, make_uscc

from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from tanxiao.registry.v1 import registry_pb2

pb = registry_pb2


def _enterprise(serial: int = 1, **overrides: object) -> registry_pb2.Enterprise:
    fields: dict[str, object] = {
        "uscc": make_uscc(serial),
        "display_name": "湖州某某化纤有限公司",
        "industry_code": "2825",
        "region_code": "330502",
        "size_class": pb.ABOVE_DESIGNATED_SIZE,
    }
    return pb.Enterprise(**{**fields, **overrides})


def _create(registry: Registry, enterprise: registry_pb2.Enterprise) -> registry_pb2.Enterprise:
    return registry.stub.CreateEnterprise(pb.CreateEnterpriseRequest(enterprise=enterprise), timeout=10)


def _rpc_error(call, request) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as excinfo:
        call(request, timeout=10)
    return excinfo.value


def test_create_then_get_round_trips_with_normalised_uscc(registry: Registry) -> None:
    financials = [
        # fen: 1,200.5 万元 = 1,200,500,000 fen; an amount with fen (90,000,000.01 yuan) survives exactly
        pb.AnnualFinancials(year=2024, industrial_added_value_fen=1_200_500_000, revenue_fen=0),
        pb.AnnualFinancials(year=2023, total_equity_fen=-50_000_000, listed=True, evic_fen=9_000_000_001),
    ]
    created = _create(registry, _enterprise(uscc=make_uscc(1).lower(), financials=financials))
    assert created.uscc == make_uscc(1) and created.name == f"enterprises/{make_uscc(1)}"
    assert created.industry_section == "C" and created.create_time.seconds > 0
    fetched = registry.stub.GetEnterprise(pb.GetEnterpriseRequest(name=created.name.lower()), timeout=10)
    assert fetched == created
    assert [f.year for f in fetched.financials] == [2023, 2024]  # by year
    latest = fetched.financials[1]
    assert latest.HasField("revenue_fen") and latest.revenue_fen == 0  # present zero kept
    assert not latest.HasField("total_debt_fen")  # absent stays absent
    assert latest.industrial_added_value_fen == 1_200_500_000
    assert fetched.financials[0].total_equity_fen == -50_000_000 and fetched.financials[0].listed
    assert fetched.financials[0].evic_fen == 9_000_000_001


def test_duplicate_create_is_already_exists(registry: Registry) -> None:
    _create(registry, _enterprise())
    error = _rpc_error(
        registry.stub.CreateEnterprise,
        pb.CreateEnterpriseRequest(enterprise=_enterprise(uscc=make_uscc(1).lower())),
    )
    details = error_details(error)
    assert details.code == grpc.StatusCode.ALREADY_EXISTS and details.reason == "ENTERPRISE_ALREADY_EXISTS"


def test_unknown_enterprise_is_not_found(registry: Registry) -> None:
    error = _rpc_error(
        registry.stub.GetEnterprise, pb.GetEnterpriseRequest(name=f"enterprises/{make_uscc(5)}")
    )
    details = error_details(error)
    assert details.code == grpc.StatusCode.NOT_FOUND and details.reason == "ENTERPRISE_NOT_FOUND"


@pytest.mark.parametrize("name", ["", "enterprise/91330502000000001X", "enterprises/91110000600037341N"])
def test_malformed_name_is_invalid_argument_on_name(registry: Registry, name: str) -> None:
    error = _rpc_error(registry.stub.GetEnterprise, pb.GetEnterpriseRequest(name=name))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error_details(error).fields == ["name"]


def test_invalid_enterprise_names_every_bad_field(registry: Registry) -> None:
    bad = _enterprise(
        uscc="91110000600037341N",  # wrong check character
        display_name="  ",
        industry_code="X9",
        region_code="33",
        financials=[pb.AnnualFinancials(year=2024), pb.AnnualFinancials(year=2023, revenue_fen=-1)],
    )
    error = _rpc_error(registry.stub.CreateEnterprise, pb.CreateEnterpriseRequest(enterprise=bad))
    details = error_details(error)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.fields == [
        "enterprise.uscc",
        "enterprise.display_name",
        "enterprise.industry_code",
        "enterprise.region_code",
        "enterprise.financials[1].revenue_fen",
    ]
    assert all(description for _, description in details.violations)


def _seed(registry: Registry) -> list[str]:
    """23 enterprises: 15 in industry 28xx / Huzhou 3305xx, 8 in 13xx / Hangzhou 3301xx."""
    items = [
        Enterprise(make_uscc(i), f"企业{i}", "2825" if i < 15 else "1310", "330502" if i < 15 else "330106")
        for i in range(23)
    ]
    assert EnterpriseRepository(registry.engine).create_many(items) == 23
    assert EnterpriseRepository(registry.engine).create_many(items[:3]) == 0  # if_missing: skipped
    return sorted(e.uscc for e in items)


def _walk(registry: Registry, **filters: object) -> tuple[list[str], int, int]:
    seen: list[str] = []
    token, pages, total = "", 0, -1
    while True:
        request = pb.ListEnterprisesRequest(page_size=5, page_token=token, **filters)
        response = registry.stub.ListEnterprises(request, timeout=10)
        seen += [e.uscc for e in response.enterprises]
        pages, total, token = pages + 1, response.total_size, response.next_page_token
        if not token:
            return seen, pages, total


def test_pagination_walks_every_enterprise_exactly_once(registry: Registry) -> None:
    everyone = _seed(registry)
    seen, pages, total = _walk(registry)
    assert seen == everyone and pages == 5 and total == 23


def test_prefix_filters(registry: Registry) -> None:
    _seed(registry)
    by_industry, _, total = _walk(registry, industry_code_prefix="28")
    assert total == 15 and by_industry == sorted(make_uscc(i) for i in range(15))
    by_region, _, total = _walk(registry, region_code_prefix="3301")
    assert total == 8 and by_region == sorted(make_uscc(i) for i in range(15, 23))
    both, _, total = _walk(registry, industry_code_prefix="13", region_code_prefix="330106")
    assert both == by_region and total == 8


def test_page_token_is_bound_to_its_filters(registry: Registry) -> None:
    _seed(registry)
    first = registry.stub.ListEnterprises(pb.ListEnterprisesRequest(page_size=2, industry_code_prefix="28"))
    reused = pb.ListEnterprisesRequest(
        page_size=2, page_token=first.next_page_token, industry_code_prefix="13"
    )
    error = _rpc_error(registry.stub.ListEnterprises, reused)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error_details(error).fields == ["page_token"]
    garbage = _rpc_error(registry.stub.ListEnterprises, pb.ListEnterprisesRequest(page_token="not-a-token"))
    assert error_details(garbage).fields == ["page_token"]


def test_list_arguments_are_checked(registry: Registry) -> None:
    error = _rpc_error(registry.stub.ListEnterprises, pb.ListEnterprisesRequest(page_size=-1))
    assert error_details(error).fields == ["page_size"]
    error = _rpc_error(registry.stub.ListEnterprises, pb.ListEnterprisesRequest(industry_code_prefix="2%"))
    assert error_details(error).fields == ["industry_code_prefix"]
    _seed(registry)
    response = registry.stub.ListEnterprises(pb.ListEnterprisesRequest(page_size=5000), timeout=10)
    assert len(response.enterprises) == 23 and not response.next_page_token  # coerced to the maximum


def _update(registry: Registry, enterprise: registry_pb2.Enterprise, *paths: str) -> registry_pb2.Enterprise:
    request = pb.UpdateEnterpriseRequest(enterprise=enterprise, update_mask=FieldMask(paths=list(paths)))
    return registry.stub.UpdateEnterprise(request, timeout=10)


def test_update_changes_only_the_masked_fields(registry: Registry) -> None:
    created = _create(registry, _enterprise(financials=[pb.AnnualFinancials(year=2023, revenue_fen=10)]))
    patch = pb.Enterprise(
        name=created.name,
        display_name="新名字有限公司",
        region_code="33",  # invalid, but not in the mask: ignored
        financials=[pb.AnnualFinancials(year=2024, revenue_fen=20)],
    )
    updated = _update(registry, patch, "display_name", "financials")
    assert updated.display_name == "新名字有限公司" and updated.region_code == "330502"
    assert [(f.year, f.revenue_fen) for f in updated.financials] == [(2023, 10), (2024, 20)]
    assert updated.create_time == created.create_time and updated.update_time.ToDatetime() >= (
        created.update_time.ToDatetime()
    )
    replaced = _update(
        registry,
        pb.Enterprise(uscc=created.uscc.lower(), financials=[pb.AnnualFinancials(year=2023, revenue_fen=11)]),
        "financials",
    )
    assert [(f.year, f.revenue_fen) for f in replaced.financials] == [(2023, 11), (2024, 20)]
    assert registry.stub.GetEnterprise(pb.GetEnterpriseRequest(name=created.name)) == replaced


def test_update_mask_is_required_and_checked(registry: Registry) -> None:
    created = _create(registry, _enterprise())
    target = pb.Enterprise(name=created.name, display_name="x", region_code="33")
    missing = _rpc_error(registry.stub.UpdateEnterprise, pb.UpdateEnterpriseRequest(enterprise=target))
    assert error_details(missing).fields == ["update_mask"]
    unknown = pb.UpdateEnterpriseRequest(enterprise=target, update_mask=FieldMask(paths=["uscc", "colour"]))
    details = error_details(_rpc_error(registry.stub.UpdateEnterprise, unknown))
    assert details.fields == ["update_mask.paths", "update_mask.paths"]
    assert "'uscc'" in details.violations[0][1] and "'colour'" in details.violations[1][1]
    invalid = pb.UpdateEnterpriseRequest(enterprise=target, update_mask=FieldMask(paths=["region_code"]))
    assert error_details(_rpc_error(registry.stub.UpdateEnterprise, invalid)).fields == [
        "enterprise.region_code"
    ]


def test_update_of_unknown_enterprise_is_not_found(registry: Registry) -> None:
    patch = pb.Enterprise(name=f"enterprises/{make_uscc(3)}", display_name="x")
    request = pb.UpdateEnterpriseRequest(enterprise=patch, update_mask=FieldMask(paths=["display_name"]))
    assert _rpc_error(registry.stub.UpdateEnterprise, request).code() == grpc.StatusCode.NOT_FOUND


def test_repository_round_trips_domain_financials(registry: Registry) -> None:
    repository = EnterpriseRepository(registry.engine)
    money = AnnualFinancials(2024, industrial_added_value_fen=5_500_000, listed=True, evic_fen=7_000_001)
    repository.create(Enterprise(make_uscc(2), "甲", "2825", "330502", financials=(money,)))
    assert repository.get(make_uscc(2)).financials == (money,)
    assert repository.existing_usccs({make_uscc(2), make_uscc(3)}) == {make_uscc(2)}
