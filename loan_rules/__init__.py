"""loan_rules: versioned loan policy files and the evaluator that turns a carbon profile and a loan
request into terms with a trace. A pure library: no I/O besides reading a policy file, no gRPC, no
database. Format, reason codes and worked examples: docs/loan-policy.md.
"""

from loan_rules.batch import FRAME_COLUMNS, RESULT_COLUMNS, evaluate_batch, evaluate_many, to_frame
from loan_rules.evaluator import REASON_CODES, evaluate
from loan_rules.lpr import LprQuote, LprTable, default_lpr_table, load_lpr_table
from loan_rules.model import (
    CarbonLevel,
    CarbonProfileInput,
    CommitmentInput,
    CommitmentStatus,
    Conditions,
    Covenant,
    LoanRequest,
    Product,
    RatchetStep,
    Terms,
    TraceStep,
    TrendDirection,
    VerificationState,
)
from loan_rules.policy import (
    Policy,
    PolicyError,
    PolicyProblem,
    canonical_json,
    content_hash,
    default_policy,
    load_policy,
    parse_policy,
    policy_from_mapping,
)
from loan_rules.sectors import is_two_high

Decision = Terms  # the name the issue uses; a scoring-service decision wraps these terms

__all__ = [
    "FRAME_COLUMNS",
    "REASON_CODES",
    "RESULT_COLUMNS",
    "CarbonLevel",
    "CarbonProfileInput",
    "CommitmentInput",
    "CommitmentStatus",
    "Conditions",
    "Covenant",
    "Decision",
    "LoanRequest",
    "LprQuote",
    "LprTable",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "Product",
    "RatchetStep",
    "Terms",
    "TraceStep",
    "TrendDirection",
    "VerificationState",
    "canonical_json",
    "content_hash",
    "default_lpr_table",
    "default_policy",
    "evaluate",
    "evaluate_batch",
    "evaluate_many",
    "is_two_high",
    "load_lpr_table",
    "load_policy",
    "parse_policy",
    "policy_from_mapping",
    "to_frame",
]
