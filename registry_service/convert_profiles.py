"""Profiles and benchmarks: carbon_profiles / benchmarks rows <-> tanxiao.registry.v1 messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from registry_service.convert import financials_to_proto
from registry_service.domain.accounting import parse_period
from registry_service.domain.enterprise import AMOUNTS, AnnualFinancials
from registry_service.domain.region import RegionLevel, level_of
from registry_service.domain.uscc import InvalidUSCC, normalize_uscc
from registry_service.storage import utc
from tanxiao.common.v1 import common_pb2
from tanxiao.errors import ValidationError
from tanxiao.registry.v1 import registry_pb2

_LEVELS = {"LOW_CARBON": common_pb2.LOW_CARBON, "MEDIUM_CARBON": common_pb2.MEDIUM_CARBON,
           "HIGH_CARBON": common_pb2.HIGH_CARBON}  # fmt: skip
_REGION_LEVELS = {RegionLevel.COUNTY: common_pb2.COUNTY, RegionLevel.CITY: common_pb2.CITY,
                  RegionLevel.PROVINCE: common_pb2.PROVINCE}  # fmt: skip
_TRENDS = {"IMPROVING": common_pb2.IMPROVING, "STABLE": common_pb2.STABLE, "WORSENING": common_pb2.WORSENING,
           "INSUFFICIENT_DATA": common_pb2.INSUFFICIENT_DATA}  # fmt: skip


def profile_name(uscc: str, period: str) -> str:
    return f"enterprises/{uscc}/profiles/{period}"


def parse_profile_name(name: str, field: str = "name") -> tuple[str, str]:
    """(uscc, period) of "enterprises/{uscc}/profiles/{period}"; INVALID_ARGUMENT naming ``field``."""
    parts = name.strip().split("/")
    if len(parts) != 4 or parts[0] != "enterprises" or parts[2] != "profiles" or not parts[3]:
        raise ValidationError.for_field(field, "must be enterprises/{uscc}/profiles/{period}")
    try:
        uscc = normalize_uscc(parts[1])
    except InvalidUSCC as exc:
        raise ValidationError.for_field(field, f"invalid uscc: {exc}", reason="INVALID_USCC") from None
    try:
        parse_period(parts[3])
    except ValueError as exc:
        raise ValidationError.for_field(field, str(exc)) from None
    return uscc, parts[3]


def profile_to_proto(row: dict[str, Any]) -> registry_pb2.CarbonProfile:
    details = row.get("details") or {}
    profile = registry_pb2.CarbonProfile(
        name=profile_name(row["uscc"], row["period"]),
        uscc=row["uscc"],
        period=row["period"],
        months_covered=row["months_covered"],
        energy_tce=row["energy_tce"],
        scope1_tco2=row["scope1_tco2"],
        scope2_gross_tco2=row["scope2_gross_tco2"],
        green_power_netting_tco2=row["green_power_netting_tco2"],
        own_renewable_netting_tco2=row["own_renewable_netting_tco2"],
        gross_tco2=row["gross_tco2"],
        net_tco2=row["net_tco2"],
        added_value_fen=row["added_value_fen"] or 0,
        carbon_neutrality_rate=row["neutrality_rate"] or 0.0,
        benchmark_fallback=_fallback_steps(row, details),
        grade=_grade(row, details),
        trend=_trend(details.get("trend") or {}),
        data_quality=_quality(row, details.get("quality") or {}),
        compute_time=_timestamp(row["compute_time"]),
        catalog_version=row["catalog_version"],
        record_count=row["record_count"],
        inputs_fingerprint=row["inputs_fingerprint"],
        industry_code=row["industry_code"],
        region_code=row["region_code"],
        ungraded_reason=_ungraded_reason(row, details),
        coverage=_coverage(row, details.get("coverage") or {}),
        electricity=_electricity(details.get("electricity") or {}),
        grid_factor=details.get("grid_factor") or 0.0,
        grid_factor_year=int(details.get("grid_factor_year") or 0),
        grid_factor_source=str(details.get("grid_factor_source") or ""),
        grid_factor_fallback=bool(details.get("grid_factor_fallback") or False),
        scope2=_scope2(details.get("scope2") or {}, row),
        process_tco2=details.get("process_tco2") or 0.0,
        graded_includes_process=_graded_includes_process(details),
    )
    for name in ("energy_intensity", "carbon_intensity", "k_value"):
        if row.get(name) is not None:
            setattr(profile, name, row[name])
    if row.get("benchmark_intensity") is not None:
        profile.benchmark.CopyFrom(_profile_benchmark(row, details))
        profile.benchmark_provenance.CopyFrom(_provenance(details.get("benchmark") or {}))
    if row.get("financials"):
        profile.financials.CopyFrom(financials_to_proto(_financials(row["financials"])))
    return profile


def benchmark_to_proto(row: dict[str, Any]) -> registry_pb2.Benchmark:
    return registry_pb2.Benchmark(
        industry_code=row["industry_code"],
        region_code=row["region_code"],
        region_level=_REGION_LEVELS[RegionLevel(row["region_level"])],
        year=row["year"],
        average_intensity=row["average_intensity"],
        median_intensity=row["median_intensity"],
        q1_intensity=row["q1_intensity"],
        q3_intensity=row["q3_intensity"],
        enterprise_count=row["enterprise_count"],
        compute_time=_timestamp(row["compute_time"]),
    )


def _profile_benchmark(row: dict[str, Any], details: dict[str, Any]) -> registry_pb2.Benchmark:
    code = row["benchmark_region_code"] or ""
    return registry_pb2.Benchmark(
        industry_code=row["benchmark_industry_code"] or "",
        region_code=code,
        region_level=_REGION_LEVELS[level_of(code)] if code else common_pb2.REGION_LEVEL_UNSPECIFIED,
        year=row["benchmark_year"] or 0,
        average_intensity=row["benchmark_intensity"],
        enterprise_count=int((details.get("benchmark") or {}).get("enterprise_count") or 0),
    )


def _provenance(benchmark: dict[str, Any]) -> registry_pb2.BenchmarkProvenance:
    """The published version a profile was graded against (details written by with_provenance)."""
    provenance = registry_pb2.BenchmarkProvenance(
        version=int(benchmark.get("version") or 0),
        firm_count=int(benchmark.get("enterprise_count") or 0),
        includes_self=bool(benchmark.get("includes_self") or False),
        excludes_self=bool(benchmark.get("excludes_self") or False),
        sensitive=bool(benchmark.get("sensitive") or False),
    )
    if benchmark.get("computed_at"):
        provenance.compute_time.FromDatetime(utc(datetime.fromisoformat(str(benchmark["computed_at"]))))
    return provenance


def _fallback_steps(row: dict[str, Any], details: dict[str, Any]) -> list[str]:
    """Why the benchmark is not the configured one, in words a credit officer can check."""
    benchmark = details.get("benchmark") or {}
    if row.get("benchmark_intensity") is None:
        return ["NO_BENCHMARK: no industry average for this industry and region yet"]
    steps = []
    if benchmark.get("fallback"):
        steps.append(
            f"FALLBACK: compared with industry {row['benchmark_industry_code']} in region "
            f"{row['benchmark_region_code']} ({benchmark.get('region_level', '')})"
        )
    if not benchmark.get("qualified", True):
        steps.append(f"THIN_BENCHMARK: only {int(benchmark.get('enterprise_count') or 0)} enterprises")
    year = row.get("benchmark_year")
    if year is not None and year != row["year"]:
        steps.append(f"PREVIOUS_YEAR: the benchmark of {year} (none for {row['year']} yet)")
    return steps


def _grade(row: dict[str, Any], details: dict[str, Any]) -> common_pb2.CarbonGrade:
    colours = {1: "#1A9641", 2: "#A6D96A", 3: "#FFD700", 4: "#FDAE61", 5: "#D7191C"}
    return common_pb2.CarbonGrade(
        grade=row["grade"],
        level=_LEVELS.get(row["level"], common_pb2.CARBON_LEVEL_UNSPECIFIED),
        label_zh=details.get("label_zh", ""),
        label_en=details.get("label_en", ""),
        colour=colours.get(row["grade"], ""),
        grading_method=row["grading_method"],
    )


def _ungraded_reason(row: dict[str, Any], details: dict[str, Any]) -> int:
    """The stored reason; a grade-0 profile stored before the coverage rule says NO_BENCHMARK, the
    only way such a profile could be ungraded then (a month or quarter: PERIOD_NOT_GRADED)."""
    reason = str(details.get("ungraded_reason") or "")
    if not reason and row["grade"] == 0:
        reason = "NO_BENCHMARK" if row.get("granularity") in ("year", "rolling12") else "PERIOD_NOT_GRADED"
    return int(registry_pb2.UngradedReason.Value(reason)) if reason else 0


def _electricity(figures: dict[str, Any]) -> registry_pb2.ElectricityBalance:
    return registry_pb2.ElectricityBalance(
        grid_purchased_kwh=figures.get("grid_electricity_kwh") or 0.0,
        pv_self_consumed_kwh=figures.get("pv_self_consumed_kwh") or 0.0,
        pv_export_kwh=figures.get("pv_export_kwh") or 0.0,
        pv_generation_kwh=figures.get("pv_generation_kwh") or 0.0,
        consumption_kwh=figures.get("electricity_consumption_kwh") or 0.0,
    )


def _coverage(row: dict[str, Any], coverage: dict[str, Any]) -> registry_pb2.Coverage:
    gaps = []
    for part in filter(None, str(coverage.get("gaps") or "").split(";")):
        category, _, months = part.partition(":")
        gaps.append(registry_pb2.CoverageGap(category=category, missing_months=months.split("|")))
    return registry_pb2.Coverage(
        months_expected=row["months_expected"],
        months_with_energy=row["months_covered"],
        months_complete=int(coverage.get("months_complete") or 0),
        expected_categories=list(filter(None, str(coverage.get("required_categories") or "").split(","))),
        gaps=gaps,
    )


def _trend(trend: dict[str, Any]) -> registry_pb2.Trend:
    return registry_pb2.Trend(
        direction=_TRENDS.get(trend.get("direction", ""), common_pb2.TREND_DIRECTION_UNSPECIFIED),
        slope_per_year=trend.get("slope_per_year") or 0.0,
        relative_change_per_year=trend.get("relative_change_per_year") or 0.0,
        confidence=trend.get("confidence") or 0.0,
        months=int(trend.get("months") or 0),
        projected_intensity_next_year=trend.get("projected_intensity_next_year") or 0.0,
        projected_grade_next_year=int(trend.get("projected_grade_next_year") or 0),
        reason=trend.get("reason", ""),
    )


def _quality(row: dict[str, Any], quality: dict[str, Any]) -> registry_pb2.DataQuality:
    return registry_pb2.DataQuality(
        score=row.get("quality_score") or 0.0,
        pcaf_score=row.get("pcaf_score") or 0,
        coverage=quality.get("coverage") or row["months_covered"] / max(row["months_expected"], 1),
        flags=[
            registry_pb2.QualityFlag(
                code=f.get("code", ""),
                severity=f.get("severity", ""),
                category=f.get("category", ""),
                period=f.get("period", ""),
                reason_en=f.get("reason_en", ""),
                reason_zh=f.get("reason_zh", ""),
            )
            for f in quality.get("flags", [])
        ],
    )


def _financials(row: dict[str, Any]) -> AnnualFinancials:
    return AnnualFinancials(year=int(row["year"]), listed=bool(row["listed"]), **{k: row[k] for k in AMOUNTS})


def _timestamp(value: Any) -> Timestamp:
    stamp = Timestamp()
    if value is not None:
        stamp.FromDatetime(utc(value))
    return stamp


def _scope2(figures: dict[str, Any], row: dict[str, Any]) -> registry_pb2.Scope2Methods:
    """Both scope 2 methods; a profile stored before catalog 2026.2 has only the location-based one."""
    return registry_pb2.Scope2Methods(
        location_tco2=figures.get("scope2_location_tco2") or row["scope2_gross_tco2"] or 0.0,
        market_tco2=figures.get("scope2_market_tco2") or 0.0,
        instrument_kwh=figures.get("instrument_kwh") or 0.0,
        instrument_covered_kwh=figures.get("instrument_covered_kwh") or 0.0,
        residual_mix_factor=figures.get("residual_mix_factor") or 0.0,
        residual_mix_source=str(figures.get("residual_mix_source") or ""),
        graded_method=str(figures.get("graded_method") or "location"),
    )


def _graded_includes_process(details: dict[str, Any]) -> bool:
    return bool((details.get("scope2") or {}).get("graded_includes_process") or False)
