"""The CarbonRegistry RPCs of retrofit commitments: RegisterCommitment, RecordVerification,
ListCommitments and GetCommitmentProgress. Progress is measured from the registry's own yearly
profiles (registry_service.domain.commitments); this module parses, validates, stores and converts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc
from sqlalchemy import Connection, Engine

from registry_service import convert
from registry_service import convert_commitments as cc
from registry_service.domain.commitments import (
    ProgressPolicy,
    commitment_progress,
    validate_commitment,
    validate_verification,
    with_baseline,
)
from registry_service.domain.deflators import Deflator, packaged_deflator
from registry_service.storage.commitments import CommitmentRepository
from tanxiao.errors import FieldViolation, ValidationError
from tanxiao.registry.v1 import registry_pb2

if TYPE_CHECKING:
    from registry_service.consent_gate import ConsentGate
    from registry_service.storage.enterprises import EnterpriseRepository
    from tanxiao.platform.idempotency import IdempotencyStore

_SERVICE = registry_pb2.DESCRIPTOR.services_by_name["CarbonRegistry"].full_name


class CommitmentRpcs:
    """Mixin of the commitment RPCs for ``CarbonRegistryServicer``; list it before the generated
    servicer base so its methods replace the UNIMPLEMENTED defaults.

    Expects on ``self``: ``engine`` (the registry's SQLAlchemy Engine; ``enterprises.engine`` is used
    when absent), ``idempotency`` (IdempotencyStore: request_id replay in the write's transaction) and
    ``enterprises`` (EnterpriseRepository). ``refresh_profiles(usccs)`` is called before yearly
    profiles are read; it does nothing here and the servicer overrides it to recompute stale profiles.
    """

    if TYPE_CHECKING:
        engine: Engine
        idempotency: IdempotencyStore
        enterprises: EnterpriseRepository
        consent_gate: ConsentGate

    progress_policy: ProgressPolicy = ProgressPolicy()
    deflator: Deflator | None = None  # added value at constant prices; None = the packaged table

    def refresh_profiles(self, usccs: list[str]) -> None:
        """Bring the profiles of ``usccs`` up to date before they are read (no-op by default)."""
        return None

    @property
    def _commitments(self) -> CommitmentRepository:
        repository = self.__dict__.get("_commitment_repository")
        if repository is None:
            engine = getattr(self, "engine", None) or self.enterprises.engine
            repository = self.__dict__["_commitment_repository"] = CommitmentRepository(engine)
        return repository

    def RegisterCommitment(
        self, request: registry_pb2.RegisterCommitmentRequest, context: grpc.ServicerContext
    ) -> registry_pb2.Commitment:
        uscc = convert.parse_enterprise_name(request.parent, "parent")
        today = dt.date.today()
        draft, parse_problems = cc.commitment_from_proto(request.commitment, uscc=uscc)
        _raise_if(cc.merge_date_violations(parse_problems, validate_commitment(draft, today=today)))
        self.enterprises.get(uscc)  # NOT_FOUND before profiles of an unknown enterprise are refreshed
        self.refresh_profiles([uscc])

        def register(conn: Connection) -> registry_pb2.Commitment:
            self.enterprises.get(uscc, connection=conn)
            actuals = self._commitments.yearly_actuals(uscc, connection=conn)
            baseline = actuals.get(draft.baseline_year)
            commitment = draft
            # An incomplete baseline year is no baseline (the domain ignores it too): leave it empty.
            if baseline is not None and baseline.months >= self.progress_policy.complete_months:
                commitment = with_baseline(draft, {draft.baseline_year: baseline})
                # The target may now exceed the baseline.
                _raise_if(validate_commitment(commitment, today=today))
            stored = self._commitments.create(commitment, connection=conn)
            return cc.commitment_to_proto(stored.commitment, stored.create_time)

        return self.idempotency.run(
            f"/{_SERVICE}/RegisterCommitment",
            request.request_id,
            request,
            register,
            registry_pb2.Commitment,
        )

    def RecordVerification(
        self, request: registry_pb2.RecordVerificationRequest, context: grpc.ServicerContext
    ) -> registry_pb2.Commitment:
        uscc, commitment_id = cc.parse_commitment_name(request.name)
        today = dt.date.today()
        verification, parse_problems = cc.verification_from_proto(request.verification)
        # Checks that need no commitment first, so INVALID_ARGUMENT does not wait on NOT_FOUND.
        _raise_if(cc.merge_date_violations(parse_problems, validate_verification(verification, today=today)))

        def record(conn: Connection) -> registry_pb2.Commitment:
            current = self._commitments.get(uscc, commitment_id, connection=conn)
            _raise_if(validate_verification(verification, current.commitment, today=today))
            stored = self._commitments.add_verification(uscc, commitment_id, verification, connection=conn)
            return cc.commitment_to_proto(stored.commitment, stored.create_time)

        return self.idempotency.run(
            f"/{_SERVICE}/RecordVerification",
            request.request_id,
            request,
            record,
            registry_pb2.Commitment,
        )

    def ListCommitments(
        self, request: registry_pb2.ListCommitmentsRequest, context: grpc.ServicerContext
    ) -> registry_pb2.ListCommitmentsResponse:
        uscc = convert.parse_enterprise_name(request.parent, "parent")
        self.consent_gate.require("ListCommitments", [uscc])
        self.enterprises.get(uscc)  # NOT_FOUND for an unknown enterprise, not an empty list
        page = self._commitments.list(uscc, page_size=request.page_size, page_token=request.page_token)
        return registry_pb2.ListCommitmentsResponse(
            commitments=[cc.commitment_to_proto(s.commitment, s.create_time) for s in page.commitments],
            next_page_token=page.next_page_token,
        )

    def GetCommitmentProgress(
        self, request: registry_pb2.GetCommitmentProgressRequest, context: grpc.ServicerContext
    ) -> registry_pb2.CommitmentProgress:
        uscc, commitment_id = cc.parse_commitment_name(request.name)
        self.consent_gate.require("GetCommitmentProgress", [uscc])
        as_of = (
            cc.parse_date(request.as_of_date, "as_of_date") if request.as_of_date.strip() else dt.date.today()
        )
        stored = self._commitments.get(uscc, commitment_id)
        self.refresh_profiles([uscc])
        actuals = self._commitments.yearly_actuals(uscc)
        progress = commitment_progress(
            stored.commitment,
            actuals,
            as_of=as_of,
            policy=self.progress_policy,
            deflator=self.deflator or packaged_deflator(),
        )
        return cc.progress_to_proto(cc.commitment_name(uscc, commitment_id), progress)


def _raise_if(violations: Sequence[FieldViolation]) -> None:
    if violations:
        raise ValidationError.from_violations(violations)
