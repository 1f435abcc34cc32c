"""What the pages show, computed from the services' messages: outcome colours, Beijing time, money,
the grade-history chart, portfolio drill-down, the watch list, and the review calls.

Pure functions of messages (no I/O) except the ``review_*``/``submit_review`` helpers, which go through
the user's ``Backend``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request

from tanxiao.enum_names import enum_name
from tanxiao.platform.auth import APPROVER, CREDIT_OFFICER, LENDER, REGULATOR
from tanxiao.portfolio.v1 import portfolio_pb2
from tanxiao.scoring.v1 import scoring_pb2

# China Standard Time has had no daylight saving since 1991: a fixed offset needs no tz database.
BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")

NAVIGATION = {
    CREDIT_OFFICER: ("queue", "enterprises"),
    APPROVER: ("queue",),  # decisions only: no enterprise reads, loans or reports (authz)
    LENDER: ("portfolio", "quote"),
    REGULATOR: ("regulator", "enterprises"),
}
_NAV_KEYS = {"queue": "queue", "enterprises": "enterprises", "portfolio": "nav_portfolio",
             "quote": "quote", "regulator": "nav_regulator"}  # fmt: skip


def navigation(role: str) -> list[tuple[str, str]]:
    """(path, message key) of the role's pages; admins see every page."""
    items = NAVIGATION.get(role) or tuple(dict.fromkeys(k for v in NAVIGATION.values() for k in v))
    return [(f"/{item}", _NAV_KEYS[item]) for item in items]


def beijing_time(timestamp: Any) -> str:
    """A protobuf Timestamp in Beijing time to the second, e.g. "2026-11-30 21:03:48"."""
    if timestamp is None or (timestamp.seconds == 0 and timestamp.nanos == 0):
        return "–"
    moment = dt.datetime.fromtimestamp(timestamp.seconds, tz=dt.UTC).astimezone(BEIJING)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def yuan(amount: float) -> str:
    """Whole yuan with thousands separators ("5,000,000"); money in the messages is yuan."""
    return f"{round(amount):,}"


def rate(bp: float) -> str:
    return f"{bp / 100:.2f}%"


def signed_bp(bp: float) -> str:
    return f"{bp:+.0f} bp"


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def num(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def industry_name(code: str, lang: str) -> str:
    """The GB/T 4754 division's name ("28大类（制造业）"), never a bare code."""
    from scoring_service.portfolio.metrics import group_label

    if not code:
        return "–"
    zh, en = group_label("INDUSTRY_DIVISION", code[:2])
    return f"{code} · {zh if lang == 'zh' else en}"


def region_name(code: str, lang: str) -> str:
    """The GB/T 2260 county with its city ("湖州市吴兴区"), the code beside it; never a bare code alone."""
    from tanxiao.standards import region_name as names

    if not code:
        return "–"
    zh, en = names(code)
    name = zh if lang == "zh" else en
    return f"{name} · {code}" if name != code else code


def lender_name(lender: str, lang: str) -> str:
    """A lender's display name ("湖州银行") for "lenders/huzhou-bank"; its id when not listed."""
    from tanxiao.standards import lender_name as names

    zh, en = names(lender)
    return zh if lang == "zh" else en


def trend_code(profiles: list[Any]) -> str:
    from tanxiao.common.v1 import common_pb2

    return str(common_pb2.TrendDirection.Name(profiles[-1].trend.direction)) if profiles else ""


def scope_name(value: int) -> str:
    from tanxiao.registry.v1 import consent_pb2

    return str(consent_pb2.ConsentScope.Name(value))


def product_name(value: int) -> str:
    return str(scoring_pb2.Product.Name(value))


def status_name(value: int) -> str:
    from tanxiao.registry.v1 import registry_pb2

    return str(registry_pb2.CommitmentStatus.Name(value))


FILTERS = {"beijing_time": beijing_time, "yuan": yuan, "rate": rate, "signed_bp": signed_bp, "pct": pct,
           "num": num, "industry_name": industry_name, "status_name": status_name, "scope_name": scope_name,
           "product_name": product_name,
           "region_name": region_name, "lender_name": lender_name,
           "amount": lambda message, base: amount(message, base)}  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    kind: str  # "approved" (green), "review" (amber) or "declined" (red)
    key: str  # message key of its label


_REVIEWED = {
    "APPROVED": Outcome("approved", "st_approved"),
    "BOOKED": Outcome("approved", "review_state.BOOKED"),
    "OVERRIDDEN": Outcome("approved", "st_overridden"),
    "DECLINED": Outcome("declined", "st_declined"),
    "IN_REVIEW": Outcome("review", "st_review"),
}


def outcome(decision: Any) -> Outcome:
    """Red when declined, amber when a credit officer must review it, green otherwise; once reviewed
    (contracts with a review state), the review's outcome."""
    if "state" in decision.DESCRIPTOR.fields_by_name:
        reviewed = _REVIEWED.get(_enum_name(decision, "state"))
        if reviewed is not None:
            return reviewed
    if not decision.eligible:
        return Outcome("declined", "st_declined")
    if decision.manual_review:
        return Outcome("review", "st_review")
    return Outcome("approved", "st_approved")


# --- grade history chart -------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    y: float
    width: float
    height: float
    colour: str
    value: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) of the axis, from 0
    baseline: float


