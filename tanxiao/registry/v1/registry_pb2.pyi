import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tanxiao.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SizeClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIZE_CLASS_UNSPECIFIED: _ClassVar[SizeClass]
    ABOVE_DESIGNATED_SIZE: _ClassVar[SizeClass]
    BELOW_DESIGNATED_SIZE: _ClassVar[SizeClass]

class CategoryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CATEGORY_KIND_UNSPECIFIED: _ClassVar[CategoryKind]
    ENERGY: _ClassVar[CategoryKind]
    RENEWABLE: _ClassVar[CategoryKind]
    ECONOMIC: _ClassVar[CategoryKind]
    RESOURCE: _ClassVar[CategoryKind]
    PROCESS_EMISSIONS: _ClassVar[CategoryKind]

class RecordStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORD_STATUS_UNSPECIFIED: _ClassVar[RecordStatus]
    ACCEPTED: _ClassVar[RecordStatus]
    DUPLICATE: _ClassVar[RecordStatus]
    REVISED: _ClassVar[RecordStatus]
    REJECTED: _ClassVar[RecordStatus]

class UngradedReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNGRADED_REASON_UNSPECIFIED: _ClassVar[UngradedReason]
    NO_ENERGY_DATA: _ClassVar[UngradedReason]
    INCOMPLETE_ENERGY_DATA: _ClassVar[UngradedReason]
    NO_ADDED_VALUE: _ClassVar[UngradedReason]
    NO_BENCHMARK: _ClassVar[UngradedReason]
    PERIOD_NOT_GRADED: _ClassVar[UngradedReason]

class ProjectType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROJECT_TYPE_UNSPECIFIED: _ClassVar[ProjectType]
    PV: _ClassVar[ProjectType]
    WASTE_HEAT: _ClassVar[ProjectType]
    MOTORS: _ClassVar[ProjectType]
    TRANSFORMER: _ClassVar[ProjectType]
    PROCESS: _ClassVar[ProjectType]
    FUEL_SWITCH: _ClassVar[ProjectType]
    OTHER: _ClassVar[ProjectType]

class CommitmentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMITMENT_STATUS_UNSPECIFIED: _ClassVar[CommitmentStatus]
    NOT_STARTED: _ClassVar[CommitmentStatus]
    ON_TRACK: _ClassVar[CommitmentStatus]
    AT_RISK: _ClassVar[CommitmentStatus]
    MISSED: _ClassVar[CommitmentStatus]
    ACHIEVED: _ClassVar[CommitmentStatus]

class UtilityKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UTILITY_KIND_UNSPECIFIED: _ClassVar[UtilityKind]
    ELECTRICITY: _ClassVar[UtilityKind]
    GAS: _ClassVar[UtilityKind]
    WATER: _ClassVar[UtilityKind]
    HEAT: _ClassVar[UtilityKind]
SIZE_CLASS_UNSPECIFIED: SizeClass
ABOVE_DESIGNATED_SIZE: SizeClass
BELOW_DESIGNATED_SIZE: SizeClass
CATEGORY_KIND_UNSPECIFIED: CategoryKind
ENERGY: CategoryKind
RENEWABLE: CategoryKind
ECONOMIC: CategoryKind
RESOURCE: CategoryKind
PROCESS_EMISSIONS: CategoryKind
RECORD_STATUS_UNSPECIFIED: RecordStatus
ACCEPTED: RecordStatus
DUPLICATE: RecordStatus
REVISED: RecordStatus
REJECTED: RecordStatus
UNGRADED_REASON_UNSPECIFIED: UngradedReason
NO_ENERGY_DATA: UngradedReason
INCOMPLETE_ENERGY_DATA: UngradedReason
NO_ADDED_VALUE: UngradedReason
NO_BENCHMARK: UngradedReason
PERIOD_NOT_GRADED: UngradedReason
PROJECT_TYPE_UNSPECIFIED: ProjectType
PV: ProjectType
WASTE_HEAT: ProjectType
MOTORS: ProjectType
TRANSFORMER: ProjectType
PROCESS: ProjectType
FUEL_SWITCH: ProjectType
OTHER: ProjectType
COMMITMENT_STATUS_UNSPECIFIED: CommitmentStatus
NOT_STARTED: CommitmentStatus
ON_TRACK: CommitmentStatus
AT_RISK: CommitmentStatus
MISSED: CommitmentStatus
ACHIEVED: CommitmentStatus
UTILITY_KIND_UNSPECIFIED: UtilityKind
ELECTRICITY: UtilityKind
GAS: UtilityKind
WATER: UtilityKind
HEAT: UtilityKind

