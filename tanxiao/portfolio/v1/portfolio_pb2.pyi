import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tanxiao.common.v1 import common_pb2 as _common_pb2
from tanxiao.scoring.v1 import scoring_pb2 as _scoring_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoanStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOAN_STATUS_UNSPECIFIED: _ClassVar[LoanStatus]
    OPEN: _ClassVar[LoanStatus]
    CLOSED: _ClassVar[LoanStatus]

class Dimension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIMENSION_UNSPECIFIED: _ClassVar[Dimension]
    GRADE: _ClassVar[Dimension]
    LEVEL: _ClassVar[Dimension]
    INDUSTRY_SECTION: _ClassVar[Dimension]
    INDUSTRY_DIVISION: _ClassVar[Dimension]
    COUNTY: _ClassVar[Dimension]
    CITY: _ClassVar[Dimension]
    PRODUCT: _ClassVar[Dimension]
    LENDER: _ClassVar[Dimension]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    CSV: _ClassVar[ExportFormat]
    PARQUET: _ClassVar[ExportFormat]
    JSON: _ClassVar[ExportFormat]
    HTML: _ClassVar[ExportFormat]
    XLSX: _ClassVar[ExportFormat]
    PDF: _ClassVar[ExportFormat]

class GreenDimension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GREEN_DIMENSION_UNSPECIFIED: _ClassVar[GreenDimension]
    GREEN_CATEGORY: _ClassVar[GreenDimension]
    GREEN_INDUSTRY_DIVISION: _ClassVar[GreenDimension]
    GREEN_COUNTY: _ClassVar[GreenDimension]
    GREEN_LENDER: _ClassVar[GreenDimension]
LOAN_STATUS_UNSPECIFIED: LoanStatus
OPEN: LoanStatus
CLOSED: LoanStatus
DIMENSION_UNSPECIFIED: Dimension
GRADE: Dimension
LEVEL: Dimension
INDUSTRY_SECTION: Dimension
INDUSTRY_DIVISION: Dimension
COUNTY: Dimension
CITY: Dimension
PRODUCT: Dimension
LENDER: Dimension
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
CSV: ExportFormat
PARQUET: ExportFormat
JSON: ExportFormat
HTML: ExportFormat
XLSX: ExportFormat
PDF: ExportFormat
GREEN_DIMENSION_UNSPECIFIED: GreenDimension
GREEN_CATEGORY: GreenDimension
GREEN_INDUSTRY_DIVISION: GreenDimension
GREEN_COUNTY: GreenDimension
GREEN_LENDER: GreenDimension

class Loan(_message.Message):
    __slots__ = ("name", "lender", "loan_id", "enterprise", "product", "decision", "committed_amount_fen", "outstanding_fen", "currency", "start_date", "maturity_date", "rate_bp", "status", "balance_as_of_date", "close_date", "commitment", "create_time", "green_category", "co2_reduced_tco2_per_year", "energy_saved_tce_per_year", "benefit_factors")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LENDER_FIELD_NUMBER: _ClassVar[int]
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    MATURITY_DATE_FIELD_NUMBER: _ClassVar[int]
    RATE_BP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_DATE_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    GREEN_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CO2_REDUCED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    ENERGY_SAVED_TCE_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    BENEFIT_FACTORS_FIELD_NUMBER: _ClassVar[int]
    name: str
    lender: str
    loan_id: str
    enterprise: str
    product: _scoring_pb2.Product
    decision: str
    committed_amount_fen: int
    outstanding_fen: int
    currency: str
    start_date: str
    maturity_date: str
    rate_bp: float
    status: LoanStatus
    balance_as_of_date: str
    close_date: str
    commitment: str
    create_time: _timestamp_pb2.Timestamp
    green_category: str
    co2_reduced_tco2_per_year: float
    energy_saved_tce_per_year: float
    benefit_factors: str
    def __init__(self, name: _Optional[str] = ..., lender: _Optional[str] = ..., loan_id: _Optional[str] = ..., enterprise: _Optional[str] = ..., product: _Optional[_Union[_scoring_pb2.Product, str]] = ..., decision: _Optional[str] = ..., committed_amount_fen: _Optional[int] = ..., outstanding_fen: _Optional[int] = ..., currency: _Optional[str] = ..., start_date: _Optional[str] = ..., maturity_date: _Optional[str] = ..., rate_bp: _Optional[float] = ..., status: _Optional[_Union[LoanStatus, str]] = ..., balance_as_of_date: _Optional[str] = ..., close_date: _Optional[str] = ..., commitment: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., green_category: _Optional[str] = ..., co2_reduced_tco2_per_year: _Optional[float] = ..., energy_saved_tce_per_year: _Optional[float] = ..., benefit_factors: _Optional[str] = ...) -> None: ...

