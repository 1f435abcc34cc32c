from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DashboardDimension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DASHBOARD_DIMENSION_UNSPECIFIED: _ClassVar[DashboardDimension]
    DASHBOARD_COUNTY: _ClassVar[DashboardDimension]
    DASHBOARD_INDUSTRY_DIVISION: _ClassVar[DashboardDimension]
DASHBOARD_DIMENSION_UNSPECIFIED: DashboardDimension
DASHBOARD_COUNTY: DashboardDimension
DASHBOARD_INDUSTRY_DIVISION: DashboardDimension

class GetGradeDistributionRequest(_message.Message):
    __slots__ = ("from_year", "to_year", "region_code_prefix", "industry_code_prefix", "group_by")
    FROM_YEAR_FIELD_NUMBER: _ClassVar[int]
    TO_YEAR_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    from_year: int
    to_year: int
    region_code_prefix: str
    industry_code_prefix: str
    group_by: _containers.RepeatedScalarFieldContainer[DashboardDimension]
    def __init__(self, from_year: _Optional[int] = ..., to_year: _Optional[int] = ..., region_code_prefix: _Optional[str] = ..., industry_code_prefix: _Optional[str] = ..., group_by: _Optional[_Iterable[_Union[DashboardDimension, str]]] = ...) -> None: ...