def grade_chart(profiles: list[Any], width: int = 420, height: int = 200) -> Chart:
    """Bars of the grade per year on an axis from 0 to 5 (taller = worse); ungraded years are gaps."""
    top, bottom, left = 16.0, 28.0, 36.0
    plot = height - top - bottom
    step = (width - left) / max(len(profiles), 1)
    bars = []
    for i, profile in enumerate(profiles):
        grade = profile.grade.grade
        bar_height = plot * grade / 5
        bars.append(
            Bar(
                label=profile.period, x=left + i * step + step * 0.2, y=top + plot - bar_height,
                width=step * 0.6, height=bar_height, colour=profile.grade.colour or "#9e9e9e",
                value=str(grade or "–"), title=f"{profile.period}: {profile.grade.label_zh}",
            )
        )  # fmt: skip
    ticks = [(top + plot - plot * g / 5, str(g)) for g in range(6)]
    return Chart(width, height, bars, ticks, top + plot)


# --- portfolio ----------------------------------------------------------------------------------

# The breakdown dimensions, in the contract's order: the console offers what the service reports.
DIMENSIONS = tuple(value.name for value in portfolio_pb2.Dimension.DESCRIPTOR.values if value.number)


def portfolio_context(report: Any, dim: str, key: str) -> dict[str, Any]:
    """The breakdown to show, the loans behind one of its rows (drill-down) and the watch list."""
    breakdowns = {portfolio_pb2.Dimension.Name(b.dimension): b for b in report.breakdowns}
    dims = [d for d in DIMENSIONS if d in breakdowns]
    dim = dim if dim in breakdowns else (dims[0] if dims else "")
    rows = list(breakdowns[dim].rows) if dim else []
    drilled = [line for line in report.loans if _in_group(line, dim, key)] if key else []
    watch = [line for line in report.loans if line.grade == 5]
    selected = next((row for row in rows if row.key == key), None)
    return {"dims": dims, "dim": dim, "key": key if selected else "", "rows": rows, "drilled": drilled,
            "watch": watch, "selected": selected}  # fmt: skip


def _in_group(line: Any, dim: str, key: str) -> bool:
    from tanxiao.standards.industry import section_of

    if dim == "GRADE":
        return str(line.grade) == key
    if dim == "LEVEL":
        from tanxiao.common.v1 import common_pb2

        return enum_name(common_pb2.CarbonLevel, line.level) == key
    if dim == "INDUSTRY_SECTION":
        return section_of(line.industry_code) == key
    if dim == "INDUSTRY_DIVISION":
        return bool(line.industry_code[:2] == key)
    if dim == "COUNTY":
        return bool(line.region_code == key)
    if dim == "CITY":
        return bool(line.region_code[:4] + "00" == key)
    if dim == "PRODUCT":
        return enum_name(scoring_pb2.Product, line.product) == key
    return False


# --- quotes ---------------------------------------------------------------------------------------

_LENDER = re.compile(r"^lenders/[a-z0-9][a-z0-9-]{0,62}$")


