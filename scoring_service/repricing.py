"""Repricing a lender's book and its watch list (RepriceDecisions, ListWatchList).

The book is the lender's BOOKED decisions (their review state). Repricing asks the registry for the
current profile of the same period and the commitment's current progress (so the ratchet and the
verified-tonne discount apply as of today) and uses today's LPR; the new decision names the original
(``reprices``) and is stored in the decision log like any quote, unless it is a dry run.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from typing import Any

from loan_rules import Product
from scoring_service.convert import decision_to_proto, parse_decision_name
from scoring_service.inputs import LENDER, QuoteRequest
from scoring_service.pricing import Pricer
from scoring_service.reviews import ReviewService, _policy
from scoring_service.storage.decisions import DecisionStore, StoredDecision
from tanxiao.errors import FieldViolation, NotFound, ValidationError
from tanxiao.scoring.v1 import scoring_pb2

MAX_BOOK = 10_000


def period_end(period: str) -> dt.date:
    """The last day a profile period covers: "2025" -> 2025-12-31, "R12-2025-06" -> 2025-06-30."""
    if period.startswith("R12-"):
        year, month = int(period[4:8]), int(period[9:11])
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    return dt.date(int(period), 12, 31)


class Repricer:
    def __init__(self, pricer: Pricer, store: DecisionStore, reviews: ReviewService) -> None:
        self.pricer = pricer
        self.store = store
        self.reviews = reviews

    def _book(self, lender: str, decision: str) -> list[StoredDecision]:
        if decision:
            stored = self.store.get(parse_decision_name(decision, "decision"))
            if stored.lender != lender:
                raise NotFound(f"decision {decision!r} not found", reason="DECISION_NOT_FOUND")
            return [stored]
        missing = self.reviews.reviews.unindexed(lender)
        if missing:
            self.reviews.index([self.store.get(d) for d in missing])
        page = self.reviews.reviews.page(lender, page_size=MAX_BOOK, state="BOOKED")
        return [self.store.get(d) for d in page.decision_ids]

    def reprice(self, request: scoring_pb2.RepriceDecisionsRequest) -> scoring_pb2.RepriceDecisionsResponse:
        problems = []
        if not LENDER.match(request.lender):
            problems.append(("lender", "must be lenders/{id}"))
        if not request.dry_run and not 0 < len(request.request_id.strip()) <= 80:
            problems.append(("request_id", "required unless dry_run (AIP-155), at most 80 characters"))
        if problems:
            raise ValidationError.from_violations(_violations(problems))
        originals = self._book(request.lender, request.decision)
        quotes = [_requote(s, request.request_id or "dry-run") for s in originals]
        names = [f"decisions/{s.id}" for s in originals]
        repriced = self.pricer.reprice(quotes, names, dry_run=request.dry_run) if quotes else []
        if not request.dry_run:
            self.reviews.index(repriced)
        out = scoring_pb2.RepriceDecisionsResponse(dry_run=request.dry_run)
        for old, new in zip(originals, repriced, strict=True):
            before, after = old.content["terms"], new.content["terms"]
            proto = decision_to_proto(new) if request.dry_run else self.reviews.decision(new)
            if request.dry_run:
                proto.name = ""
            out.repricings.append(
                scoring_pb2.Repricing(
                    original=f"decisions/{old.id}",
                    repriced=proto,
                    final_rate_bp_before=before["final_rate_bp"],
                    final_rate_bp_after=after["final_rate_bp"],
                    approved_limit_fen_before=before["approved_limit_fen"],
                    approved_limit_fen_after=after["approved_limit_fen"],
                    eligible_before=before["eligible"],
                    eligible_after=after["eligible"],
                    changed=(before["final_rate_bp"], before["approved_limit_fen"], before["eligible"])
                    != (after["final_rate_bp"], after["approved_limit_fen"], after["eligible"]),
                )
            )
        return out

    def watch(self, request: scoring_pb2.ListWatchListRequest) -> scoring_pb2.ListWatchListResponse:
        if not LENDER.match(request.lender):
            raise ValidationError.from_violations(_violations([("lender", "must be lenders/{id}")]))
        book = self._book(request.lender, "")
        out = scoring_pb2.ListWatchListResponse()
        if not book:
            return out
        periods = [(s.uscc, s.content["request"]["profile_period"]) for s in book]
        profiles = self.pricer.registry.profiles_with_age(periods)
        today = self.pricer.today()
        for stored, (profile, _age) in zip(book, profiles, strict=True):
            item = _watch_item(stored, profile, today, self._stale_days(stored))
            missed = self._milestones_missed(stored)
            if missed:
                item.flags.append("MILESTONE_MISSED")
            if item.flags:
                out.items.append(item)
        return out

    def _stale_days(self, stored: StoredDecision) -> int | None:
        policy = _policy(self.store.policy_text(stored.content["terms"]["policy_hash"]))
        return policy.stale_after_days

    def _milestones_missed(self, stored: StoredDecision) -> bool:
        name = stored.content["request"].get("commitment") or ""
        then = (stored.content.get("inputs") or {}).get("commitment") or {}
        if not name:
            return False
        _commitment, progress = self.pricer.registry.commitment(name)
        return int(progress.milestones_missed) > int(then.get("milestones_missed") or 0)


def _watch_item(
    stored: StoredDecision, profile: Any, today: dt.date, stale_days: int | None
) -> scoring_pb2.WatchItem:
    then = int(((stored.content.get("profile") or {}).get("grade") or {}).get("grade") or 0)
    now = int(profile.grade.grade)
    age = (today - period_end(profile.period or stored.content["request"]["profile_period"])).days
    item = scoring_pb2.WatchItem(
        decision=f"decisions/{stored.id}",
        enterprise=f"enterprises/{stored.uscc}",
        grade_at_decision=then,
        grade_now=now,
        data_age_days=max(age, 0),
    )
    if now == 0 and then != 0:
        item.flags.append("UNGRADED")
    elif now > then > 0:
        item.flags.append("GRADE_DROPPED")
    flagged = any(f.code == "STALE_DATA" for f in profile.data_quality.flags)
    if flagged or (stale_days is not None and age > stale_days):
        item.flags.append("STALE_DATA")
    return item


def _requote(stored: StoredDecision, request_id: str) -> QuoteRequest:
    r = stored.content["request"]
    new_id = f"reprice-{stored.id}-{request_id}"
    return QuoteRequest(
        request_id=new_id,
        lender=stored.lender,
        uscc=stored.uscc,
        product=Product(r["product"]),
        requested_amount_fen=int(r["requested_amount_fen"]),
        tenor_months=int(r["tenor_months"]),
        base_rate_bp=r.get("base_rate_bp"),
        bank_limit_fen=r.get("bank_limit_fen"),
        commitment=r.get("commitment") or "",
        profile_period=r["profile_period"],
        fingerprint=hashlib.sha256(f"reprice|{stored.id}|{request_id}".encode()).hexdigest(),
    )


def _violations(problems: list[tuple[str, str]]) -> list[FieldViolation]:
    return [FieldViolation(f, d) for f, d in problems]