class GradeCount(_message.Message):
    __slots__ = ("grade", "enterprises", "suppressed")
    GRADE_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    grade: int
    enterprises: int
    suppressed: bool
    def __init__(self, grade: _Optional[int] = ..., enterprises: _Optional[int] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class GradeDistributionRow(_message.Message):
    __slots__ = ("year", "county_code", "county_name_zh", "county_name_en", "industry_division", "industry_name_zh", "industry_name_en", "enterprises", "grades", "suppressed")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    COUNTY_CODE_FIELD_NUMBER: _ClassVar[int]
    COUNTY_NAME_ZH_FIELD_NUMBER: _ClassVar[int]
    COUNTY_NAME_EN_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_DIVISION_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_NAME_ZH_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_NAME_EN_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    GRADES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    year: int
    county_code: str
    county_name_zh: str
    county_name_en: str
    industry_division: str
    industry_name_zh: str
    industry_name_en: str
    enterprises: int
    grades: _containers.RepeatedCompositeFieldContainer[GradeCount]
    suppressed: bool
    def __init__(self, year: _Optional[int] = ..., county_code: _Optional[str] = ..., county_name_zh: _Optional[str] = ..., county_name_en: _Optional[str] = ..., industry_division: _Optional[str] = ..., industry_name_zh: _Optional[str] = ..., industry_name_en: _Optional[str] = ..., enterprises: _Optional[int] = ..., grades: _Optional[_Iterable[_Union[GradeCount, _Mapping]]] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class GradeDistribution(_message.Message):
    __slots__ = ("rows", "year_totals", "group_by", "min_cell_size", "withheld_years")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    YEAR_TOTALS_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_YEARS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[GradeDistributionRow]
    year_totals: _containers.RepeatedCompositeFieldContainer[GradeDistributionRow]
    group_by: _containers.RepeatedScalarFieldContainer[DashboardDimension]
    min_cell_size: int
    withheld_years: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, rows: _Optional[_Iterable[_Union[GradeDistributionRow, _Mapping]]] = ..., year_totals: _Optional[_Iterable[_Union[GradeDistributionRow, _Mapping]]] = ..., group_by: _Optional[_Iterable[_Union[DashboardDimension, str]]] = ..., min_cell_size: _Optional[int] = ..., withheld_years: _Optional[_Iterable[int]] = ...) -> None: ...

class GetGradeMigrationRequest(_message.Message):
    __slots__ = ("from_year", "to_year", "region_code_prefix", "industry_code_prefix")
    FROM_YEAR_FIELD_NUMBER: _ClassVar[int]
    TO_YEAR_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    from_year: int
    to_year: int
    region_code_prefix: str
    industry_code_prefix: str
    def __init__(self, from_year: _Optional[int] = ..., to_year: _Optional[int] = ..., region_code_prefix: _Optional[str] = ..., industry_code_prefix: _Optional[str] = ...) -> None: ...

class GradeMigrationCell(_message.Message):
    __slots__ = ("from_grade", "to_grade", "no_profile", "enterprises", "suppressed")
    FROM_GRADE_FIELD_NUMBER: _ClassVar[int]
    TO_GRADE_FIELD_NUMBER: _ClassVar[int]
    NO_PROFILE_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    from_grade: int
    to_grade: int
    no_profile: bool
    enterprises: int
    suppressed: bool
    def __init__(self, from_grade: _Optional[int] = ..., to_grade: _Optional[int] = ..., no_profile: _Optional[bool] = ..., enterprises: _Optional[int] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class GradeMigrationRow(_message.Message):
    __slots__ = ("from_grade", "enterprises", "suppressed")
    FROM_GRADE_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    from_grade: int
    enterprises: int
    suppressed: bool
    def __init__(self, from_grade: _Optional[int] = ..., enterprises: _Optional[int] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class GradeMigration(_message.Message):
    __slots__ = ("from_year", "to_year", "cells", "rows", "enterprises", "min_cell_size", "withheld")
    FROM_YEAR_FIELD_NUMBER: _ClassVar[int]
    TO_YEAR_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    from_year: int
    to_year: int
    cells: _containers.RepeatedCompositeFieldContainer[GradeMigrationCell]
    rows: _containers.RepeatedCompositeFieldContainer[GradeMigrationRow]
    enterprises: int
    min_cell_size: int
    withheld: bool
    def __init__(self, from_year: _Optional[int] = ..., to_year: _Optional[int] = ..., cells: _Optional[_Iterable[_Union[GradeMigrationCell, _Mapping]]] = ..., rows: _Optional[_Iterable[_Union[GradeMigrationRow, _Mapping]]] = ..., enterprises: _Optional[int] = ..., min_cell_size: _Optional[int] = ..., withheld: _Optional[bool] = ...) -> None: ...

class ListGradeFiveEnterprisesRequest(_message.Message):
    __slots__ = ("year", "region_code_prefix", "industry_code_prefix", "purpose", "page_size", "page_token")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    year: int
    region_code_prefix: str
    industry_code_prefix: str
    purpose: str
    page_size: int
    page_token: str
    def __init__(self, year: _Optional[int] = ..., region_code_prefix: _Optional[str] = ..., industry_code_prefix: _Optional[str] = ..., purpose: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GradeFiveEnterprise(_message.Message):
    __slots__ = ("enterprise", "display_name", "county_code", "county_name_zh", "county_name_en", "industry_code", "industry_name_zh", "industry_name_en", "carbon_intensity", "benchmark_intensity", "k_value", "gross_tco2", "largest_source_category", "largest_source_name_zh", "largest_source_name_en", "largest_source_tco2", "largest_source_share")
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTY_CODE_FIELD_NUMBER: _ClassVar[int]
    COUNTY_NAME_ZH_FIELD_NUMBER: _ClassVar[int]
    COUNTY_NAME_EN_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_NAME_ZH_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_NAME_EN_FIELD_NUMBER: _ClassVar[int]
    CARBON_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    K_VALUE_FIELD_NUMBER: _ClassVar[int]
    GROSS_TCO2_FIELD_NUMBER: _ClassVar[int]
    LARGEST_SOURCE_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    LARGEST_SOURCE_NAME_ZH_FIELD_NUMBER: _ClassVar[int]
    LARGEST_SOURCE_NAME_EN_FIELD_NUMBER: _ClassVar[int]
    LARGEST_SOURCE_TCO2_FIELD_NUMBER: _ClassVar[int]
    LARGEST_SOURCE_SHARE_FIELD_NUMBER: _ClassVar[int]
    enterprise: str
    display_name: str
    county_code: str
    county_name_zh: str
    county_name_en: str
    industry_code: str
    industry_name_zh: str
    industry_name_en: str
    carbon_intensity: float
    benchmark_intensity: float
    k_value: float
    gross_tco2: float
    largest_source_category: str
    largest_source_name_zh: str
    largest_source_name_en: str
    largest_source_tco2: float
    largest_source_share: float
    def __init__(self, enterprise: _Optional[str] = ..., display_name: _Optional[str] = ..., county_code: _Optional[str] = ..., county_name_zh: _Optional[str] = ..., county_name_en: _Optional[str] = ..., industry_code: _Optional[str] = ..., industry_name_zh: _Optional[str] = ..., industry_name_en: _Optional[str] = ..., carbon_intensity: _Optional[float] = ..., benchmark_intensity: _Optional[float] = ..., k_value: _Optional[float] = ..., gross_tco2: _Optional[float] = ..., largest_source_category: _Optional[str] = ..., largest_source_name_zh: _Optional[str] = ..., largest_source_name_en: _Optional[str] = ..., largest_source_tco2: _Optional[float] = ..., largest_source_share: _Optional[float] = ...) -> None: ...

class ListGradeFiveEnterprisesResponse(_message.Message):
    __slots__ = ("enterprises", "next_page_token", "total_size")
    ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    enterprises: _containers.RepeatedCompositeFieldContainer[GradeFiveEnterprise]
    next_page_token: str
    total_size: int
    def __init__(self, enterprises: _Optional[_Iterable[_Union[GradeFiveEnterprise, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetSavingsPipelineRequest(_message.Message):
    __slots__ = ("as_of_date", "group_by", "region_code_prefix", "industry_code_prefix")
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    as_of_date: str
    group_by: DashboardDimension
    region_code_prefix: str
    industry_code_prefix: str
    def __init__(self, as_of_date: _Optional[str] = ..., group_by: _Optional[_Union[DashboardDimension, str]] = ..., region_code_prefix: _Optional[str] = ..., industry_code_prefix: _Optional[str] = ...) -> None: ...

class PipelineFigures(_message.Message):
    __slots__ = ("pledged_commitments", "pledged_tco2_per_year", "verified_commitments", "verified_tco2_per_year", "overdue_commitments", "overdue_tco2_per_year", "enterprises")
    PLEDGED_COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    PLEDGED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISES_FIELD_NUMBER: _ClassVar[int]
    pledged_commitments: int
    pledged_tco2_per_year: float
    verified_commitments: int
    verified_tco2_per_year: float
    overdue_commitments: int
    overdue_tco2_per_year: float
    enterprises: int
    def __init__(self, pledged_commitments: _Optional[int] = ..., pledged_tco2_per_year: _Optional[float] = ..., verified_commitments: _Optional[int] = ..., verified_tco2_per_year: _Optional[float] = ..., overdue_commitments: _Optional[int] = ..., overdue_tco2_per_year: _Optional[float] = ..., enterprises: _Optional[int] = ...) -> None: ...

class PipelineRow(_message.Message):
    __slots__ = ("key", "name_zh", "name_en", "figures", "suppressed", "verified_suppressed", "overdue_suppressed")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_ZH_FIELD_NUMBER: _ClassVar[int]
    NAME_EN_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    key: str
    name_zh: str
    name_en: str
    figures: PipelineFigures
    suppressed: bool
    verified_suppressed: bool
    overdue_suppressed: bool
    def __init__(self, key: _Optional[str] = ..., name_zh: _Optional[str] = ..., name_en: _Optional[str] = ..., figures: _Optional[_Union[PipelineFigures, _Mapping]] = ..., suppressed: _Optional[bool] = ..., verified_suppressed: _Optional[bool] = ..., overdue_suppressed: _Optional[bool] = ...) -> None: ...

class SavingsPipeline(_message.Message):
    __slots__ = ("as_of_date", "group_by", "totals", "verified_suppressed", "overdue_suppressed", "rows", "min_cell_size", "withheld")
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    as_of_date: str
    group_by: DashboardDimension
    totals: PipelineFigures
    verified_suppressed: bool
    overdue_suppressed: bool
    rows: _containers.RepeatedCompositeFieldContainer[PipelineRow]
    min_cell_size: int
    withheld: bool
    def __init__(self, as_of_date: _Optional[str] = ..., group_by: _Optional[_Union[DashboardDimension, str]] = ..., totals: _Optional[_Union[PipelineFigures, _Mapping]] = ..., verified_suppressed: _Optional[bool] = ..., overdue_suppressed: _Optional[bool] = ..., rows: _Optional[_Iterable[_Union[PipelineRow, _Mapping]]] = ..., min_cell_size: _Optional[int] = ..., withheld: _Optional[bool] = ...) -> None: ...