def quote_defaults(request: Request) -> dict[str, str]:
    return {
        "enterprise": request.query_params.get("enterprise", ""), "amount": "5000000", "tenor": "36",
        "base_rate_bp": "", "product": "GENERAL",
        "request_id": f"console-{dt.datetime.now(BEIJING):%Y%m%d%H%M%S}",
    }  # fmt: skip


def quote_request(form: dict[str, str], tenant: str) -> Any:
    """A QuoteLoanTermsRequest from the form; ValueError naming the field. The service validates again."""
    lender = tenant or form.get("lender", "")
    lender = lender if lender.startswith("lenders/") else f"lenders/{lender}"
    if not _LENDER.match(lender):
        raise ValueError("lender")
    enterprise = form.get("enterprise", "").strip().removeprefix("enterprises/")
    product = form.get("product", "GENERAL")
    if product not in scoring_pb2.Product.DESCRIPTOR.values_by_name or product == "PRODUCT_UNSPECIFIED":
        raise ValueError("product")
    try:
        requested, tenor = Decimal(form["amount"]), int(form["tenor"])
        base = float(form["base_rate_bp"]) if form.get("base_rate_bp", "").strip() else None
    except (KeyError, ValueError, InvalidOperation) as exc:
        raise ValueError("amount / tenor / base_rate_bp") from exc
    request = scoring_pb2.QuoteLoanTermsRequest(
        request_id=form.get("request_id", "").strip(), lender=lender, enterprise=f"enterprises/{enterprise}",
        product=scoring_pb2.Product.Value(product), tenor_months=tenor,
    )  # fmt: skip
    if "requested_amount_fen" in request.DESCRIPTOR.fields_by_name:  # money in fen (v1 since issue 12)
        request.requested_amount_fen = int(requested * 100)
    else:
        request.requested_amount_cny = float(requested)
    bank_limit = form.get("bank_limit", "").strip()
    if bank_limit and "bank_limit_fen" in request.DESCRIPTOR.fields_by_name:
        try:
            request.bank_limit_fen = int(Decimal(bank_limit) * 100)
        except InvalidOperation as exc:
            raise ValueError("bank_limit") from exc
    if base is not None:
        request.base_rate_bp = base
    elif not request.DESCRIPTOR.fields_by_name["base_rate_bp"].has_presence:
        raise ValueError("base_rate_bp")
    return request


# --- review (the underwriting issue's RPCs; older builds lack them and the pages say so) ----------

REVIEW_STATES = ("IN_REVIEW", "QUOTED", "APPROVED", "DECLINED", "OVERRIDDEN", "BOOKED")
# Reason codes offered in the review form (the service accepts any UPPER_SNAKE_CASE code).
REVIEW_REASONS = ("CAPACITY_CONFIRMED", "COLLATERAL_ADEQUATE", "DATA_VERIFIED", "POLICY_EXCEPTION",
                  "INSUFFICIENT_CAPACITY", "DATA_DOUBTFUL", "TERMS_ADJUSTED")  # fmt: skip


def has_reviews() -> bool:
    return "SubmitReviewAction" in scoring_pb2.DESCRIPTOR.services_by_name["LoanScoring"].methods_by_name


def amount(message: Any, base: str) -> float:
    """A money field in yuan: ``{base}_fen`` (integer fen) where the contract has it, else ``{base}_cny``."""
    fields = message.DESCRIPTOR.fields_by_name
    if f"{base}_fen" in fields:
        return int(getattr(message, f"{base}_fen")) / 100
    return float(getattr(message, f"{base}_cny"))


def _enum_name(message: Any, field: str) -> str:
    descriptor = message.DESCRIPTOR.fields_by_name[field]
    return str(descriptor.enum_type.values_by_number[getattr(message, field)].name)


@dataclass(frozen=True)
class TrailEntry:
    action: str
    actor: str
    actor_role: str
    reason_code: str
    text: str
    state_before: str
    state_after: str
    pending: bool
    override_limit: float | None  # yuan, of an override; None when the action overrides nothing
    override_rate_bp: int
    time: Any


