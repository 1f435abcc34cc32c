import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from tanxiao.common.v1 import common_pb2 as _common_pb2
from tanxiao.registry.v1 import registry_pb2 as _registry_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecisionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_STATE_UNSPECIFIED: _ClassVar[DecisionState]
    QUOTED: _ClassVar[DecisionState]
    IN_REVIEW: _ClassVar[DecisionState]
    APPROVED: _ClassVar[DecisionState]
    DECLINED: _ClassVar[DecisionState]
    OVERRIDDEN: _ClassVar[DecisionState]
    BOOKED: _ClassVar[DecisionState]

class ReviewActionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_ACTION_TYPE_UNSPECIFIED: _ClassVar[ReviewActionType]
    SUBMIT_FOR_REVIEW: _ClassVar[ReviewActionType]
    APPROVE: _ClassVar[ReviewActionType]
    DECLINE: _ClassVar[ReviewActionType]
    OVERRIDE: _ClassVar[ReviewActionType]
    CONFIRM_OVERRIDE: _ClassVar[ReviewActionType]
    REJECT_OVERRIDE: _ClassVar[ReviewActionType]
    BOOK: _ClassVar[ReviewActionType]

class Product(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRODUCT_UNSPECIFIED: _ClassVar[Product]
    LOW_CARBON_EXPANSION: _ClassVar[Product]
    HIGH_CARBON_RETROFIT: _ClassVar[Product]
    GENERAL: _ClassVar[Product]

class DecisionView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_VIEW_UNSPECIFIED: _ClassVar[DecisionView]
    BASIC: _ClassVar[DecisionView]
    FULL: _ClassVar[DecisionView]
DECISION_STATE_UNSPECIFIED: DecisionState
QUOTED: DecisionState
IN_REVIEW: DecisionState
APPROVED: DecisionState
DECLINED: DecisionState
OVERRIDDEN: DecisionState
BOOKED: DecisionState
REVIEW_ACTION_TYPE_UNSPECIFIED: ReviewActionType
SUBMIT_FOR_REVIEW: ReviewActionType
APPROVE: ReviewActionType
DECLINE: ReviewActionType
OVERRIDE: ReviewActionType
CONFIRM_OVERRIDE: ReviewActionType
REJECT_OVERRIDE: ReviewActionType
BOOK: ReviewActionType
PRODUCT_UNSPECIFIED: Product
LOW_CARBON_EXPANSION: Product
HIGH_CARBON_RETROFIT: Product
GENERAL: Product
DECISION_VIEW_UNSPECIFIED: DecisionView
BASIC: DecisionView
FULL: DecisionView

class RepriceDecisionsRequest(_message.Message):
    __slots__ = ("lender", "decision", "dry_run", "request_id")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    lender: str
    decision: str
    dry_run: bool
    request_id: str
    def __init__(self, lender: _Optional[str] = ..., decision: _Optional[str] = ..., dry_run: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class Repricing(_message.Message):
    __slots__ = ("original", "repriced", "final_rate_bp_before", "final_rate_bp_after", "approved_limit_fen_before", "approved_limit_fen_after", "eligible_before", "eligible_after", "changed")
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    REPRICED_FIELD_NUMBER: _ClassVar[int]
    FINAL_RATE_BP_BEFORE_FIELD_NUMBER: _ClassVar[int]
    FINAL_RATE_BP_AFTER_FIELD_NUMBER: _ClassVar[int]
    APPROVED_LIMIT_FEN_BEFORE_FIELD_NUMBER: _ClassVar[int]
    APPROVED_LIMIT_FEN_AFTER_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_AFTER_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    original: str
    repriced: Decision
    final_rate_bp_before: float
    final_rate_bp_after: float
    approved_limit_fen_before: int
    approved_limit_fen_after: int
    eligible_before: bool
    eligible_after: bool
    changed: bool
    def __init__(self, original: _Optional[str] = ..., repriced: _Optional[_Union[Decision, _Mapping]] = ..., final_rate_bp_before: _Optional[float] = ..., final_rate_bp_after: _Optional[float] = ..., approved_limit_fen_before: _Optional[int] = ..., approved_limit_fen_after: _Optional[int] = ..., eligible_before: _Optional[bool] = ..., eligible_after: _Optional[bool] = ..., changed: _Optional[bool] = ...) -> None: ...

class RepriceDecisionsResponse(_message.Message):
    __slots__ = ("repricings", "dry_run")
    REPRICINGS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    repricings: _containers.RepeatedCompositeFieldContainer[Repricing]
    dry_run: bool
    def __init__(self, repricings: _Optional[_Iterable[_Union[Repricing, _Mapping]]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ListWatchListRequest(_message.Message):
    __slots__ = ("lender",)
    LENDER_FIELD_NUMBER: _ClassVar[int]
    lender: str
    def __init__(self, lender: _Optional[str] = ...) -> None: ...

class WatchItem(_message.Message):
    __slots__ = ("decision", "enterprise", "flags", "grade_at_decision", "grade_now", "data_age_days")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    GRADE_AT_DECISION_FIELD_NUMBER: _ClassVar[int]
    GRADE_NOW_FIELD_NUMBER: _ClassVar[int]
    DATA_AGE_DAYS_FIELD_NUMBER: _ClassVar[int]
    decision: str
    enterprise: str
    flags: _containers.RepeatedScalarFieldContainer[str]
    grade_at_decision: int
    grade_now: int
    data_age_days: int
    def __init__(self, decision: _Optional[str] = ..., enterprise: _Optional[str] = ..., flags: _Optional[_Iterable[str]] = ..., grade_at_decision: _Optional[int] = ..., grade_now: _Optional[int] = ..., data_age_days: _Optional[int] = ...) -> None: ...

class ListWatchListResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[WatchItem]
    def __init__(self, items: _Optional[_Iterable[_Union[WatchItem, _Mapping]]] = ...) -> None: ...

class OverrideTerms(_message.Message):
    __slots__ = ("approved_limit_fen", "final_rate_bp")
    APPROVED_LIMIT_FEN_FIELD_NUMBER: _ClassVar[int]
    FINAL_RATE_BP_FIELD_NUMBER: _ClassVar[int]
    approved_limit_fen: int
    final_rate_bp: float
    def __init__(self, approved_limit_fen: _Optional[int] = ..., final_rate_bp: _Optional[float] = ...) -> None: ...

class ReviewAction(_message.Message):
    __slots__ = ("name", "request_id", "action", "actor", "actor_role", "reason_code", "text", "override_terms", "state_before", "state_after", "override_pending", "second_approval_reasons", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_TERMS_FIELD_NUMBER: _ClassVar[int]
    STATE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    STATE_AFTER_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_PENDING_FIELD_NUMBER: _ClassVar[int]
    SECOND_APPROVAL_REASONS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    action: ReviewActionType
    actor: str
    actor_role: str
    reason_code: str
    text: str
    override_terms: OverrideTerms
    state_before: DecisionState
    state_after: DecisionState
    override_pending: bool
    second_approval_reasons: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ..., action: _Optional[_Union[ReviewActionType, str]] = ..., actor: _Optional[str] = ..., actor_role: _Optional[str] = ..., reason_code: _Optional[str] = ..., text: _Optional[str] = ..., override_terms: _Optional[_Union[OverrideTerms, _Mapping]] = ..., state_before: _Optional[_Union[DecisionState, str]] = ..., state_after: _Optional[_Union[DecisionState, str]] = ..., override_pending: _Optional[bool] = ..., second_approval_reasons: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDecisionsRequest(_message.Message):
    __slots__ = ("lender", "page_size", "page_token", "state", "review_needed", "enterprise", "create_time_from", "create_time_to")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REVIEW_NEEDED_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_TO_FIELD_NUMBER: _ClassVar[int]
    lender: str
    page_size: int
    page_token: str
    state: DecisionState
    review_needed: bool
    enterprise: str
    create_time_from: _timestamp_pb2.Timestamp
    create_time_to: _timestamp_pb2.Timestamp
    def __init__(self, lender: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[DecisionState, str]] = ..., review_needed: _Optional[bool] = ..., enterprise: _Optional[str] = ..., create_time_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDecisionsResponse(_message.Message):
    __slots__ = ("decisions", "next_page_token")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[Decision]
    next_page_token: str
    def __init__(self, decisions: _Optional[_Iterable[_Union[Decision, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListReviewQueueRequest(_message.Message):
    __slots__ = ("lender", "page_size", "page_token")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    lender: str
    page_size: int
    page_token: str
    def __init__(self, lender: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SubmitReviewActionRequest(_message.Message):
    __slots__ = ("request_id", "lender", "decision", "action", "reason_code", "text", "override_terms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LENDER_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_TERMS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    lender: str
    decision: str
    action: ReviewActionType
    reason_code: str
    text: str
    override_terms: OverrideTerms
    def __init__(self, request_id: _Optional[str] = ..., lender: _Optional[str] = ..., decision: _Optional[str] = ..., action: _Optional[_Union[ReviewActionType, str]] = ..., reason_code: _Optional[str] = ..., text: _Optional[str] = ..., override_terms: _Optional[_Union[OverrideTerms, _Mapping]] = ...) -> None: ...

class SubmitReviewActionResponse(_message.Message):
    __slots__ = ("decision", "action")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    action: ReviewAction
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ..., action: _Optional[_Union[ReviewAction, _Mapping]] = ...) -> None: ...

class QuoteLoanTermsRequest(_message.Message):
    __slots__ = ("request_id", "lender", "enterprise", "product", "requested_amount_fen", "tenor_months", "base_rate_bp", "bank_limit_fen", "commitment", "profile_period")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LENDER_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    TENOR_MONTHS_FIELD_NUMBER: _ClassVar[int]
    BASE_RATE_BP_FIELD_NUMBER: _ClassVar[int]
    BANK_LIMIT_FEN_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    PROFILE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    lender: str
    enterprise: str
    product: Product
    requested_amount_fen: int
    tenor_months: int
    base_rate_bp: float
    bank_limit_fen: int
    commitment: str
    profile_period: str
    def __init__(self, request_id: _Optional[str] = ..., lender: _Optional[str] = ..., enterprise: _Optional[str] = ..., product: _Optional[_Union[Product, str]] = ..., requested_amount_fen: _Optional[int] = ..., tenor_months: _Optional[int] = ..., base_rate_bp: _Optional[float] = ..., bank_limit_fen: _Optional[int] = ..., commitment: _Optional[str] = ..., profile_period: _Optional[str] = ...) -> None: ...

class BatchQuoteRequest(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: QuoteLoanTermsRequest
    def __init__(self, quote: _Optional[_Union[QuoteLoanTermsRequest, _Mapping]] = ...) -> None: ...

class BatchQuoteLoanTermsRequest(_message.Message):
    __slots__ = ("lender", "requests", "view")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    lender: str
    requests: _containers.RepeatedCompositeFieldContainer[QuoteLoanTermsRequest]
    view: DecisionView
    def __init__(self, lender: _Optional[str] = ..., requests: _Optional[_Iterable[_Union[QuoteLoanTermsRequest, _Mapping]]] = ..., view: _Optional[_Union[DecisionView, str]] = ...) -> None: ...

class BatchQuoteResult(_message.Message):
    __slots__ = ("decision", "error")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    error: _status_pb2.Status
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class BatchQuoteLoanTermsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchQuoteResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchQuoteResult, _Mapping]]] = ...) -> None: ...

class RatchetStep(_message.Message):
    __slots__ = ("trigger", "step_bp", "text_zh", "text_en")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    STEP_BP_FIELD_NUMBER: _ClassVar[int]
    TEXT_ZH_FIELD_NUMBER: _ClassVar[int]
    TEXT_EN_FIELD_NUMBER: _ClassVar[int]
    trigger: str
    step_bp: float
    text_zh: str
    text_en: str
    def __init__(self, trigger: _Optional[str] = ..., step_bp: _Optional[float] = ..., text_zh: _Optional[str] = ..., text_en: _Optional[str] = ...) -> None: ...

class Covenant(_message.Message):
    __slots__ = ("code", "text_zh", "text_en")
    CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_ZH_FIELD_NUMBER: _ClassVar[int]
    TEXT_EN_FIELD_NUMBER: _ClassVar[int]
    code: str
    text_zh: str
    text_en: str
    def __init__(self, code: _Optional[str] = ..., text_zh: _Optional[str] = ..., text_en: _Optional[str] = ...) -> None: ...

class Conditions(_message.Message):
    __slots__ = ("covenants", "ratchet", "ratchet_cap_bp")
    COVENANTS_FIELD_NUMBER: _ClassVar[int]
    RATCHET_FIELD_NUMBER: _ClassVar[int]
    RATCHET_CAP_BP_FIELD_NUMBER: _ClassVar[int]
    covenants: _containers.RepeatedCompositeFieldContainer[Covenant]
    ratchet: _containers.RepeatedCompositeFieldContainer[RatchetStep]
    ratchet_cap_bp: float
    def __init__(self, covenants: _Optional[_Iterable[_Union[Covenant, _Mapping]]] = ..., ratchet: _Optional[_Iterable[_Union[RatchetStep, _Mapping]]] = ..., ratchet_cap_bp: _Optional[float] = ...) -> None: ...

class TraceStep(_message.Message):
    __slots__ = ("code", "rate_effect_bp", "limit_effect_pct", "limit_effect_fen", "inputs_json", "text_zh", "text_en")
    CODE_FIELD_NUMBER: _ClassVar[int]
    RATE_EFFECT_BP_FIELD_NUMBER: _ClassVar[int]
    LIMIT_EFFECT_PCT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_EFFECT_FEN_FIELD_NUMBER: _ClassVar[int]
    INPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    TEXT_ZH_FIELD_NUMBER: _ClassVar[int]
    TEXT_EN_FIELD_NUMBER: _ClassVar[int]
    code: str
    rate_effect_bp: float
    limit_effect_pct: float
    limit_effect_fen: int
    inputs_json: str
    text_zh: str
    text_en: str
    def __init__(self, code: _Optional[str] = ..., rate_effect_bp: _Optional[float] = ..., limit_effect_pct: _Optional[float] = ..., limit_effect_fen: _Optional[int] = ..., inputs_json: _Optional[str] = ..., text_zh: _Optional[str] = ..., text_en: _Optional[str] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("name", "request_id", "lender", "enterprise", "product", "requested_amount_fen", "tenor_months", "base_rate_bp", "commitment", "eligible", "approved_limit_fen", "rate_adjustment_bp", "final_rate_bp", "conditions", "reasons", "decline_reasons", "manual_review", "review_reasons", "grade", "profile", "pcaf_score", "quality_score", "policy_version", "policy_hash", "create_time", "chain_hash", "profile_age_seconds", "lpr_bp", "lpr_term", "lpr_effective_date", "lpr_confirmed", "base_rate_source", "spread_to_lpr_bp", "bank_limit_fen", "binding_limit", "state", "override_terms", "override_pending", "log_index", "log_merge_delay_seconds")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LENDER_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    TENOR_MONTHS_FIELD_NUMBER: _ClassVar[int]
    BASE_RATE_BP_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    APPROVED_LIMIT_FEN_FIELD_NUMBER: _ClassVar[int]
    RATE_ADJUSTMENT_BP_FIELD_NUMBER: _ClassVar[int]
    FINAL_RATE_BP_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    DECLINE_REASONS_FIELD_NUMBER: _ClassVar[int]
    MANUAL_REVIEW_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REASONS_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PCAF_SCORE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_HASH_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CHAIN_HASH_FIELD_NUMBER: _ClassVar[int]
    PROFILE_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LPR_BP_FIELD_NUMBER: _ClassVar[int]
    LPR_TERM_FIELD_NUMBER: _ClassVar[int]
    LPR_EFFECTIVE_DATE_FIELD_NUMBER: _ClassVar[int]
    LPR_CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    BASE_RATE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    SPREAD_TO_LPR_BP_FIELD_NUMBER: _ClassVar[int]
    BANK_LIMIT_FEN_FIELD_NUMBER: _ClassVar[int]
    BINDING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_TERMS_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_PENDING_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    LOG_MERGE_DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    lender: str
    enterprise: str
    product: Product
    requested_amount_fen: int
    tenor_months: int
    base_rate_bp: float
    commitment: str
    eligible: bool
    approved_limit_fen: int
    rate_adjustment_bp: float
    final_rate_bp: float
    conditions: Conditions
    reasons: _containers.RepeatedCompositeFieldContainer[TraceStep]
    decline_reasons: _containers.RepeatedCompositeFieldContainer[TraceStep]
    manual_review: bool
    review_reasons: _containers.RepeatedScalarFieldContainer[str]
    grade: _common_pb2.CarbonGrade
    profile: str
    pcaf_score: int
    quality_score: float
    policy_version: str
    policy_hash: str
    create_time: _timestamp_pb2.Timestamp
    chain_hash: str
    profile_age_seconds: float
    lpr_bp: float
    lpr_term: str
    lpr_effective_date: str
    lpr_confirmed: bool
    base_rate_source: str
    spread_to_lpr_bp: float
    bank_limit_fen: int
    binding_limit: str
    state: DecisionState
    override_terms: OverrideTerms
    override_pending: bool
    log_index: int
    log_merge_delay_seconds: float
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ..., lender: _Optional[str] = ..., enterprise: _Optional[str] = ..., product: _Optional[_Union[Product, str]] = ..., requested_amount_fen: _Optional[int] = ..., tenor_months: _Optional[int] = ..., base_rate_bp: _Optional[float] = ..., commitment: _Optional[str] = ..., eligible: _Optional[bool] = ..., approved_limit_fen: _Optional[int] = ..., rate_adjustment_bp: _Optional[float] = ..., final_rate_bp: _Optional[float] = ..., conditions: _Optional[_Union[Conditions, _Mapping]] = ..., reasons: _Optional[_Iterable[_Union[TraceStep, _Mapping]]] = ..., decline_reasons: _Optional[_Iterable[_Union[TraceStep, _Mapping]]] = ..., manual_review: _Optional[bool] = ..., review_reasons: _Optional[_Iterable[str]] = ..., grade: _Optional[_Union[_common_pb2.CarbonGrade, _Mapping]] = ..., profile: _Optional[str] = ..., pcaf_score: _Optional[int] = ..., quality_score: _Optional[float] = ..., policy_version: _Optional[str] = ..., policy_hash: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., chain_hash: _Optional[str] = ..., profile_age_seconds: _Optional[float] = ..., lpr_bp: _Optional[float] = ..., lpr_term: _Optional[str] = ..., lpr_effective_date: _Optional[str] = ..., lpr_confirmed: _Optional[bool] = ..., base_rate_source: _Optional[str] = ..., spread_to_lpr_bp: _Optional[float] = ..., bank_limit_fen: _Optional[int] = ..., binding_limit: _Optional[str] = ..., state: _Optional[_Union[DecisionState, str]] = ..., override_terms: _Optional[_Union[OverrideTerms, _Mapping]] = ..., override_pending: _Optional[bool] = ..., log_index: _Optional[int] = ..., log_merge_delay_seconds: _Optional[float] = ...) -> None: ...

class GetDecisionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ExplainDecisionRequest(_message.Message):
    __slots__ = ("name", "pdf_language")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PDF_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    pdf_language: str
    def __init__(self, name: _Optional[str] = ..., pdf_language: _Optional[str] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("decision", "trace", "profile_snapshot", "commitment_snapshot", "policy_hash", "text_zh", "text_en", "html_zh", "html_en", "review_trail", "pdf")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    POLICY_HASH_FIELD_NUMBER: _ClassVar[int]
    TEXT_ZH_FIELD_NUMBER: _ClassVar[int]
    TEXT_EN_FIELD_NUMBER: _ClassVar[int]
    HTML_ZH_FIELD_NUMBER: _ClassVar[int]
    HTML_EN_FIELD_NUMBER: _ClassVar[int]
    REVIEW_TRAIL_FIELD_NUMBER: _ClassVar[int]
    PDF_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    trace: _containers.RepeatedCompositeFieldContainer[TraceStep]
    profile_snapshot: _registry_pb2.CarbonProfile
    commitment_snapshot: _registry_pb2.CommitmentProgress
    policy_hash: str
    text_zh: str
    text_en: str
    html_zh: str
    html_en: str
    review_trail: _containers.RepeatedCompositeFieldContainer[ReviewAction]
    pdf: bytes
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ..., trace: _Optional[_Iterable[_Union[TraceStep, _Mapping]]] = ..., profile_snapshot: _Optional[_Union[_registry_pb2.CarbonProfile, _Mapping]] = ..., commitment_snapshot: _Optional[_Union[_registry_pb2.CommitmentProgress, _Mapping]] = ..., policy_hash: _Optional[str] = ..., text_zh: _Optional[str] = ..., text_en: _Optional[str] = ..., html_zh: _Optional[str] = ..., html_en: _Optional[str] = ..., review_trail: _Optional[_Iterable[_Union[ReviewAction, _Mapping]]] = ..., pdf: _Optional[bytes] = ...) -> None: ...

class ReplayDecisionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ReplayDecisionResponse(_message.Message):
    __slots__ = ("original", "replayed", "reproduced", "differences")
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    REPRODUCED_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    original: Decision
    replayed: Decision
    reproduced: bool
    differences: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, original: _Optional[_Union[Decision, _Mapping]] = ..., replayed: _Optional[_Union[Decision, _Mapping]] = ..., reproduced: _Optional[bool] = ..., differences: _Optional[_Iterable[str]] = ...) -> None: ...

class SimulatePolicyRequest(_message.Message):
    __slots__ = ("lender", "policy_yaml", "top_changes")
    LENDER_FIELD_NUMBER: _ClassVar[int]
    POLICY_YAML_FIELD_NUMBER: _ClassVar[int]
    TOP_CHANGES_FIELD_NUMBER: _ClassVar[int]
    lender: str
    policy_yaml: str
    top_changes: int
    def __init__(self, lender: _Optional[str] = ..., policy_yaml: _Optional[str] = ..., top_changes: _Optional[int] = ...) -> None: ...

class DecisionChange(_message.Message):
    __slots__ = ("decision", "enterprise", "final_rate_bp_before", "final_rate_bp_after", "approved_limit_fen_before", "approved_limit_fen_after", "eligible_before", "eligible_after")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    FINAL_RATE_BP_BEFORE_FIELD_NUMBER: _ClassVar[int]
    FINAL_RATE_BP_AFTER_FIELD_NUMBER: _ClassVar[int]
    APPROVED_LIMIT_FEN_BEFORE_FIELD_NUMBER: _ClassVar[int]
    APPROVED_LIMIT_FEN_AFTER_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_AFTER_FIELD_NUMBER: _ClassVar[int]
    decision: str
    enterprise: str
    final_rate_bp_before: float
    final_rate_bp_after: float
    approved_limit_fen_before: int
    approved_limit_fen_after: int
    eligible_before: bool
    eligible_after: bool
    def __init__(self, decision: _Optional[str] = ..., enterprise: _Optional[str] = ..., final_rate_bp_before: _Optional[float] = ..., final_rate_bp_after: _Optional[float] = ..., approved_limit_fen_before: _Optional[int] = ..., approved_limit_fen_after: _Optional[int] = ..., eligible_before: _Optional[bool] = ..., eligible_after: _Optional[bool] = ...) -> None: ...

class SimulatePolicyResponse(_message.Message):
    __slots__ = ("policy_version", "policy_hash", "decisions", "changed", "eligible_before", "eligible_after", "total_limit_fen_before", "total_limit_fen_after", "weighted_rate_bp_before", "weighted_rate_bp_after", "changes")
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_HASH_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_AFTER_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LIMIT_FEN_BEFORE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LIMIT_FEN_AFTER_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_RATE_BP_BEFORE_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_RATE_BP_AFTER_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    policy_version: str
    policy_hash: str
    decisions: int
    changed: int
    eligible_before: int
    eligible_after: int
    total_limit_fen_before: int
    total_limit_fen_after: int
    weighted_rate_bp_before: float
    weighted_rate_bp_after: float
    changes: _containers.RepeatedCompositeFieldContainer[DecisionChange]
    def __init__(self, policy_version: _Optional[str] = ..., policy_hash: _Optional[str] = ..., decisions: _Optional[int] = ..., changed: _Optional[int] = ..., eligible_before: _Optional[int] = ..., eligible_after: _Optional[int] = ..., total_limit_fen_before: _Optional[int] = ..., total_limit_fen_after: _Optional[int] = ..., weighted_rate_bp_before: _Optional[float] = ..., weighted_rate_bp_after: _Optional[float] = ..., changes: _Optional[_Iterable[_Union[DecisionChange, _Mapping]]] = ...) -> None: ...