class RecordLoanRequest(_message.Message):
    __slots__ = ("request_id", "lender", "loan_id", "enterprise", "product", "decision", "committed_amount_fen", "outstanding_fen", "currency", "start_date", "maturity_date", "rate_bp", "commitment", "green_category", "co2_reduced_tco2_per_year", "energy_saved_tce_per_year", "benefit_factors")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LENDER_FIELD_NUMBER: _ClassVar[int]
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    MATURITY_DATE_FIELD_NUMBER: _ClassVar[int]
    RATE_BP_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    GREEN_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CO2_REDUCED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    ENERGY_SAVED_TCE_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    BENEFIT_FACTORS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    lender: str
    loan_id: str
    enterprise: str
    product: _scoring_pb2.Product
    decision: str
    committed_amount_fen: int
    outstanding_fen: int
    currency: str
    start_date: str
    maturity_date: str
    rate_bp: float
    commitment: str
    green_category: str
    co2_reduced_tco2_per_year: float
    energy_saved_tce_per_year: float
    benefit_factors: str
    def __init__(self, request_id: _Optional[str] = ..., lender: _Optional[str] = ..., loan_id: _Optional[str] = ..., enterprise: _Optional[str] = ..., product: _Optional[_Union[_scoring_pb2.Product, str]] = ..., decision: _Optional[str] = ..., committed_amount_fen: _Optional[int] = ..., outstanding_fen: _Optional[int] = ..., currency: _Optional[str] = ..., start_date: _Optional[str] = ..., maturity_date: _Optional[str] = ..., rate_bp: _Optional[float] = ..., commitment: _Optional[str] = ..., green_category: _Optional[str] = ..., co2_reduced_tco2_per_year: _Optional[float] = ..., energy_saved_tce_per_year: _Optional[float] = ..., benefit_factors: _Optional[str] = ...) -> None: ...

class UpdateLoanBalanceRequest(_message.Message):
    __slots__ = ("request_id", "name", "as_of_date", "drawdown_fen", "repayment_fen", "outstanding_fen")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    DRAWDOWN_FEN_FIELD_NUMBER: _ClassVar[int]
    REPAYMENT_FEN_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    as_of_date: str
    drawdown_fen: int
    repayment_fen: int
    outstanding_fen: int
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., as_of_date: _Optional[str] = ..., drawdown_fen: _Optional[int] = ..., repayment_fen: _Optional[int] = ..., outstanding_fen: _Optional[int] = ...) -> None: ...

class CloseLoanRequest(_message.Message):
    __slots__ = ("request_id", "name", "close_date")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_DATE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    close_date: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., close_date: _Optional[str] = ...) -> None: ...

class GetLoanRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListLoansRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLoansResponse(_message.Message):
    __slots__ = ("loans", "next_page_token")
    LOANS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    loans: _containers.RepeatedCompositeFieldContainer[Loan]
    next_page_token: str
    def __init__(self, loans: _Optional[_Iterable[_Union[Loan, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPortfolioReportRequest(_message.Message):
    __slots__ = ("lender", "as_of_date", "group_by", "compare_date", "top_n")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    COMPARE_DATE_FIELD_NUMBER: _ClassVar[int]
    TOP_N_FIELD_NUMBER: _ClassVar[int]
    lender: str
    as_of_date: str
    group_by: _containers.RepeatedScalarFieldContainer[Dimension]
    compare_date: str
    top_n: int
    def __init__(self, lender: _Optional[str] = ..., as_of_date: _Optional[str] = ..., group_by: _Optional[_Iterable[_Union[Dimension, str]]] = ..., compare_date: _Optional[str] = ..., top_n: _Optional[int] = ...) -> None: ...

class GetRegulatoryReportRequest(_message.Message):
    __slots__ = ("as_of_date", "group_by", "compare_date", "region_code_prefix")
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    COMPARE_DATE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    as_of_date: str
    group_by: _containers.RepeatedScalarFieldContainer[Dimension]
    compare_date: str
    region_code_prefix: str
    def __init__(self, as_of_date: _Optional[str] = ..., group_by: _Optional[_Iterable[_Union[Dimension, str]]] = ..., compare_date: _Optional[str] = ..., region_code_prefix: _Optional[str] = ...) -> None: ...

class ExportPortfolioReportRequest(_message.Message):
    __slots__ = ("lender", "as_of_date", "format", "group_by", "regulatory", "compare_date", "language")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    REGULATORY_FIELD_NUMBER: _ClassVar[int]
    COMPARE_DATE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    lender: str
    as_of_date: str
    format: ExportFormat
    group_by: _containers.RepeatedScalarFieldContainer[Dimension]
    regulatory: bool
    compare_date: str
    language: str
    def __init__(self, lender: _Optional[str] = ..., as_of_date: _Optional[str] = ..., format: _Optional[_Union[ExportFormat, str]] = ..., group_by: _Optional[_Iterable[_Union[Dimension, str]]] = ..., regulatory: _Optional[bool] = ..., compare_date: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class ExportChunk(_message.Message):
    __slots__ = ("data", "content_type", "filename")
    DATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    content_type: str
    filename: str
    def __init__(self, data: _Optional[bytes] = ..., content_type: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class Metrics(_message.Message):
    __slots__ = ("loans", "outstanding_fen", "financed_scope1_tco2", "financed_scope2_tco2", "financed_tco2", "wdqs", "economic_intensity", "waci", "loans_without_profile", "loans_ungraded", "financed_scope2_market_tco2")
    LOANS_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    FINANCED_SCOPE1_TCO2_FIELD_NUMBER: _ClassVar[int]
    FINANCED_SCOPE2_TCO2_FIELD_NUMBER: _ClassVar[int]
    FINANCED_TCO2_FIELD_NUMBER: _ClassVar[int]
    WDQS_FIELD_NUMBER: _ClassVar[int]
    ECONOMIC_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    WACI_FIELD_NUMBER: _ClassVar[int]
    LOANS_WITHOUT_PROFILE_FIELD_NUMBER: _ClassVar[int]
    LOANS_UNGRADED_FIELD_NUMBER: _ClassVar[int]
    FINANCED_SCOPE2_MARKET_TCO2_FIELD_NUMBER: _ClassVar[int]
    loans: int
    outstanding_fen: int
    financed_scope1_tco2: float
    financed_scope2_tco2: float
    financed_tco2: float
    wdqs: float
    economic_intensity: float
    waci: float
    loans_without_profile: int
    loans_ungraded: int
    financed_scope2_market_tco2: float
    def __init__(self, loans: _Optional[int] = ..., outstanding_fen: _Optional[int] = ..., financed_scope1_tco2: _Optional[float] = ..., financed_scope2_tco2: _Optional[float] = ..., financed_tco2: _Optional[float] = ..., wdqs: _Optional[float] = ..., economic_intensity: _Optional[float] = ..., waci: _Optional[float] = ..., loans_without_profile: _Optional[int] = ..., loans_ungraded: _Optional[int] = ..., financed_scope2_market_tco2: _Optional[float] = ...) -> None: ...

class GroupRow(_message.Message):
    __slots__ = ("key", "label_zh", "label_en", "metrics", "outstanding_share", "suppressed")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_ZH_FIELD_NUMBER: _ClassVar[int]
    LABEL_EN_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_SHARE_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    key: str
    label_zh: str
    label_en: str
    metrics: Metrics
    outstanding_share: float
    suppressed: bool
    def __init__(self, key: _Optional[str] = ..., label_zh: _Optional[str] = ..., label_en: _Optional[str] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ..., outstanding_share: _Optional[float] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class Breakdown(_message.Message):
    __slots__ = ("dimension", "rows")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    dimension: Dimension
    rows: _containers.RepeatedCompositeFieldContainer[GroupRow]
    def __init__(self, dimension: _Optional[_Union[Dimension, str]] = ..., rows: _Optional[_Iterable[_Union[GroupRow, _Mapping]]] = ...) -> None: ...

class LoanLine(_message.Message):
    __slots__ = ("loan", "enterprise", "enterprise_name", "product", "outstanding_fen", "grade", "level", "industry_code", "region_code", "attribution_factor", "financed_scope1_tco2", "financed_scope2_tco2", "pcaf_score", "profile", "financed_scope2_market_tco2")
    LOAN_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_NAME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    FINANCED_SCOPE1_TCO2_FIELD_NUMBER: _ClassVar[int]
    FINANCED_SCOPE2_TCO2_FIELD_NUMBER: _ClassVar[int]
    PCAF_SCORE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    FINANCED_SCOPE2_MARKET_TCO2_FIELD_NUMBER: _ClassVar[int]
    loan: str
    enterprise: str
    enterprise_name: str
    product: _scoring_pb2.Product
    outstanding_fen: int
    grade: int
    level: _common_pb2.CarbonLevel
    industry_code: str
    region_code: str
    attribution_factor: float
    financed_scope1_tco2: float
    financed_scope2_tco2: float
    pcaf_score: int
    profile: str
    financed_scope2_market_tco2: float
    def __init__(self, loan: _Optional[str] = ..., enterprise: _Optional[str] = ..., enterprise_name: _Optional[str] = ..., product: _Optional[_Union[_scoring_pb2.Product, str]] = ..., outstanding_fen: _Optional[int] = ..., grade: _Optional[int] = ..., level: _Optional[_Union[_common_pb2.CarbonLevel, str]] = ..., industry_code: _Optional[str] = ..., region_code: _Optional[str] = ..., attribution_factor: _Optional[float] = ..., financed_scope1_tco2: _Optional[float] = ..., financed_scope2_tco2: _Optional[float] = ..., pcaf_score: _Optional[int] = ..., profile: _Optional[str] = ..., financed_scope2_market_tco2: _Optional[float] = ...) -> None: ...

class RetrofitProgress(_message.Message):
    __slots__ = ("loans", "outstanding_fen", "committed_tco2_per_year", "achieved_tco2_per_year", "on_track", "at_risk", "missed", "achieved", "not_started")
    LOANS_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    ACHIEVED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    ON_TRACK_FIELD_NUMBER: _ClassVar[int]
    AT_RISK_FIELD_NUMBER: _ClassVar[int]
    MISSED_FIELD_NUMBER: _ClassVar[int]
    ACHIEVED_FIELD_NUMBER: _ClassVar[int]
    NOT_STARTED_FIELD_NUMBER: _ClassVar[int]
    loans: int
    outstanding_fen: int
    committed_tco2_per_year: float
    achieved_tco2_per_year: float
    on_track: int
    at_risk: int
    missed: int
    achieved: int
    not_started: int
    def __init__(self, loans: _Optional[int] = ..., outstanding_fen: _Optional[int] = ..., committed_tco2_per_year: _Optional[float] = ..., achieved_tco2_per_year: _Optional[float] = ..., on_track: _Optional[int] = ..., at_risk: _Optional[int] = ..., missed: _Optional[int] = ..., achieved: _Optional[int] = ..., not_started: _Optional[int] = ...) -> None: ...

class MigrationCell(_message.Message):
    __slots__ = ("from_grade", "to_grade", "loans", "outstanding_fen", "suppressed")
    FROM_GRADE_FIELD_NUMBER: _ClassVar[int]
    TO_GRADE_FIELD_NUMBER: _ClassVar[int]
    LOANS_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    from_grade: int
    to_grade: int
    loans: int
    outstanding_fen: int
    suppressed: bool
    def __init__(self, from_grade: _Optional[int] = ..., to_grade: _Optional[int] = ..., loans: _Optional[int] = ..., outstanding_fen: _Optional[int] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class Emitter(_message.Message):
    __slots__ = ("enterprise", "enterprise_name", "financed_tco2", "outstanding_fen", "grade")
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_NAME_FIELD_NUMBER: _ClassVar[int]
    FINANCED_TCO2_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    enterprise: str
    enterprise_name: str
    financed_tco2: float
    outstanding_fen: int
    grade: int
    def __init__(self, enterprise: _Optional[str] = ..., enterprise_name: _Optional[str] = ..., financed_tco2: _Optional[float] = ..., outstanding_fen: _Optional[int] = ..., grade: _Optional[int] = ...) -> None: ...

class Attribution(_message.Message):
    __slots__ = ("financed_tco2_before", "financed_tco2_after", "emissions_effect_tco2", "attribution_effect_tco2", "new_loans_tco2", "ended_loans_tco2")
    FINANCED_TCO2_BEFORE_FIELD_NUMBER: _ClassVar[int]
    FINANCED_TCO2_AFTER_FIELD_NUMBER: _ClassVar[int]
    EMISSIONS_EFFECT_TCO2_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_EFFECT_TCO2_FIELD_NUMBER: _ClassVar[int]
    NEW_LOANS_TCO2_FIELD_NUMBER: _ClassVar[int]
    ENDED_LOANS_TCO2_FIELD_NUMBER: _ClassVar[int]
    financed_tco2_before: float
    financed_tco2_after: float
    emissions_effect_tco2: float
    attribution_effect_tco2: float
    new_loans_tco2: float
    ended_loans_tco2: float
    def __init__(self, financed_tco2_before: _Optional[float] = ..., financed_tco2_after: _Optional[float] = ..., emissions_effect_tco2: _Optional[float] = ..., attribution_effect_tco2: _Optional[float] = ..., new_loans_tco2: _Optional[float] = ..., ended_loans_tco2: _Optional[float] = ...) -> None: ...

class LenderTotal(_message.Message):
    __slots__ = ("lender", "metrics", "suppressed", "label_zh", "label_en")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    LABEL_ZH_FIELD_NUMBER: _ClassVar[int]
    LABEL_EN_FIELD_NUMBER: _ClassVar[int]
    lender: str
    metrics: Metrics
    suppressed: bool
    label_zh: str
    label_en: str
    def __init__(self, lender: _Optional[str] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ..., suppressed: _Optional[bool] = ..., label_zh: _Optional[str] = ..., label_en: _Optional[str] = ...) -> None: ...

class PortfolioReport(_message.Message):
    __slots__ = ("scope", "as_of_date", "compare_date", "totals", "breakdowns", "loans", "retrofit", "green_share", "transition_share", "other_share", "migration", "grade5_share", "top_emitters", "attribution", "lenders", "generate_time", "profile_year", "min_cell_size", "totals_suppressed")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    COMPARE_DATE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWNS_FIELD_NUMBER: _ClassVar[int]
    LOANS_FIELD_NUMBER: _ClassVar[int]
    RETROFIT_FIELD_NUMBER: _ClassVar[int]
    GREEN_SHARE_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_SHARE_FIELD_NUMBER: _ClassVar[int]
    OTHER_SHARE_FIELD_NUMBER: _ClassVar[int]
    MIGRATION_FIELD_NUMBER: _ClassVar[int]
    GRADE5_SHARE_FIELD_NUMBER: _ClassVar[int]
    TOP_EMITTERS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    LENDERS_FIELD_NUMBER: _ClassVar[int]
    GENERATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PROFILE_YEAR_FIELD_NUMBER: _ClassVar[int]
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    scope: str
    as_of_date: str
    compare_date: str
    totals: Metrics
    breakdowns: _containers.RepeatedCompositeFieldContainer[Breakdown]
    loans: _containers.RepeatedCompositeFieldContainer[LoanLine]
    retrofit: RetrofitProgress
    green_share: float
    transition_share: float
    other_share: float
    migration: _containers.RepeatedCompositeFieldContainer[MigrationCell]
    grade5_share: float
    top_emitters: _containers.RepeatedCompositeFieldContainer[Emitter]
    attribution: Attribution
    lenders: _containers.RepeatedCompositeFieldContainer[LenderTotal]
    generate_time: _timestamp_pb2.Timestamp
    profile_year: int
    min_cell_size: int
    totals_suppressed: bool
    def __init__(self, scope: _Optional[str] = ..., as_of_date: _Optional[str] = ..., compare_date: _Optional[str] = ..., totals: _Optional[_Union[Metrics, _Mapping]] = ..., breakdowns: _Optional[_Iterable[_Union[Breakdown, _Mapping]]] = ..., loans: _Optional[_Iterable[_Union[LoanLine, _Mapping]]] = ..., retrofit: _Optional[_Union[RetrofitProgress, _Mapping]] = ..., green_share: _Optional[float] = ..., transition_share: _Optional[float] = ..., other_share: _Optional[float] = ..., migration: _Optional[_Iterable[_Union[MigrationCell, _Mapping]]] = ..., grade5_share: _Optional[float] = ..., top_emitters: _Optional[_Iterable[_Union[Emitter, _Mapping]]] = ..., attribution: _Optional[_Union[Attribution, _Mapping]] = ..., lenders: _Optional[_Iterable[_Union[LenderTotal, _Mapping]]] = ..., generate_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., profile_year: _Optional[int] = ..., min_cell_size: _Optional[int] = ..., totals_suppressed: _Optional[bool] = ...) -> None: ...

class ListSupervisedLoansRequest(_message.Message):
    __slots__ = ("as_of_date", "lender", "region_code_prefix", "purpose", "page_size", "page_token")
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    LENDER_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    as_of_date: str
    lender: str
    region_code_prefix: str
    purpose: str
    page_size: int
    page_token: str
    def __init__(self, as_of_date: _Optional[str] = ..., lender: _Optional[str] = ..., region_code_prefix: _Optional[str] = ..., purpose: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSupervisedLoansResponse(_message.Message):
    __slots__ = ("loans", "next_page_token", "as_of_date")
    LOANS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    loans: _containers.RepeatedCompositeFieldContainer[LoanLine]
    next_page_token: str
    as_of_date: str
    def __init__(self, loans: _Optional[_Iterable[_Union[LoanLine, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., as_of_date: _Optional[str] = ...) -> None: ...

class GetGreenLoanStatisticsRequest(_message.Message):
    __slots__ = ("lender", "as_of_date", "period_start", "group_by")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    lender: str
    as_of_date: str
    period_start: str
    group_by: GreenDimension
    def __init__(self, lender: _Optional[str] = ..., as_of_date: _Optional[str] = ..., period_start: _Optional[str] = ..., group_by: _Optional[_Union[GreenDimension, str]] = ...) -> None: ...

class GreenRow(_message.Message):
    __slots__ = ("key", "label_zh", "label_en", "loans", "outstanding_fen", "new_loans", "new_amount_fen", "co2_reduced_tco2_per_year", "energy_saved_tce_per_year", "suppressed")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_ZH_FIELD_NUMBER: _ClassVar[int]
    LABEL_EN_FIELD_NUMBER: _ClassVar[int]
    LOANS_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    NEW_LOANS_FIELD_NUMBER: _ClassVar[int]
    NEW_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    CO2_REDUCED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    ENERGY_SAVED_TCE_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    key: str
    label_zh: str
    label_en: str
    loans: int
    outstanding_fen: int
    new_loans: int
    new_amount_fen: int
    co2_reduced_tco2_per_year: float
    energy_saved_tce_per_year: float
    suppressed: bool
    def __init__(self, key: _Optional[str] = ..., label_zh: _Optional[str] = ..., label_en: _Optional[str] = ..., loans: _Optional[int] = ..., outstanding_fen: _Optional[int] = ..., new_loans: _Optional[int] = ..., new_amount_fen: _Optional[int] = ..., co2_reduced_tco2_per_year: _Optional[float] = ..., energy_saved_tce_per_year: _Optional[float] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class GreenLoanStatistics(_message.Message):
    __slots__ = ("scope", "as_of_date", "period_start", "group_by", "totals", "unclassified", "rows", "catalogue_version", "catalogue_source", "min_cell_size")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    UNCLASSIFIED_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    CATALOGUE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CATALOGUE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    as_of_date: str
    period_start: str
    group_by: GreenDimension
    totals: GreenRow
    unclassified: GreenRow
    rows: _containers.RepeatedCompositeFieldContainer[GreenRow]
    catalogue_version: str
    catalogue_source: str
    min_cell_size: int
    def __init__(self, scope: _Optional[str] = ..., as_of_date: _Optional[str] = ..., period_start: _Optional[str] = ..., group_by: _Optional[_Union[GreenDimension, str]] = ..., totals: _Optional[_Union[GreenRow, _Mapping]] = ..., unclassified: _Optional[_Union[GreenRow, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[GreenRow, _Mapping]]] = ..., catalogue_version: _Optional[str] = ..., catalogue_source: _Optional[str] = ..., min_cell_size: _Optional[int] = ...) -> None: ...

class GetCarbonLoanStatisticsRequest(_message.Message):
    __slots__ = ("lender", "as_of_date", "group_by")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    lender: str
    as_of_date: str
    group_by: Dimension
    def __init__(self, lender: _Optional[str] = ..., as_of_date: _Optional[str] = ..., group_by: _Optional[_Union[Dimension, str]] = ...) -> None: ...

class CarbonLoanFigures(_message.Message):
    __slots__ = ("loans", "disbursed_fen", "outstanding_fen", "weighted_rate_bp", "spread_to_lpr_bp")
    LOANS_FIELD_NUMBER: _ClassVar[int]
    DISBURSED_FEN_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_RATE_BP_FIELD_NUMBER: _ClassVar[int]
    SPREAD_TO_LPR_BP_FIELD_NUMBER: _ClassVar[int]
    loans: int
    disbursed_fen: int
    outstanding_fen: int
    weighted_rate_bp: float
    spread_to_lpr_bp: float
    def __init__(self, loans: _Optional[int] = ..., disbursed_fen: _Optional[int] = ..., outstanding_fen: _Optional[int] = ..., weighted_rate_bp: _Optional[float] = ..., spread_to_lpr_bp: _Optional[float] = ...) -> None: ...

class CarbonLoanQuarter(_message.Message):
    __slots__ = ("quarter", "new_loans", "disbursed_fen", "cumulative_loans", "cumulative_disbursed_fen", "weighted_rate_bp", "suppressed")
    QUARTER_FIELD_NUMBER: _ClassVar[int]
    NEW_LOANS_FIELD_NUMBER: _ClassVar[int]
    DISBURSED_FEN_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_LOANS_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_DISBURSED_FEN_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_RATE_BP_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    quarter: str
    new_loans: int
    disbursed_fen: int
    cumulative_loans: int
    cumulative_disbursed_fen: int
    weighted_rate_bp: float
    suppressed: bool
    def __init__(self, quarter: _Optional[str] = ..., new_loans: _Optional[int] = ..., disbursed_fen: _Optional[int] = ..., cumulative_loans: _Optional[int] = ..., cumulative_disbursed_fen: _Optional[int] = ..., weighted_rate_bp: _Optional[float] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class CarbonLoanGroup(_message.Message):
    __slots__ = ("key", "label_zh", "label_en", "figures", "suppressed")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_ZH_FIELD_NUMBER: _ClassVar[int]
    LABEL_EN_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    key: str
    label_zh: str
    label_en: str
    figures: CarbonLoanFigures
    suppressed: bool
    def __init__(self, key: _Optional[str] = ..., label_zh: _Optional[str] = ..., label_en: _Optional[str] = ..., figures: _Optional[_Union[CarbonLoanFigures, _Mapping]] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class CarbonLoanStatistics(_message.Message):
    __slots__ = ("scope", "as_of_date", "totals", "quarters", "groups", "headline_zh", "headline_en", "group_by", "min_cell_size", "lpr_source", "totals_suppressed")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    QUARTERS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    HEADLINE_ZH_FIELD_NUMBER: _ClassVar[int]
    HEADLINE_EN_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    LPR_SOURCE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    scope: str
    as_of_date: str
    totals: CarbonLoanFigures
    quarters: _containers.RepeatedCompositeFieldContainer[CarbonLoanQuarter]
    groups: _containers.RepeatedCompositeFieldContainer[CarbonLoanGroup]
    headline_zh: str
    headline_en: str
    group_by: Dimension
    min_cell_size: int
    lpr_source: str
    totals_suppressed: bool
    def __init__(self, scope: _Optional[str] = ..., as_of_date: _Optional[str] = ..., totals: _Optional[_Union[CarbonLoanFigures, _Mapping]] = ..., quarters: _Optional[_Iterable[_Union[CarbonLoanQuarter, _Mapping]]] = ..., groups: _Optional[_Iterable[_Union[CarbonLoanGroup, _Mapping]]] = ..., headline_zh: _Optional[str] = ..., headline_en: _Optional[str] = ..., group_by: _Optional[_Union[Dimension, str]] = ..., min_cell_size: _Optional[int] = ..., lpr_source: _Optional[str] = ..., totals_suppressed: _Optional[bool] = ...) -> None: ...

class GetFacilityLedgerRequest(_message.Message):
    __slots__ = ("lender", "quarter")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    QUARTER_FIELD_NUMBER: _ClassVar[int]
    lender: str
    quarter: str
    def __init__(self, lender: _Optional[str] = ..., quarter: _Optional[str] = ...) -> None: ...

class ExportFacilityLedgerRequest(_message.Message):
    __slots__ = ("lender", "quarter", "format", "language")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    QUARTER_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    lender: str
    quarter: str
    format: ExportFormat
    language: str
    def __init__(self, lender: _Optional[str] = ..., quarter: _Optional[str] = ..., format: _Optional[_Union[ExportFormat, str]] = ..., language: _Optional[str] = ...) -> None: ...

class FacilityTerms(_message.Message):
    __slots__ = ("effective_date", "refinance_share", "rate_bp", "rate_tolerance_bp", "eligible_categories", "confirmed", "source", "version")
    EFFECTIVE_DATE_FIELD_NUMBER: _ClassVar[int]
    REFINANCE_SHARE_FIELD_NUMBER: _ClassVar[int]
    RATE_BP_FIELD_NUMBER: _ClassVar[int]
    RATE_TOLERANCE_BP_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    effective_date: str
    refinance_share: str
    rate_bp: int
    rate_tolerance_bp: int
    eligible_categories: _containers.RepeatedScalarFieldContainer[str]
    confirmed: str
    source: str
    version: str
    def __init__(self, effective_date: _Optional[str] = ..., refinance_share: _Optional[str] = ..., rate_bp: _Optional[int] = ..., rate_tolerance_bp: _Optional[int] = ..., eligible_categories: _Optional[_Iterable[str]] = ..., confirmed: _Optional[str] = ..., source: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class FacilityLedgerLine(_message.Message):
    __slots__ = ("loan", "lender", "enterprise", "enterprise_name", "green_category", "category_label_zh", "category_label_en", "start_date", "maturity_date", "lpr_tenor", "rate_bp", "lpr_bp", "eligible", "reason_code", "reason_zh", "reason_en", "committed_amount_fen", "outstanding_fen", "refinanceable_fen", "commitment", "project_investment_fen", "project_share", "project_verified_tco2_per_year", "attributable_tco2_per_year", "new_in_quarter", "terms_effective_date", "co2_reduced_tco2_per_year", "energy_saved_tce_per_year", "benefit_basis")
    LOAN_FIELD_NUMBER: _ClassVar[int]
    LENDER_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_NAME_FIELD_NUMBER: _ClassVar[int]
    GREEN_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_LABEL_ZH_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_LABEL_EN_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    MATURITY_DATE_FIELD_NUMBER: _ClassVar[int]
    LPR_TENOR_FIELD_NUMBER: _ClassVar[int]
    RATE_BP_FIELD_NUMBER: _ClassVar[int]
    LPR_BP_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_ZH_FIELD_NUMBER: _ClassVar[int]
    REASON_EN_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    REFINANCEABLE_FEN_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_INVESTMENT_FEN_FIELD_NUMBER: _ClassVar[int]
    PROJECT_SHARE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_VERIFIED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTABLE_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    NEW_IN_QUARTER_FIELD_NUMBER: _ClassVar[int]
    TERMS_EFFECTIVE_DATE_FIELD_NUMBER: _ClassVar[int]
    CO2_REDUCED_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    ENERGY_SAVED_TCE_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    BENEFIT_BASIS_FIELD_NUMBER: _ClassVar[int]
    loan: str
    lender: str
    enterprise: str
    enterprise_name: str
    green_category: str
    category_label_zh: str
    category_label_en: str
    start_date: str
    maturity_date: str
    lpr_tenor: str
    rate_bp: float
    lpr_bp: int
    eligible: bool
    reason_code: str
    reason_zh: str
    reason_en: str
    committed_amount_fen: int
    outstanding_fen: int
    refinanceable_fen: int
    commitment: str
    project_investment_fen: int
    project_share: float
    project_verified_tco2_per_year: float
    attributable_tco2_per_year: float
    new_in_quarter: bool
    terms_effective_date: str
    co2_reduced_tco2_per_year: float
    energy_saved_tce_per_year: float
    benefit_basis: str
    def __init__(self, loan: _Optional[str] = ..., lender: _Optional[str] = ..., enterprise: _Optional[str] = ..., enterprise_name: _Optional[str] = ..., green_category: _Optional[str] = ..., category_label_zh: _Optional[str] = ..., category_label_en: _Optional[str] = ..., start_date: _Optional[str] = ..., maturity_date: _Optional[str] = ..., lpr_tenor: _Optional[str] = ..., rate_bp: _Optional[float] = ..., lpr_bp: _Optional[int] = ..., eligible: _Optional[bool] = ..., reason_code: _Optional[str] = ..., reason_zh: _Optional[str] = ..., reason_en: _Optional[str] = ..., committed_amount_fen: _Optional[int] = ..., outstanding_fen: _Optional[int] = ..., refinanceable_fen: _Optional[int] = ..., commitment: _Optional[str] = ..., project_investment_fen: _Optional[int] = ..., project_share: _Optional[float] = ..., project_verified_tco2_per_year: _Optional[float] = ..., attributable_tco2_per_year: _Optional[float] = ..., new_in_quarter: _Optional[bool] = ..., terms_effective_date: _Optional[str] = ..., co2_reduced_tco2_per_year: _Optional[float] = ..., energy_saved_tce_per_year: _Optional[float] = ..., benefit_basis: _Optional[str] = ...) -> None: ...

class FacilityLedgerRow(_message.Message):
    __slots__ = ("key", "label_zh", "label_en", "loans", "outstanding_fen", "eligible_loans", "eligible_outstanding_fen", "refinanceable_fen", "attributable_tco2_per_year", "suppressed")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_ZH_FIELD_NUMBER: _ClassVar[int]
    LABEL_EN_FIELD_NUMBER: _ClassVar[int]
    LOANS_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_LOANS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_OUTSTANDING_FEN_FIELD_NUMBER: _ClassVar[int]
    REFINANCEABLE_FEN_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTABLE_TCO2_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    key: str
    label_zh: str
    label_en: str
    loans: int
    outstanding_fen: int
    eligible_loans: int
    eligible_outstanding_fen: int
    refinanceable_fen: int
    attributable_tco2_per_year: float
    suppressed: bool
    def __init__(self, key: _Optional[str] = ..., label_zh: _Optional[str] = ..., label_en: _Optional[str] = ..., loans: _Optional[int] = ..., outstanding_fen: _Optional[int] = ..., eligible_loans: _Optional[int] = ..., eligible_outstanding_fen: _Optional[int] = ..., refinanceable_fen: _Optional[int] = ..., attributable_tco2_per_year: _Optional[float] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class FacilityLedger(_message.Message):
    __slots__ = ("scope", "quarter", "quarter_start", "quarter_end", "terms", "lines", "totals", "categories", "min_cell_size", "lpr_source", "loan_level", "generate_time")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    QUARTER_FIELD_NUMBER: _ClassVar[int]
    QUARTER_START_FIELD_NUMBER: _ClassVar[int]
    QUARTER_END_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    LPR_SOURCE_FIELD_NUMBER: _ClassVar[int]
    LOAN_LEVEL_FIELD_NUMBER: _ClassVar[int]
    GENERATE_TIME_FIELD_NUMBER: _ClassVar[int]
    scope: str
    quarter: str
    quarter_start: str
    quarter_end: str
    terms: _containers.RepeatedCompositeFieldContainer[FacilityTerms]
    lines: _containers.RepeatedCompositeFieldContainer[FacilityLedgerLine]
    totals: FacilityLedgerRow
    categories: _containers.RepeatedCompositeFieldContainer[FacilityLedgerRow]
    min_cell_size: int
    lpr_source: str
    loan_level: bool
    generate_time: _timestamp_pb2.Timestamp
    def __init__(self, scope: _Optional[str] = ..., quarter: _Optional[str] = ..., quarter_start: _Optional[str] = ..., quarter_end: _Optional[str] = ..., terms: _Optional[_Iterable[_Union[FacilityTerms, _Mapping]]] = ..., lines: _Optional[_Iterable[_Union[FacilityLedgerLine, _Mapping]]] = ..., totals: _Optional[_Union[FacilityLedgerRow, _Mapping]] = ..., categories: _Optional[_Iterable[_Union[FacilityLedgerRow, _Mapping]]] = ..., min_cell_size: _Optional[int] = ..., lpr_source: _Optional[str] = ..., loan_level: _Optional[bool] = ..., generate_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