@dataclass(frozen=True)
class Review:
    state: str
    pending: bool
    trail: list[TrailEntry]
    actions: list[str]  # the actions the form offers for this state and role (the service decides)


def review_view(explanation: Any, role: str) -> Review | None:
    """The decision's review state, trail and the actions to offer; None on builds without reviews."""
    if not has_reviews() or "review_trail" not in explanation.DESCRIPTOR.fields_by_name:
        return None
    decision = explanation.decision
    state = _enum_name(decision, "state")
    trail = [_trail_entry(a) for a in explanation.review_trail]
    return Review(state, decision.override_pending, trail, _actions(state, decision, role))


def _trail_entry(a: Any) -> TrailEntry:
    limit, rate_bp = None, 0
    if a.HasField("override_terms"):
        limit, rate_bp = amount(a.override_terms, "approved_limit"), a.override_terms.final_rate_bp
    return TrailEntry(
        action=_enum_name(a, "action"), actor=a.actor, actor_role=a.actor_role, reason_code=a.reason_code,
        text=a.text, state_before=_enum_name(a, "state_before"), state_after=_enum_name(a, "state_after"),
        pending=a.override_pending, override_limit=limit, override_rate_bp=rate_bp, time=a.create_time,
    )  # fmt: skip


def _actions(state: str, decision: Any, role: str) -> list[str]:
    officer = role in ("credit_officer", "approver", "admin", "")
    if state == "IN_REVIEW" and decision.override_pending:
        return ["CONFIRM_OVERRIDE", "REJECT_OVERRIDE"] if officer else []
    if state == "IN_REVIEW":
        return (["APPROVE"] if decision.eligible else []) + ["DECLINE", "OVERRIDE"] if officer else []
    if state == "QUOTED":
        return ["SUBMIT_FOR_REVIEW"] if role in ("lender", "admin") else []
    if state in ("APPROVED", "OVERRIDDEN"):
        return ["BOOK"] if role in ("lender", "admin") else []
    return []


def submit_review(backend: Any, name: str, form: dict[str, str]) -> Any:
    """One SubmitReviewAction from the review form; ValueError naming the field for unusable input."""
    action = form.get("action", "")
    if action not in scoring_pb2.ReviewActionType.DESCRIPTOR.values_by_name or action.endswith("UNSPECIFIED"):
        raise ValueError("action")
    request = scoring_pb2.SubmitReviewActionRequest(
        request_id=form.get("request_id", ""), lender=form.get("lender", ""), decision=name,
        action=scoring_pb2.ReviewActionType.Value(action), reason_code=form.get("reason_code", ""),
        text=form.get("text", "").strip(),
    )  # fmt: skip
    if action == "OVERRIDE":
        try:
            limit_fen = int(Decimal(form.get("override_limit", "")) * 100)
            rate_bp = float(form.get("override_rate", ""))
        except (InvalidOperation, ValueError) as exc:
            raise ValueError("override_limit / override_rate") from exc
        request.override_terms.approved_limit_fen = limit_fen
        request.override_terms.final_rate_bp = rate_bp
    return backend.call_scoring("SubmitReviewAction", request)


@dataclass(frozen=True)
class QueueItem:
    name: str
    enterprise: str
    amount: float
    state: str
    pending: bool
    reasons: list[str]
    created: Any


def review_queue(backend: Any, tenant: str, state: str) -> list[QueueItem] | None:
    """The lender's review queue, or its decisions in ``state``; None on builds without reviews."""
    if not has_reviews():
        return None
    if state and state in REVIEW_STATES and state != "IN_REVIEW":
        request = scoring_pb2.ListDecisionsRequest(
            lender=tenant, page_size=200, state=scoring_pb2.DecisionState.Value(state)
        )
        listed = backend.call_scoring("ListDecisions", request)
    else:
        listed = backend.call_scoring(
            "ListReviewQueue", scoring_pb2.ListReviewQueueRequest(lender=tenant, page_size=200)
        )
    return [
        QueueItem(
            d.name,
            d.enterprise,
            amount(d, "requested_amount"),
            _enum_name(d, "state"),
            d.override_pending,
            list(d.review_reasons),
            d.create_time,
        )
        for d in listed.decisions
    ]
