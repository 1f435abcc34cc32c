"""Scoring names the data categories of data-quality flags from the registry's contract
(ListDataCategories), not from the registry's package: the names it gets equal the catalogue's, and a
registry that cannot be reached gives no names (explanations keep the codes) and is asked again later."""

from __future__ import annotations

import grpc
from helpers import Registry

from registry_service.domain.catalog import load_catalog
from scoring_service import explain
from scoring_service.registry_client import RegistryClient


def test_category_names_come_over_grpc_and_name_a_flag(registry: Registry) -> None:
    client = RegistryClient(registry.channel, registry.settings)
    names = client.category_names()
    catalogue = {c.code: (c.name_zh, c.name_en) for c in load_catalog().categories}
    assert names == catalogue
    assert client.category_names() is names  # read once, kept
    flag = {"code": "SELF_REPORTED_ONLY", "severity": "WARNING", "category": "STEAM",
            "reason_zh": "STEAM：仅有企业自报数据", "reason_en": "STEAM: self-reported only"}  # fmt: skip
    assert explain._flag_text(flag, "zh", names) == f"[警告] {names['STEAM'][0]}：仅有企业自报数据"
    assert explain._flag_text(flag, "en", {}) == "[warning] STEAM: self-reported only"


def test_an_unreachable_registry_gives_no_names_and_is_asked_again(registry: Registry) -> None:
    with grpc.insecure_channel("127.0.0.1:1") as dead:
        client = RegistryClient(dead, registry.settings)
        assert client.category_names() == {}
        assert client._category_names is None  # not cached: the next explanation asks again
