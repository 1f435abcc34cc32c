"""The scoring service's profile cache follows the registry's change stream (WatchProfileChanges):
a profile cached for an hour is dropped as soon as the registry changes it, and losing the stream
empties the cache. A real registry (in-process, on SQLite and PostgreSQL) and the scoring service's
own RegistryClient; the end-to-end test goes through a running scoring service."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import grpc
import pytest
from helpers import Registry, error_details, graded_year_records, make_uscc

from registry_service.app import start_registry
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from scoring_service.app import start_scoring
from scoring_service.registry_client import RegistryClient
from tanxiao.platform.auth import create_token
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.registry.v1 import registry_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.scoring.v1 import scoring_pb2_grpc

FIRMS = [make_uscc(700 + i) for i in range(4)]
INTENSITIES = [0.3, 1.0, 2.9, 8.0]
GREEN, OTHER = FIRMS[0], FIRMS[1]
HOUR = 3600.0


def _seed(registry: Registry) -> None:
    EnterpriseRepository(registry.engine).create_many(
        [Enterprise(u, f"湖州化纤{i}有限公司", "2822", "330502") for i, u in enumerate(FIRMS)]
    )
    rows = [r for u, i in zip(FIRMS, INTENSITIES, strict=True) for r in graded_year_records(u, i)]
    registry.stub.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=rows), timeout=30)
    registry.stub.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=60)


def _eventually(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    """Wait for the stream to deliver (a bound on a hang, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def _more_electricity(uscc: str) -> rpb.BatchIngestRecordsRequest:
    """A correction of January's grid electricity (same key, new content): the profile changes."""
    (january,) = [r for r in graded_year_records(uscc, 0.3) if r.external_id == f"e-{uscc}-2022-01"]
    january.quantity *= 3
    return rpb.BatchIngestRecordsRequest(records=[january])


@pytest.fixture
def client(registry: Registry) -> Iterator[RegistryClient]:
    _seed(registry)
    settings = replace(registry.settings, profile_cache_seconds=HOUR)
    client = RegistryClient(registry.channel, settings)
    stop = client.start_watching()
    try:
        _eventually(lambda: client.cache.live, "subscribed")
        yield client
    finally:
        stop()


def _age(client: RegistryClient, uscc: str) -> tuple[rpb.CarbonProfile, float]:
    ((profile, age),) = client.profiles_with_age([(uscc, "2022")])
    return profile, age


def _cached(client: RegistryClient, uscc: str) -> bool:
    return client.cache.get(f"enterprises/{uscc}/profiles/2022") is not None


def test_an_ingest_evicts_that_enterprises_profile_and_the_next_read_sees_the_new_one(
    registry: Registry, client: RegistryClient
) -> None:
    before, age = _age(client, GREEN)
    assert age == 0.0
    _age(client, OTHER)
    again, age = _age(client, GREEN)
    assert age > 0.0 and again == before  # served from the cache

    registry.stub.BatchIngestRecords(_more_electricity(GREEN), timeout=30)
    _eventually(lambda: not _cached(client, GREEN), "GREEN evicted")

    after, age = _age(client, GREEN)
    assert age == 0.0
    assert after.energy_tce > before.energy_tce
    fresh = registry.stub.BatchGetCarbonProfiles(
        rpb.BatchGetCarbonProfilesRequest(names=[after.name]), timeout=30
    ).profiles[0]
    assert after.energy_tce == fresh.energy_tce
    # The other enterprise's profile was not concerned: still cached.
    assert _age(client, OTHER)[1] > 0.0


def test_a_recompute_evicts_every_cached_profile(registry: Registry, client: RegistryClient) -> None:
    for uscc in FIRMS:
        _age(client, uscc)
    assert all(_cached(client, u) for u in FIRMS)
    registry.stub.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=60)
    _eventually(lambda: not any(_cached(client, u) for u in FIRMS), "all evicted")
    assert _age(client, GREEN)[1] == 0.0


def test_losing_the_stream_empties_the_cache_and_caching_resumes_after_resubscribing(
    registry: Registry, client: RegistryClient
) -> None:
    _age(client, GREEN)
    assert len(client.cache) == 1
    address = registry.server.address
    registry.server.stop(None)
    _eventually(lambda: not client.cache.live and len(client.cache) == 0, "cache emptied on loss")

    restarted = start_registry(registry.settings, address)
    try:
        _eventually(lambda: client.cache.live, "subscribed again")
        assert _age(client, GREEN)[1] == 0.0  # nothing survived the loss
        assert _age(client, GREEN)[1] > 0.0  # and caching works again
    finally:
        restarted.stop(None)