class Enterprise(_message.Message):
    __slots__ = ("name", "uscc", "display_name", "industry_code", "industry_section", "region_code", "size_class", "financials", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    USCC_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_SECTION_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    SIZE_CLASS_FIELD_NUMBER: _ClassVar[int]
    FINANCIALS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    uscc: str
    display_name: str
    industry_code: str
    industry_section: str
    region_code: str
    size_class: SizeClass
    financials: _containers.RepeatedCompositeFieldContainer[AnnualFinancials]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., uscc: _Optional[str] = ..., display_name: _Optional[str] = ..., industry_code: _Optional[str] = ..., industry_section: _Optional[str] = ..., region_code: _Optional[str] = ..., size_class: _Optional[_Union[SizeClass, str]] = ..., financials: _Optional[_Iterable[_Union[AnnualFinancials, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AnnualFinancials(_message.Message):
    __slots__ = ("year", "industrial_added_value_fen", "revenue_fen", "total_equity_fen", "total_debt_fen", "listed", "evic_fen")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    INDUSTRIAL_ADDED_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EQUITY_FEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DEBT_FEN_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    EVIC_FEN_FIELD_NUMBER: _ClassVar[int]
    year: int
    industrial_added_value_fen: int
    revenue_fen: int
    total_equity_fen: int
    total_debt_fen: int
    listed: bool
    evic_fen: int
    def __init__(self, year: _Optional[int] = ..., industrial_added_value_fen: _Optional[int] = ..., revenue_fen: _Optional[int] = ..., total_equity_fen: _Optional[int] = ..., total_debt_fen: _Optional[int] = ..., listed: _Optional[bool] = ..., evic_fen: _Optional[int] = ...) -> None: ...

class CreateEnterpriseRequest(_message.Message):
    __slots__ = ("enterprise", "request_id")
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    enterprise: Enterprise
    request_id: str
    def __init__(self, enterprise: _Optional[_Union[Enterprise, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetEnterpriseRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListEnterprisesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "industry_code_prefix", "region_code_prefix")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    industry_code_prefix: str
    region_code_prefix: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., industry_code_prefix: _Optional[str] = ..., region_code_prefix: _Optional[str] = ...) -> None: ...

class ListEnterprisesResponse(_message.Message):
    __slots__ = ("enterprises", "next_page_token", "total_size")
    ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    enterprises: _containers.RepeatedCompositeFieldContainer[Enterprise]
    next_page_token: str
    total_size: int
    def __init__(self, enterprises: _Optional[_Iterable[_Union[Enterprise, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class UpdateEnterpriseRequest(_message.Message):
    __slots__ = ("enterprise", "update_mask", "request_id")
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    enterprise: Enterprise
    update_mask: _field_mask_pb2.FieldMask
    request_id: str
    def __init__(self, enterprise: _Optional[_Union[Enterprise, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class UnitConversion(_message.Message):
    __slots__ = ("unit", "multiplier")
    UNIT_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    unit: str
    multiplier: float
    def __init__(self, unit: _Optional[str] = ..., multiplier: _Optional[float] = ...) -> None: ...

class DataCategory(_message.Message):
    __slots__ = ("code", "name_zh", "name_en", "kind", "unit", "accepted_units", "kgce_per_unit", "kgco2_per_unit", "uses_grid_factor", "scope", "source", "notes")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_ZH_FIELD_NUMBER: _ClassVar[int]
    NAME_EN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_UNITS_FIELD_NUMBER: _ClassVar[int]
    KGCE_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    KGCO2_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    USES_GRID_FACTOR_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    code: str
    name_zh: str
    name_en: str
    kind: CategoryKind
    unit: str
    accepted_units: _containers.RepeatedCompositeFieldContainer[UnitConversion]
    kgce_per_unit: float
    kgco2_per_unit: float
    uses_grid_factor: bool
    scope: str
    source: str
    notes: str
    def __init__(self, code: _Optional[str] = ..., name_zh: _Optional[str] = ..., name_en: _Optional[str] = ..., kind: _Optional[_Union[CategoryKind, str]] = ..., unit: _Optional[str] = ..., accepted_units: _Optional[_Iterable[_Union[UnitConversion, _Mapping]]] = ..., kgce_per_unit: _Optional[float] = ..., kgco2_per_unit: _Optional[float] = ..., uses_grid_factor: _Optional[bool] = ..., scope: _Optional[str] = ..., source: _Optional[str] = ..., notes: _Optional[str] = ...) -> None: ...

class GridEmissionFactor(_message.Message):
    __slots__ = ("region", "year", "tco2_per_mwh", "source")
    REGION_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    TCO2_PER_MWH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    region: str
    year: int
    tco2_per_mwh: float
    source: str
    def __init__(self, region: _Optional[str] = ..., year: _Optional[int] = ..., tco2_per_mwh: _Optional[float] = ..., source: _Optional[str] = ...) -> None: ...

class ListDataCategoriesRequest(_message.Message):
    __slots__ = ("catalog_version",)
    CATALOG_VERSION_FIELD_NUMBER: _ClassVar[int]
    catalog_version: str
    def __init__(self, catalog_version: _Optional[str] = ...) -> None: ...

class ListDataCategoriesResponse(_message.Message):
    __slots__ = ("categories", "catalog_version", "catalog_hash", "grid_factors")
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    CATALOG_VERSION_FIELD_NUMBER: _ClassVar[int]
    CATALOG_HASH_FIELD_NUMBER: _ClassVar[int]
    GRID_FACTORS_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedCompositeFieldContainer[DataCategory]
    catalog_version: str
    catalog_hash: str
    grid_factors: _containers.RepeatedCompositeFieldContainer[GridEmissionFactor]
    def __init__(self, categories: _Optional[_Iterable[_Union[DataCategory, _Mapping]]] = ..., catalog_version: _Optional[str] = ..., catalog_hash: _Optional[str] = ..., grid_factors: _Optional[_Iterable[_Union[GridEmissionFactor, _Mapping]]] = ...) -> None: ...

class EnergyRecord(_message.Message):
    __slots__ = ("uscc", "period", "category", "quantity", "unit", "source", "external_id", "instrument_id", "utility_account")
    USCC_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    UTILITY_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    uscc: str
    period: str
    category: str
    quantity: float
    unit: str
    source: _common_pb2.DataSource
    external_id: str
    instrument_id: str
    utility_account: str
    def __init__(self, uscc: _Optional[str] = ..., period: _Optional[str] = ..., category: _Optional[str] = ..., quantity: _Optional[float] = ..., unit: _Optional[str] = ..., source: _Optional[_Union[_common_pb2.DataSource, str]] = ..., external_id: _Optional[str] = ..., instrument_id: _Optional[str] = ..., utility_account: _Optional[str] = ...) -> None: ...

class StoredRecord(_message.Message):
    __slots__ = ("name", "record", "canonical_quantity", "canonical_unit", "revision", "current", "effective", "ingest_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_UNIT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    INGEST_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    record: EnergyRecord
    canonical_quantity: float
    canonical_unit: str
    revision: int
    current: bool
    effective: bool
    ingest_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., record: _Optional[_Union[EnergyRecord, _Mapping]] = ..., canonical_quantity: _Optional[float] = ..., canonical_unit: _Optional[str] = ..., revision: _Optional[int] = ..., current: _Optional[bool] = ..., effective: _Optional[bool] = ..., ingest_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class IngestRecordsRequest(_message.Message):
    __slots__ = ("records", "include_accepted_results")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ACCEPTED_RESULTS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[EnergyRecord]
    include_accepted_results: bool
    def __init__(self, records: _Optional[_Iterable[_Union[EnergyRecord, _Mapping]]] = ..., include_accepted_results: _Optional[bool] = ...) -> None: ...

class BatchIngestRecordsRequest(_message.Message):
    __slots__ = ("records", "request_id")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[EnergyRecord]
    request_id: str
    def __init__(self, records: _Optional[_Iterable[_Union[EnergyRecord, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RecordResult(_message.Message):
    __slots__ = ("index", "status", "field", "reason", "reason_code", "revision")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    index: int
    status: RecordStatus
    field: str
    reason: str
    reason_code: str
    revision: int
    def __init__(self, index: _Optional[int] = ..., status: _Optional[_Union[RecordStatus, str]] = ..., field: _Optional[str] = ..., reason: _Optional[str] = ..., reason_code: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class IngestRecordsResponse(_message.Message):
    __slots__ = ("received", "accepted", "duplicates", "revised", "rejected", "results")
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REVISED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    received: int
    accepted: int
    duplicates: int
    revised: int
    rejected: int
    results: _containers.RepeatedCompositeFieldContainer[RecordResult]
    def __init__(self, received: _Optional[int] = ..., accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., revised: _Optional[int] = ..., rejected: _Optional[int] = ..., results: _Optional[_Iterable[_Union[RecordResult, _Mapping]]] = ...) -> None: ...

class ListRecordsRequest(_message.Message):
    __slots__ = ("parent", "period", "category", "include_history", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    period: str
    category: str
    include_history: bool
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., period: _Optional[str] = ..., category: _Optional[str] = ..., include_history: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRecordsResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[StoredRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[StoredRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Benchmark(_message.Message):
    __slots__ = ("industry_code", "region_code", "region_level", "year", "average_intensity", "median_intensity", "q1_intensity", "q3_intensity", "enterprise_count", "compute_time")
    INDUSTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    Q1_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    Q3_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    industry_code: str
    region_code: str
    region_level: _common_pb2.RegionLevel
    year: int
    average_intensity: float
    median_intensity: float
    q1_intensity: float
    q3_intensity: float
    enterprise_count: int
    compute_time: _timestamp_pb2.Timestamp
    def __init__(self, industry_code: _Optional[str] = ..., region_code: _Optional[str] = ..., region_level: _Optional[_Union[_common_pb2.RegionLevel, str]] = ..., year: _Optional[int] = ..., average_intensity: _Optional[float] = ..., median_intensity: _Optional[float] = ..., q1_intensity: _Optional[float] = ..., q3_intensity: _Optional[float] = ..., enterprise_count: _Optional[int] = ..., compute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Trend(_message.Message):
    __slots__ = ("direction", "slope_per_year", "relative_change_per_year", "confidence", "months", "projected_intensity_next_year", "projected_grade_next_year", "reason")
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    SLOPE_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_CHANGE_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_INTENSITY_NEXT_YEAR_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_GRADE_NEXT_YEAR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    direction: _common_pb2.TrendDirection
    slope_per_year: float
    relative_change_per_year: float
    confidence: float
    months: int
    projected_intensity_next_year: float
    projected_grade_next_year: int
    reason: str
    def __init__(self, direction: _Optional[_Union[_common_pb2.TrendDirection, str]] = ..., slope_per_year: _Optional[float] = ..., relative_change_per_year: _Optional[float] = ..., confidence: _Optional[float] = ..., months: _Optional[int] = ..., projected_intensity_next_year: _Optional[float] = ..., projected_grade_next_year: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class QualityFlag(_message.Message):
    __slots__ = ("code", "severity", "category", "period", "reason_en", "reason_zh")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    REASON_EN_FIELD_NUMBER: _ClassVar[int]
    REASON_ZH_FIELD_NUMBER: _ClassVar[int]
    code: str
    severity: str
    category: str
    period: str
    reason_en: str
    reason_zh: str
    def __init__(self, code: _Optional[str] = ..., severity: _Optional[str] = ..., category: _Optional[str] = ..., period: _Optional[str] = ..., reason_en: _Optional[str] = ..., reason_zh: _Optional[str] = ...) -> None: ...

class DataQuality(_message.Message):
    __slots__ = ("score", "pcaf_score", "coverage", "flags")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    PCAF_SCORE_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    score: float
    pcaf_score: int
    coverage: float
    flags: _containers.RepeatedCompositeFieldContainer[QualityFlag]
    def __init__(self, score: _Optional[float] = ..., pcaf_score: _Optional[int] = ..., coverage: _Optional[float] = ..., flags: _Optional[_Iterable[_Union[QualityFlag, _Mapping]]] = ...) -> None: ...

class ElectricityBalance(_message.Message):
    __slots__ = ("grid_purchased_kwh", "pv_self_consumed_kwh", "pv_export_kwh", "pv_generation_kwh", "consumption_kwh")
    GRID_PURCHASED_KWH_FIELD_NUMBER: _ClassVar[int]
    PV_SELF_CONSUMED_KWH_FIELD_NUMBER: _ClassVar[int]
    PV_EXPORT_KWH_FIELD_NUMBER: _ClassVar[int]
    PV_GENERATION_KWH_FIELD_NUMBER: _ClassVar[int]
    CONSUMPTION_KWH_FIELD_NUMBER: _ClassVar[int]
    grid_purchased_kwh: float
    pv_self_consumed_kwh: float
    pv_export_kwh: float
    pv_generation_kwh: float
    consumption_kwh: float
    def __init__(self, grid_purchased_kwh: _Optional[float] = ..., pv_self_consumed_kwh: _Optional[float] = ..., pv_export_kwh: _Optional[float] = ..., pv_generation_kwh: _Optional[float] = ..., consumption_kwh: _Optional[float] = ...) -> None: ...

class CoverageGap(_message.Message):
    __slots__ = ("category", "missing_months")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MISSING_MONTHS_FIELD_NUMBER: _ClassVar[int]
    category: str
    missing_months: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, category: _Optional[str] = ..., missing_months: _Optional[_Iterable[str]] = ...) -> None: ...

class Coverage(_message.Message):
    __slots__ = ("months_expected", "months_with_energy", "months_complete", "expected_categories", "gaps")
    MONTHS_EXPECTED_FIELD_NUMBER: _ClassVar[int]
    MONTHS_WITH_ENERGY_FIELD_NUMBER: _ClassVar[int]
    MONTHS_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    months_expected: int
    months_with_energy: int
    months_complete: int
    expected_categories: _containers.RepeatedScalarFieldContainer[str]
    gaps: _containers.RepeatedCompositeFieldContainer[CoverageGap]
    def __init__(self, months_expected: _Optional[int] = ..., months_with_energy: _Optional[int] = ..., months_complete: _Optional[int] = ..., expected_categories: _Optional[_Iterable[str]] = ..., gaps: _Optional[_Iterable[_Union[CoverageGap, _Mapping]]] = ...) -> None: ...

class CarbonProfile(_message.Message):
    __slots__ = ("name", "uscc", "period", "months_covered", "energy_tce", "scope1_tco2", "scope2_gross_tco2", "green_power_netting_tco2", "own_renewable_netting_tco2", "gross_tco2", "net_tco2", "added_value_fen", "energy_intensity", "carbon_intensity", "carbon_neutrality_rate", "benchmark", "benchmark_fallback", "k_value", "grade", "trend", "data_quality", "compute_time", "catalog_version", "record_count", "inputs_fingerprint", "financials", "industry_code", "region_code", "ungraded_reason", "coverage", "electricity", "grid_factor", "grid_factor_year", "grid_factor_source", "grid_factor_fallback", "benchmark_provenance", "scope2", "process_tco2", "graded_includes_process")
    NAME_FIELD_NUMBER: _ClassVar[int]
    USCC_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    MONTHS_COVERED_FIELD_NUMBER: _ClassVar[int]
    ENERGY_TCE_FIELD_NUMBER: _ClassVar[int]
    SCOPE1_TCO2_FIELD_NUMBER: _ClassVar[int]
    SCOPE2_GROSS_TCO2_FIELD_NUMBER: _ClassVar[int]
    GREEN_POWER_NETTING_TCO2_FIELD_NUMBER: _ClassVar[int]
    OWN_RENEWABLE_NETTING_TCO2_FIELD_NUMBER: _ClassVar[int]
    GROSS_TCO2_FIELD_NUMBER: _ClassVar[int]
    NET_TCO2_FIELD_NUMBER: _ClassVar[int]
    ADDED_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    ENERGY_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    CARBON_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    CARBON_NEUTRALITY_RATE_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    K_VALUE_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    TREND_FIELD_NUMBER: _ClassVar[int]
    DATA_QUALITY_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    CATALOG_VERSION_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    FINANCIALS_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    UNGRADED_REASON_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    ELECTRICITY_FIELD_NUMBER: _ClassVar[int]
    GRID_FACTOR_FIELD_NUMBER: _ClassVar[int]
    GRID_FACTOR_YEAR_FIELD_NUMBER: _ClassVar[int]
    GRID_FACTOR_SOURCE_FIELD_NUMBER: _ClassVar[int]
    GRID_FACTOR_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    SCOPE2_FIELD_NUMBER: _ClassVar[int]
    PROCESS_TCO2_FIELD_NUMBER: _ClassVar[int]
    GRADED_INCLUDES_PROCESS_FIELD_NUMBER: _ClassVar[int]
    name: str
    uscc: str
    period: str
    months_covered: int
    energy_tce: float
    scope1_tco2: float
    scope2_gross_tco2: float
    green_power_netting_tco2: float
    own_renewable_netting_tco2: float
    gross_tco2: float
    net_tco2: float
    added_value_fen: int
    energy_intensity: float
    carbon_intensity: float
    carbon_neutrality_rate: float
    benchmark: Benchmark
    benchmark_fallback: _containers.RepeatedScalarFieldContainer[str]
    k_value: float
    grade: _common_pb2.CarbonGrade
    trend: Trend
    data_quality: DataQuality
    compute_time: _timestamp_pb2.Timestamp
    catalog_version: str
    record_count: int
    inputs_fingerprint: str
    financials: AnnualFinancials
    industry_code: str
    region_code: str
    ungraded_reason: UngradedReason
    coverage: Coverage
    electricity: ElectricityBalance
    grid_factor: float
    grid_factor_year: int
    grid_factor_source: str
    grid_factor_fallback: bool
    benchmark_provenance: BenchmarkProvenance
    scope2: Scope2Methods
    process_tco2: float
    graded_includes_process: bool
    def __init__(self, name: _Optional[str] = ..., uscc: _Optional[str] = ..., period: _Optional[str] = ..., months_covered: _Optional[int] = ..., energy_tce: _Optional[float] = ..., scope1_tco2: _Optional[float] = ..., scope2_gross_tco2: _Optional[float] = ..., green_power_netting_tco2: _Optional[float] = ..., own_renewable_netting_tco2: _Optional[float] = ..., gross_tco2: _Optional[float] = ..., net_tco2: _Optional[float] = ..., added_value_fen: _Optional[int] = ..., energy_intensity: _Optional[float] = ..., carbon_intensity: _Optional[float] = ..., carbon_neutrality_rate: _Optional[float] = ..., benchmark: _Optional[_Union[Benchmark, _Mapping]] = ..., benchmark_fallback: _Optional[_Iterable[str]] = ..., k_value: _Optional[float] = ..., grade: _Optional[_Union[_common_pb2.CarbonGrade, _Mapping]] = ..., trend: _Optional[_Union[Trend, _Mapping]] = ..., data_quality: _Optional[_Union[DataQuality, _Mapping]] = ..., compute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., catalog_version: _Optional[str] = ..., record_count: _Optional[int] = ..., inputs_fingerprint: _Optional[str] = ..., financials: _Optional[_Union[AnnualFinancials, _Mapping]] = ..., industry_code: _Optional[str] = ..., region_code: _Optional[str] = ..., ungraded_reason: _Optional[_Union[UngradedReason, str]] = ..., coverage: _Optional[_Union[Coverage, _Mapping]] = ..., electricity: _Optional[_Union[ElectricityBalance, _Mapping]] = ..., grid_factor: _Optional[float] = ..., grid_factor_year: _Optional[int] = ..., grid_factor_source: _Optional[str] = ..., grid_factor_fallback: _Optional[bool] = ..., benchmark_provenance: _Optional[_Union[BenchmarkProvenance, _Mapping]] = ..., scope2: _Optional[_Union[Scope2Methods, _Mapping]] = ..., process_tco2: _Optional[float] = ..., graded_includes_process: _Optional[bool] = ...) -> None: ...

class BenchmarkProvenance(_message.Message):
    __slots__ = ("version", "compute_time", "firm_count", "includes_self", "excludes_self", "sensitive")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    FIRM_COUNT_FIELD_NUMBER: _ClassVar[int]
    INCLUDES_SELF_FIELD_NUMBER: _ClassVar[int]
    EXCLUDES_SELF_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    version: int
    compute_time: _timestamp_pb2.Timestamp
    firm_count: int
    includes_self: bool
    excludes_self: bool
    sensitive: bool
    def __init__(self, version: _Optional[int] = ..., compute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., firm_count: _Optional[int] = ..., includes_self: _Optional[bool] = ..., excludes_self: _Optional[bool] = ..., sensitive: _Optional[bool] = ...) -> None: ...

class Scope2Methods(_message.Message):
    __slots__ = ("location_tco2", "market_tco2", "instrument_kwh", "instrument_covered_kwh", "residual_mix_factor", "residual_mix_source", "graded_method")
    LOCATION_TCO2_FIELD_NUMBER: _ClassVar[int]
    MARKET_TCO2_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_KWH_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_COVERED_KWH_FIELD_NUMBER: _ClassVar[int]
    RESIDUAL_MIX_FACTOR_FIELD_NUMBER: _ClassVar[int]
    RESIDUAL_MIX_SOURCE_FIELD_NUMBER: _ClassVar[int]
    GRADED_METHOD_FIELD_NUMBER: _ClassVar[int]
    location_tco2: float
    market_tco2: float
    instrument_kwh: float
    instrument_covered_kwh: float
    residual_mix_factor: float
    residual_mix_source: str
    graded_method: str
    def __init__(self, location_tco2: _Optional[float] = ..., market_tco2: _Optional[float] = ..., instrument_kwh: _Optional[float] = ..., instrument_covered_kwh: _Optional[float] = ..., residual_mix_factor: _Optional[float] = ..., residual_mix_source: _Optional[str] = ..., graded_method: _Optional[str] = ...) -> None: ...

class GetCarbonProfileRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class BatchGetCarbonProfilesRequest(_message.Message):
    __slots__ = ("names", "allow_missing")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    ALLOW_MISSING_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    allow_missing: bool
    def __init__(self, names: _Optional[_Iterable[str]] = ..., allow_missing: _Optional[bool] = ...) -> None: ...

class BatchGetCarbonProfilesResponse(_message.Message):
    __slots__ = ("profiles", "profile_changes_through")
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    PROFILE_CHANGES_THROUGH_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[CarbonProfile]
    profile_changes_through: int
    def __init__(self, profiles: _Optional[_Iterable[_Union[CarbonProfile, _Mapping]]] = ..., profile_changes_through: _Optional[int] = ...) -> None: ...

class WatchProfileChangesRequest(_message.Message):
    __slots__ = ("resume_token", "follow")
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    resume_token: str
    follow: bool
    def __init__(self, resume_token: _Optional[str] = ..., follow: _Optional[bool] = ...) -> None: ...

class WatchProfileChangesResponse(_message.Message):
    __slots__ = ("changes", "resume_token", "reset", "through_sequence")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    THROUGH_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[ProfileChange]
    resume_token: str
    reset: bool
    through_sequence: int
    def __init__(self, changes: _Optional[_Iterable[_Union[ProfileChange, _Mapping]]] = ..., resume_token: _Optional[str] = ..., reset: _Optional[bool] = ..., through_sequence: _Optional[int] = ...) -> None: ...

class ProfileChange(_message.Message):
    __slots__ = ("enterprises", "all_enterprises", "recomputed_year", "change_time", "sequence")
    ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    ALL_ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    RECOMPUTED_YEAR_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    enterprises: _containers.RepeatedScalarFieldContainer[str]
    all_enterprises: bool
    recomputed_year: int
    change_time: _timestamp_pb2.Timestamp
    sequence: int
    def __init__(self, enterprises: _Optional[_Iterable[str]] = ..., all_enterprises: _Optional[bool] = ..., recomputed_year: _Optional[int] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sequence: _Optional[int] = ...) -> None: ...

class ListBenchmarksRequest(_message.Message):
    __slots__ = ("year", "industry_code_prefix", "region_level", "page_size", "page_token")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    REGION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    year: int
    industry_code_prefix: str
    region_level: _common_pb2.RegionLevel
    page_size: int
    page_token: str
    def __init__(self, year: _Optional[int] = ..., industry_code_prefix: _Optional[str] = ..., region_level: _Optional[_Union[_common_pb2.RegionLevel, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBenchmarksResponse(_message.Message):
    __slots__ = ("benchmarks", "next_page_token")
    BENCHMARKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    benchmarks: _containers.RepeatedCompositeFieldContainer[Benchmark]
    next_page_token: str
    def __init__(self, benchmarks: _Optional[_Iterable[_Union[Benchmark, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RecomputeBenchmarksRequest(_message.Message):
    __slots__ = ("year", "request_id")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    year: int
    request_id: str
    def __init__(self, year: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class RecomputeBenchmarksResponse(_message.Message):
    __slots__ = ("year", "enterprises", "profiles", "benchmarks", "graded", "ungraded", "grade_counts", "duration_seconds")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    BENCHMARKS_FIELD_NUMBER: _ClassVar[int]
    GRADED_FIELD_NUMBER: _ClassVar[int]
    UNGRADED_FIELD_NUMBER: _ClassVar[int]
    GRADE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    year: int
    enterprises: int
    profiles: int
    benchmarks: int
    graded: int
    ungraded: int
    grade_counts: _containers.RepeatedScalarFieldContainer[int]
    duration_seconds: float
    def __init__(self, year: _Optional[int] = ..., enterprises: _Optional[int] = ..., profiles: _Optional[int] = ..., benchmarks: _Optional[int] = ..., graded: _Optional[int] = ..., ungraded: _Optional[int] = ..., grade_counts: _Optional[_Iterable[int]] = ..., duration_seconds: _Optional[float] = ...) -> None: ...

class Milestone(_message.Message):
    __slots__ = ("title", "due_date", "target_fraction")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FRACTION_FIELD_NUMBER: _ClassVar[int]
    title: str
    due_date: str
    target_fraction: float
    def __init__(self, title: _Optional[str] = ..., due_date: _Optional[str] = ..., target_fraction: _Optional[float] = ...) -> None: ...

class Verification(_message.Message):
    __slots__ = ("verification_date", "verifier", "verified_savings_tco2", "verified_savings_tce", "passed", "note")
    VERIFICATION_DATE_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_SAVINGS_TCO2_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_SAVINGS_TCE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    verification_date: str
    verifier: str
    verified_savings_tco2: float
    verified_savings_tce: float
    passed: bool
    note: str
    def __init__(self, verification_date: _Optional[str] = ..., verifier: _Optional[str] = ..., verified_savings_tco2: _Optional[float] = ..., verified_savings_tce: _Optional[float] = ..., passed: _Optional[bool] = ..., note: _Optional[str] = ...) -> None: ...

class Commitment(_message.Message):
    __slots__ = ("name", "project_type", "title", "baseline_year", "baseline_intensity", "baseline_tco2", "target_savings_tce_per_year", "target_savings_tco2_per_year", "capex_fen", "start_date", "milestones", "verifier", "verifications", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROJECT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_YEAR_FIELD_NUMBER: _ClassVar[int]
    BASELINE_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    BASELINE_TCO2_FIELD_NUMBER: _ClassVar[int]
    TARGET_SAVINGS_TCE_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    TARGET_SAVINGS_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    CAPEX_FEN_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    MILESTONES_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_FIELD_NUMBER: _ClassVar[int]
    VERIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    project_type: ProjectType
    title: str
    baseline_year: int
    baseline_intensity: float
    baseline_tco2: float
    target_savings_tce_per_year: float
    target_savings_tco2_per_year: float
    capex_fen: int
    start_date: str
    milestones: _containers.RepeatedCompositeFieldContainer[Milestone]
    verifier: str
    verifications: _containers.RepeatedCompositeFieldContainer[Verification]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., project_type: _Optional[_Union[ProjectType, str]] = ..., title: _Optional[str] = ..., baseline_year: _Optional[int] = ..., baseline_intensity: _Optional[float] = ..., baseline_tco2: _Optional[float] = ..., target_savings_tce_per_year: _Optional[float] = ..., target_savings_tco2_per_year: _Optional[float] = ..., capex_fen: _Optional[int] = ..., start_date: _Optional[str] = ..., milestones: _Optional[_Iterable[_Union[Milestone, _Mapping]]] = ..., verifier: _Optional[str] = ..., verifications: _Optional[_Iterable[_Union[Verification, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterCommitmentRequest(_message.Message):
    __slots__ = ("parent", "commitment", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    commitment: Commitment
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., commitment: _Optional[_Union[Commitment, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RecordVerificationRequest(_message.Message):
    __slots__ = ("name", "verification", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    verification: Verification
    request_id: str
    def __init__(self, name: _Optional[str] = ..., verification: _Optional[_Union[Verification, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListCommitmentsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCommitmentsResponse(_message.Message):
    __slots__ = ("commitments", "next_page_token")
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    commitments: _containers.RepeatedCompositeFieldContainer[Commitment]
    next_page_token: str
    def __init__(self, commitments: _Optional[_Iterable[_Union[Commitment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetCommitmentProgressRequest(_message.Message):
    __slots__ = ("name", "as_of_date")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    as_of_date: str
    def __init__(self, name: _Optional[str] = ..., as_of_date: _Optional[str] = ...) -> None: ...

class MilestoneStatus(_message.Message):
    __slots__ = ("title", "due_date", "expected_fraction", "achieved_fraction", "met")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FRACTION_FIELD_NUMBER: _ClassVar[int]
    ACHIEVED_FRACTION_FIELD_NUMBER: _ClassVar[int]
    MET_FIELD_NUMBER: _ClassVar[int]
    title: str
    due_date: str
    expected_fraction: float
    achieved_fraction: float
    met: bool
    def __init__(self, title: _Optional[str] = ..., due_date: _Optional[str] = ..., expected_fraction: _Optional[float] = ..., achieved_fraction: _Optional[float] = ..., met: _Optional[bool] = ...) -> None: ...

class CommitmentProgress(_message.Message):
    __slots__ = ("name", "status", "achieved_tco2_per_year", "achieved_tce_per_year", "achieved_ratio", "expected_ratio", "intensity_based_tco2_per_year", "milestones", "verified", "last_verification", "milestones_missed", "measured_year", "savings")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACHIEVED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    ACHIEVED_TCE_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    ACHIEVED_RATIO_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_RATIO_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_BASED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    MILESTONES_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    LAST_VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    MILESTONES_MISSED_FIELD_NUMBER: _ClassVar[int]
    MEASURED_YEAR_FIELD_NUMBER: _ClassVar[int]
    SAVINGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: CommitmentStatus
    achieved_tco2_per_year: float
    achieved_tce_per_year: float
    achieved_ratio: float
    expected_ratio: float
    intensity_based_tco2_per_year: float
    milestones: _containers.RepeatedCompositeFieldContainer[MilestoneStatus]
    verified: bool
    last_verification: Verification
    milestones_missed: int
    measured_year: int
    savings: SavingsMeasurement
    def __init__(self, name: _Optional[str] = ..., status: _Optional[_Union[CommitmentStatus, str]] = ..., achieved_tco2_per_year: _Optional[float] = ..., achieved_tce_per_year: _Optional[float] = ..., achieved_ratio: _Optional[float] = ..., expected_ratio: _Optional[float] = ..., intensity_based_tco2_per_year: _Optional[float] = ..., milestones: _Optional[_Iterable[_Union[MilestoneStatus, _Mapping]]] = ..., verified: _Optional[bool] = ..., last_verification: _Optional[_Union[Verification, _Mapping]] = ..., milestones_missed: _Optional[int] = ..., measured_year: _Optional[int] = ..., savings: _Optional[_Union[SavingsMeasurement, _Mapping]] = ...) -> None: ...

class SavingsMeasurement(_message.Message):
    __slots__ = ("year", "nominal_absolute_tco2", "frozen_absolute_tco2", "grid_factor_effect_tco2", "baseline_grid_factor", "year_grid_factor", "added_value_nominal_fen", "added_value_constant_fen", "intensity_improvement", "deflator_source")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    NOMINAL_ABSOLUTE_TCO2_FIELD_NUMBER: _ClassVar[int]
    FROZEN_ABSOLUTE_TCO2_FIELD_NUMBER: _ClassVar[int]
    GRID_FACTOR_EFFECT_TCO2_FIELD_NUMBER: _ClassVar[int]
    BASELINE_GRID_FACTOR_FIELD_NUMBER: _ClassVar[int]
    YEAR_GRID_FACTOR_FIELD_NUMBER: _ClassVar[int]
    ADDED_VALUE_NOMINAL_FEN_FIELD_NUMBER: _ClassVar[int]
    ADDED_VALUE_CONSTANT_FEN_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_IMPROVEMENT_FIELD_NUMBER: _ClassVar[int]
    DEFLATOR_SOURCE_FIELD_NUMBER: _ClassVar[int]
    year: int
    nominal_absolute_tco2: float
    frozen_absolute_tco2: float
    grid_factor_effect_tco2: float
    baseline_grid_factor: float
    year_grid_factor: float
    added_value_nominal_fen: int
    added_value_constant_fen: int
    intensity_improvement: float
    deflator_source: str
    def __init__(self, year: _Optional[int] = ..., nominal_absolute_tco2: _Optional[float] = ..., frozen_absolute_tco2: _Optional[float] = ..., grid_factor_effect_tco2: _Optional[float] = ..., baseline_grid_factor: _Optional[float] = ..., year_grid_factor: _Optional[float] = ..., added_value_nominal_fen: _Optional[int] = ..., added_value_constant_fen: _Optional[int] = ..., intensity_improvement: _Optional[float] = ..., deflator_source: _Optional[str] = ...) -> None: ...

class UtilityAccountHolding(_message.Message):
    __slots__ = ("enterprise", "valid_from", "valid_to")
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_TO_FIELD_NUMBER: _ClassVar[int]
    enterprise: str
    valid_from: str
    valid_to: str
    def __init__(self, enterprise: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_to: _Optional[str] = ...) -> None: ...

class UtilityAccount(_message.Message):
    __slots__ = ("name", "kind", "number", "holdings", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    HOLDINGS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: UtilityKind
    number: str
    holdings: _containers.RepeatedCompositeFieldContainer[UtilityAccountHolding]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[UtilityKind, str]] = ..., number: _Optional[str] = ..., holdings: _Optional[_Iterable[_Union[UtilityAccountHolding, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateUtilityAccountRequest(_message.Message):
    __slots__ = ("utility_account", "request_id")
    UTILITY_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    utility_account: UtilityAccount
    request_id: str
    def __init__(self, utility_account: _Optional[_Union[UtilityAccount, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListUtilityAccountsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "enterprise", "kind")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    enterprise: str
    kind: UtilityKind
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., enterprise: _Optional[str] = ..., kind: _Optional[_Union[UtilityKind, str]] = ...) -> None: ...

class ListUtilityAccountsResponse(_message.Message):
    __slots__ = ("utility_accounts", "next_page_token")
    UTILITY_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    utility_accounts: _containers.RepeatedCompositeFieldContainer[UtilityAccount]
    next_page_token: str
    def __init__(self, utility_accounts: _Optional[_Iterable[_Union[UtilityAccount, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class TransferUtilityAccountRequest(_message.Message):
    __slots__ = ("name", "to_enterprise", "effective_date", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TO_ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_DATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    to_enterprise: str
    effective_date: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., to_enterprise: _Optional[str] = ..., effective_date: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetUtilityAccountReconciliationRequest(_message.Message):
    __slots__ = ("kind",)
    KIND_FIELD_NUMBER: _ClassVar[int]
    kind: UtilityKind
    def __init__(self, kind: _Optional[_Union[UtilityKind, str]] = ...) -> None: ...

class UtilityAccountSighting(_message.Message):
    __slots__ = ("utility_account", "reason_code", "first_period", "last_period", "row_count", "claimed_enterprise", "holder_enterprise", "last_seen_time")
    UTILITY_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    FIRST_PERIOD_FIELD_NUMBER: _ClassVar[int]
    LAST_PERIOD_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    utility_account: str
    reason_code: str
    first_period: str
    last_period: str
    row_count: int
    claimed_enterprise: str
    holder_enterprise: str
    last_seen_time: _timestamp_pb2.Timestamp
    def __init__(self, utility_account: _Optional[str] = ..., reason_code: _Optional[str] = ..., first_period: _Optional[str] = ..., last_period: _Optional[str] = ..., row_count: _Optional[int] = ..., claimed_enterprise: _Optional[str] = ..., holder_enterprise: _Optional[str] = ..., last_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AmbiguousUtilityAccount(_message.Message):
    __slots__ = ("utility_account", "overlap_from", "overlap_to")
    UTILITY_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FROM_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_TO_FIELD_NUMBER: _ClassVar[int]
    utility_account: UtilityAccount
    overlap_from: str
    overlap_to: str
    def __init__(self, utility_account: _Optional[_Union[UtilityAccount, _Mapping]] = ..., overlap_from: _Optional[str] = ..., overlap_to: _Optional[str] = ...) -> None: ...

class UtilityAccountReconciliation(_message.Message):
    __slots__ = ("unmatched", "ambiguous", "ambiguous_sightings", "conflicting")
    UNMATCHED_FIELD_NUMBER: _ClassVar[int]
    AMBIGUOUS_FIELD_NUMBER: _ClassVar[int]
    AMBIGUOUS_SIGHTINGS_FIELD_NUMBER: _ClassVar[int]
    CONFLICTING_FIELD_NUMBER: _ClassVar[int]
    unmatched: _containers.RepeatedCompositeFieldContainer[UtilityAccountSighting]
    ambiguous: _containers.RepeatedCompositeFieldContainer[AmbiguousUtilityAccount]
    ambiguous_sightings: _containers.RepeatedCompositeFieldContainer[UtilityAccountSighting]
    conflicting: _containers.RepeatedCompositeFieldContainer[UtilityAccountSighting]
    def __init__(self, unmatched: _Optional[_Iterable[_Union[UtilityAccountSighting, _Mapping]]] = ..., ambiguous: _Optional[_Iterable[_Union[AmbiguousUtilityAccount, _Mapping]]] = ..., ambiguous_sightings: _Optional[_Iterable[_Union[UtilityAccountSighting, _Mapping]]] = ..., conflicting: _Optional[_Iterable[_Union[UtilityAccountSighting, _Mapping]]] = ...) -> None: ...
