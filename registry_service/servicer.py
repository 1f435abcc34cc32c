"""CarbonRegistry over gRPC: enterprises, the catalog and records. Each method parses the request,
calls the domain or a repository and converts the result; errors are tanxiao.errors types that the
shared interceptor maps to statuses. Profile and commitment RPCs live in their own mixins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import grpc
from sqlalchemy import Connection, Engine

from registry_service import convert
from registry_service.account_rpcs import AccountRpcs
from registry_service.commitment_rpcs import CommitmentRpcs
from registry_service.consent_gate import ConsentGate
from registry_service.domain.catalog import Catalog
from registry_service.domain.enterprise import (
    UPDATABLE_FIELDS,
    normalize_enterprise,
    validate_enterprise,
)
from registry_service.domain.precedence import Precedence
from registry_service.domain.records import period_format_problem
from registry_service.ingest import Ingestor
from registry_service.ingest_workers import IngestWorkers, messages_of, worker_count
from registry_service.profile_change_rpcs import ChangePosition, ProfileChangeRpcs
from registry_service.profile_rpcs import ProfileRpcs
from registry_service.profile_service import ProfileService
from registry_service.storage.catalog import CatalogRepository
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.records import RecordRepository
from tanxiao.errors import FieldViolation, ResourceExhausted, TanxiaoError, ValidationError
from tanxiao.platform.config import Settings
from tanxiao.platform.idempotency import IdempotencyStore
from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

SERVICE = "tanxiao.registry.v1.CarbonRegistry"


class StreamCancelled(TanxiaoError):
    """The client went away mid-stream; nothing was stored."""

    code = "CANCELLED"
    default_reason = "CANCELLED"


class CarbonRegistryServicer(
    AccountRpcs,
    CommitmentRpcs,
    ProfileRpcs,
    ProfileChangeRpcs,
    registry_pb2_grpc.CarbonRegistryServicer,
):
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        catalog: Catalog,
        precedence: Precedence | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.enterprises = EnterpriseRepository(engine)
        self.records = RecordRepository(engine, precedence)
        self.catalogs = CatalogRepository(engine)
        self.ingestor = Ingestor(engine, catalog, settings=settings)
        self.ingest_workers = IngestWorkers(
            worker_count(settings.ingest_workers), catalog, settings.plausible_max_scale
        )
        self.idempotency = IdempotencyStore(engine)
        self.engine = engine
        self.profiles = ProfileService(
            engine, catalog, precedence=self.records.precedence, workers=settings.recompute_workers
        )
        self.consent_gate = ConsentGate(engine)
        self.change_position = ChangePosition(engine)

    def refresh_profiles(self, usccs: list[str]) -> None:
        """Profiles of enterprises with new records are recomputed before anyone reads them."""
        self.profiles.refresh_dirty(usccs)

    # --- enterprises ---------------------------------------------------------------------------------

    def CreateEnterprise(
        self, request: registry_pb2.CreateEnterpriseRequest, context: grpc.ServicerContext
    ) -> registry_pb2.Enterprise:
        enterprise = convert.enterprise_from_proto(request.enterprise)
        _raise_if(validate_enterprise(enterprise))
        enterprise = normalize_enterprise(enterprise)

        def create(conn: Connection) -> registry_pb2.Enterprise:
            return convert.enterprise_to_proto(self.enterprises.create(enterprise, connection=conn))

        return self.idempotency.run(
            f"/{SERVICE}/CreateEnterprise", request.request_id, request, create, registry_pb2.Enterprise
        )

    def GetEnterprise(
        self, request: registry_pb2.GetEnterpriseRequest, context: grpc.ServicerContext
    ) -> registry_pb2.Enterprise:
        uscc = convert.parse_enterprise_name(request.name)
        self.consent_gate.require("GetEnterprise", [uscc])
        return convert.enterprise_answer(self.enterprises.get(uscc))

    def ListEnterprises(
        self, request: registry_pb2.ListEnterprisesRequest, context: grpc.ServicerContext
    ) -> registry_pb2.ListEnterprisesResponse:
        page = self.enterprises.list(
            page_size=request.page_size,
            page_token=request.page_token,
            industry_code_prefix=request.industry_code_prefix.strip(),
            region_code_prefix=request.region_code_prefix.strip(),
            only=self.consent_gate.visible("ListEnterprises"),  # a credit officer: consenting ones
        )
        return registry_pb2.ListEnterprisesResponse(
            enterprises=[convert.enterprise_to_proto(e) for e in page.enterprises],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    def UpdateEnterprise(
        self, request: registry_pb2.UpdateEnterpriseRequest, context: grpc.ServicerContext
    ) -> registry_pb2.Enterprise:
        uscc = _target_uscc(request.enterprise)
        paths = _update_paths(request)
        patch = convert.enterprise_from_proto(request.enterprise)
        _raise_if(validate_enterprise(patch, fields=paths))
        patch = normalize_enterprise(replace(patch, uscc=uscc))

        def update(conn: Connection) -> registry_pb2.Enterprise:
            updated = self.enterprises.update(uscc, patch, paths, connection=conn)
            return convert.enterprise_to_proto(updated)

        return self.idempotency.run(
            f"/{SERVICE}/UpdateEnterprise", request.request_id, request, update, registry_pb2.Enterprise
        )

    # --- catalog -------------------------------------------------------------------------------------

    def ListDataCategories(
        self, request: registry_pb2.ListDataCategoriesRequest, context: grpc.ServicerContext
    ) -> registry_pb2.ListDataCategoriesResponse:
        snapshot = self.catalogs.get(request.catalog_version.strip() or str(self.catalog.version))
        return registry_pb2.ListDataCategoriesResponse(
            categories=[convert.category_to_proto(row) for row in snapshot.categories],
            catalog_version=snapshot.version,
            catalog_hash=snapshot.content_hash,
            grid_factors=[convert.grid_factor_to_proto(row) for row in snapshot.grid_factors],
        )

    # --- records -------------------------------------------------------------------------------------

    def IngestRecords(
        self, request_iterator: Iterator[registry_pb2.IngestRecordsRequest], context: grpc.ServicerContext
    ) -> registry_pb2.IngestRecordsResponse:
        workers = self.ingest_workers
        try:
            with self.ingestor.stream(
                guard=_still_connected(context), write_while_streaming=workers.count > 0
            ) as stream:
                if workers.count:  # checked in worker processes while this one writes
                    workers.feed(stream, request_iterator)
                else:
                    for number, request in enumerate(messages_of(request_iterator)):
                        if number == 0:
                            stream.include_accepted = request.include_accepted_results
                        stream.add(convert.records_frame(request.records))
        except grpc.RpcError:  # the request iterator raises it when the client cancels
            raise StreamCancelled("the client cancelled the stream; nothing was stored") from None
        return convert.ingest_response(stream.summary)

    def BatchIngestRecords(
        self, request: registry_pb2.BatchIngestRecordsRequest, context: grpc.ServicerContext
    ) -> registry_pb2.IngestRecordsResponse:
        limit = self.settings.max_batch_records
        if len(request.records) > limit:
            raise ResourceExhausted(
                f"{len(request.records)} records in one batch; at most {limit} (stream larger loads)",
                violations=[FieldViolation("records", f"at most {limit} records per batch")],
            )
        frame = convert.records_frame(request.records)

        def ingest(conn: Connection) -> registry_pb2.IngestRecordsResponse:
            summary = self.ingestor.ingest_frame(
                frame, include_accepted=True, limit=limit, request_id=request.request_id, connection=conn
            )
            return convert.ingest_response(summary)

        return self.idempotency.run(
            f"/{SERVICE}/BatchIngestRecords",
            request.request_id,
            request,
            ingest,
            registry_pb2.IngestRecordsResponse,
        )

    def ListRecords(
        self, request: registry_pb2.ListRecordsRequest, context: grpc.ServicerContext
    ) -> registry_pb2.ListRecordsResponse:
        uscc = convert.parse_enterprise_name(request.parent, "parent")
        period = request.period.strip()
        if period and (problem := period_format_problem(period)):
            raise ValidationError.for_field("period", problem)
        self.enterprises.get(uscc)  # NOT_FOUND for an unknown enterprise, not an empty list
        page = self.records.page(
            uscc,
            period=period,
            category=request.category.strip().upper(),
            include_history=request.include_history,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return registry_pb2.ListRecordsResponse(
            records=convert.stored_records_to_proto(page.rows), next_page_token=page.next_page_token
        )


def _raise_if(violations: list[FieldViolation]) -> None:
    if violations:
        raise ValidationError.from_violations(violations)


def _target_uscc(enterprise: registry_pb2.Enterprise) -> str:
    """UpdateEnterprise identifies the enterprise by enterprise.name or enterprise.uscc."""
    if enterprise.name:
        uscc = convert.parse_enterprise_name(enterprise.name, "enterprise.name")
        if enterprise.uscc and convert.parse_uscc(enterprise.uscc, "enterprise.uscc") != uscc:
            raise ValidationError.for_field("enterprise.uscc", "does not match enterprise.name")
        return uscc
    if not enterprise.uscc:
        raise ValidationError.for_field("enterprise.name", "enterprise.name or enterprise.uscc is required")
    return convert.parse_uscc(enterprise.uscc, "enterprise.uscc")


def _update_paths(request: registry_pb2.UpdateEnterpriseRequest) -> list[str]:
    paths = list(request.update_mask.paths)
    if not paths:
        raise ValidationError.for_field(
            "update_mask", f"required: name the fields to update ({', '.join(UPDATABLE_FIELDS)})"
        )
    unknown = [p for p in paths if p not in UPDATABLE_FIELDS]
    if unknown:
        raise ValidationError.from_violations(
            FieldViolation(
                "update_mask.paths", f"'{p}' cannot be updated; updatable: {', '.join(UPDATABLE_FIELDS)}"
            )
            for p in unknown
        )
    return paths


def _still_connected(context: grpc.ServicerContext) -> Callable[[], None]:
    """Checked just before the commit: a stream whose client went away must store nothing, even when
    the cancellation surfaced as an ordinary end of the request iterator."""

    def guard() -> None:
        if not context.is_active():
            raise StreamCancelled("the client cancelled the stream; nothing was stored")

    return guard