def test_a_change_committed_while_unsubscribed_is_never_served_from_the_cache(
    registry: Registry, client: RegistryClient
) -> None:
    before, _ = _age(client, GREEN)
    address = registry.server.address
    registry.server.stop(None)
    _eventually(lambda: not client.cache.live, "stream lost")
    restarted = start_registry(registry.settings, address)
    try:
        # The change lands before the client has subscribed again (it backs off at least 0.2 s): sent on
        # a fresh channel, since the fixture's own may still be backing off from the refused connects.
        with grpc.insecure_channel(address) as channel:
            stub = registry_pb2_grpc.CarbonRegistryStub(channel)
            stub.BatchIngestRecords(_more_electricity(GREEN), timeout=30, wait_for_ready=True)
        _eventually(lambda: client.cache.live, "subscribed again")
        assert _age(client, GREEN)[0].energy_tce > before.energy_tce
    finally:
        restarted.stop(None)


def test_the_stream_resumes_from_a_token_and_refuses_a_bad_one(registry: Registry) -> None:
    _seed(registry)
    first = next(iter(registry.stub.WatchProfileChanges(rpb.WatchProfileChangesRequest(), timeout=10)))
    assert first.resume_token and not first.changes and not first.reset
    registry.stub.BatchIngestRecords(_more_electricity(GREEN), timeout=30)
    registry.stub.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=60)

    stream = registry.stub.WatchProfileChanges(
        rpb.WatchProfileChangesRequest(resume_token=first.resume_token, follow=True), timeout=10
    )
    changes: list[rpb.ProfileChange] = []
    for message in stream:
        assert not message.reset
        changes += message.changes
        if len(changes) >= 2:
            stream.cancel()
            break
    ingest, recompute = changes[:2]
    assert list(ingest.enterprises) == [f"enterprises/{GREEN}"] and not ingest.all_enterprises
    assert recompute.all_enterprises and recompute.recomputed_year == 2022
    assert first.through_sequence < ingest.sequence < recompute.sequence

    # Without `follow` (an HTTP/JSON client's poll): what is recorded after the token, then the end.
    polled = list(
        registry.stub.WatchProfileChanges(
            rpb.WatchProfileChangesRequest(resume_token=first.resume_token), timeout=10
        )
    )
    assert [c.sequence for m in polled for c in m.changes] == [ingest.sequence, recompute.sequence]
    assert polled[-1].through_sequence == recompute.sequence

    bad = registry.stub.WatchProfileChanges(rpb.WatchProfileChangesRequest(resume_token="nonsense"))
    with pytest.raises(grpc.RpcError) as raised:
        next(iter(bad))
    details = error_details(raised.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in details.violations] == ["resume_token"]


def test_only_the_scoring_service_and_admins_may_watch(registry: Registry) -> None:
    settings = replace(registry.settings, auth_required=True)
    secured = start_registry(settings, "127.0.0.1:0")
    try:
        with grpc.insecure_channel(secured.address) as channel:
            stub = registry_pb2_grpc.CarbonRegistryStub(channel)
            for role, tenant, allowed in [
                ("service", "", True),
                ("admin", "", True),
                ("lender", "lenders/huzhou-bank", False),
                ("regulator", "", False),
            ]:
                secret, _ = create_token(registry.engine, role, tenant, description="test")
                call = stub.WatchProfileChanges(
                    rpb.WatchProfileChangesRequest(),
                    metadata=[("authorization", f"Bearer {secret}")],
                    timeout=10,
                )
                if allowed:
                    assert next(iter(call)).resume_token
                    call.cancel()
                else:
                    with pytest.raises(grpc.RpcError) as raised:
                        next(iter(call))
                    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED, role
    finally:
        secured.stop(None)


def test_a_quote_after_a_registry_change_prices_the_new_profile_without_waiting_for_the_age(
    registry: Registry,
) -> None:
    _seed(registry)
    scoring = start_scoring(
        replace(registry.settings, profile_cache_seconds=HOUR),
        "127.0.0.1:0",
        registry_addr=registry.server.address,
    )
    counter = iter(range(1000))

    def quote() -> spb.Decision:
        request = spb.QuoteLoanTermsRequest(
            request_id=f"q-{next(counter)}", lender="lenders/huzhou-bank", enterprise=f"enterprises/{GREEN}",
            product=spb.LOW_CARBON_EXPANSION, requested_amount_fen=300_000_000, tenor_months=12,
            profile_period="2022",
        )  # fmt: skip
        return stub.QuoteLoanTerms(request, timeout=30)

    try:
        with grpc.insecure_channel(scoring.address) as channel:
            stub = scoring_pb2_grpc.LoanScoringStub(channel)
            _eventually(lambda: quote().profile_age_seconds > 0.0, "a quote from the cache")
            registry.stub.BatchIngestRecords(_more_electricity(GREEN), timeout=30)
            # Cached for an hour, yet the next quotes use the new profile once the change arrives.
            _eventually(lambda: quote().profile_age_seconds == 0.0, "a quote on a fresh profile")
            cached_again = quote()
            assert cached_again.profile_age_seconds > 0.0
    finally:
        scoring.stop(None)
