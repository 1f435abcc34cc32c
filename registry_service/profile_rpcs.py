"""CarbonRegistry RPCs of the carbon-efficiency profile: GetCarbonProfile, BatchGetCarbonProfiles,
ListBenchmarks and RecomputeBenchmarks. A mixin of CarbonRegistryServicer, which provides
``self.profiles`` (a ProfileService)."""

from __future__ import annotations

from datetime import date

import grpc
import sqlalchemy as sa

from registry_service.consent_gate import ConsentGate
from registry_service.convert_profiles import benchmark_to_proto, parse_profile_name, profile_to_proto
from registry_service.profile_change_rpcs import ChangePosition
from registry_service.profile_service import ProfileService
from registry_service.storage import decode_page_token, encode_page_token, filter_fingerprint, page_size_of
from registry_service.storage.tables import benchmarks
from tanxiao.common.v1 import common_pb2
from tanxiao.errors import ValidationError
from tanxiao.platform.db import read_only
from tanxiao.registry.v1 import registry_pb2

MAX_BATCH_PROFILES = 1000
_REGION_LEVEL_NAMES = {common_pb2.COUNTY: "COUNTY", common_pb2.CITY: "CITY", common_pb2.PROVINCE: "PROVINCE"}


class ProfileRpcs:
    profiles: ProfileService
    consent_gate: ConsentGate
    change_position: ChangePosition

    def GetCarbonProfile(
        self, request: registry_pb2.GetCarbonProfileRequest, context: grpc.ServicerContext
    ) -> registry_pb2.CarbonProfile:
        key = parse_profile_name(request.name)
        self.consent_gate.require("GetCarbonProfile", [key[0]])
        (row,) = self.profiles.profiles([key])
        return profile_to_proto(row)

    def BatchGetCarbonProfiles(
        self, request: registry_pb2.BatchGetCarbonProfilesRequest, context: grpc.ServicerContext
    ) -> registry_pb2.BatchGetCarbonProfilesResponse:
        if not request.names:
            raise ValidationError.for_field("names", "at least one profile name is required")
        if len(request.names) > MAX_BATCH_PROFILES:
            raise ValidationError.for_field("names", f"at most {MAX_BATCH_PROFILES} names per call")
        keys = [parse_profile_name(name, f"names[{i}]") for i, name in enumerate(request.names)]
        self.consent_gate.require("BatchGetCarbonProfiles", [uscc for uscc, _period in keys])
        through = self.change_position.current()  # before the read: the rows reflect at least this
        rows = self.profiles.profiles(keys, allow_missing=request.allow_missing)
        return registry_pb2.BatchGetCarbonProfilesResponse(
            profiles=[profile_to_proto(r) for r in rows], profile_changes_through=through
        )

    def ListBenchmarks(
        self, request: registry_pb2.ListBenchmarksRequest, context: grpc.ServicerContext
    ) -> registry_pb2.ListBenchmarksResponse:
        size = page_size_of(request.page_size)
        prefix = request.industry_code_prefix.strip()
        if prefix and not (prefix.isdigit() and len(prefix) <= 4):
            raise ValidationError.for_field("industry_code_prefix", "must be up to 4 digits (GB/T 4754)")
        if request.year and not 2000 <= request.year <= 2100:
            raise ValidationError.for_field("year", "must be between 2000 and 2100, or 0 for every year")
        level = _REGION_LEVEL_NAMES.get(request.region_level, "")
        fingerprint = filter_fingerprint("benchmarks", request.year, prefix, level)
        after = decode_page_token(request.page_token, fingerprint, shape=(int, str, str))
        query = sa.select(benchmarks)
        if request.year:
            query = query.where(benchmarks.c.year == request.year)
        if prefix:
            query = query.where(benchmarks.c.industry_code.startswith(prefix, autoescape=True))
        if level:
            query = query.where(benchmarks.c.region_level == level)
        key = (benchmarks.c.year, benchmarks.c.industry_code, benchmarks.c.region_code)
        if after:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*(sa.literal(v) for v in after)))
        with read_only(self.profiles.engine) as conn:
            rows = [dict(r) for r in conn.execute(query.order_by(*key).limit(size + 1)).mappings()]
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            last = rows[-1]
            token = encode_page_token([last["year"], last["industry_code"], last["region_code"]], fingerprint)
        return registry_pb2.ListBenchmarksResponse(
            benchmarks=[benchmark_to_proto(r) for r in rows], next_page_token=token
        )

    def RecomputeBenchmarks(
        self, request: registry_pb2.RecomputeBenchmarksRequest, context: grpc.ServicerContext
    ) -> registry_pb2.RecomputeBenchmarksResponse:
        if not 2000 <= request.year <= date.today().year:
            raise ValidationError.for_field("year", f"must be between 2000 and {date.today().year}")
        summary = self.profiles.recompute_year(request.year)
        return registry_pb2.RecomputeBenchmarksResponse(
            year=summary.year,
            enterprises=summary.enterprises,
            profiles=summary.profiles,
            benchmarks=summary.benchmarks,
            graded=summary.graded,
            ungraded=summary.ungraded,
            grade_counts=summary.grade_counts,
            duration_seconds=summary.duration_seconds,
        )
