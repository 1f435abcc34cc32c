"""The scoring service's view of the registry: gRPC calls with deadlines, a profile cache that the
registry's change stream keeps correct (profile_cache.py), and registry failures turned into the
scoring service's own clear errors.

Data flows one way (DESIGN): the scoring service never reads the registry's tables, it asks. When the
registry is down or slow the caller gets UNAVAILABLE / DEADLINE_EXCEEDED saying so; nothing is ever
priced on missing data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import grpc

from scoring_service.profile_cache import ProfileCache, ProfileWatcher
from tanxiao.errors import DeadlineExceeded, FailedPrecondition, NotFound, TanxiaoError, Unavailable
from tanxiao.platform.config import Settings
from tanxiao.platform.metrics import PROFILE_CACHE
from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

T = TypeVar("T")
BATCH_LIMIT = 1000  # BatchGetCarbonProfiles accepts at most this many names


class RegistryClient:
    def __init__(self, channel: grpc.Channel, settings: Settings) -> None:
        self.stub = registry_pb2_grpc.CarbonRegistryStub(channel)
        self.deadline = settings.registry_deadline_seconds
        # The scoring service's own identity at the registry (role "service"); none in development.
        self.metadata = (
            [("authorization", f"Bearer {settings.service_token}")] if settings.service_token else []
        )
        self.cache = ProfileCache(settings.profile_cache_seconds, settings.profile_cache_size)
        self._enterprises: dict[str, registry_pb2.Enterprise] = {}
        self._category_names: dict[str, tuple[str, str]] | None = None

    def start_watching(self, channel: grpc.Channel | None = None) -> Callable[[], None]:
        """Subscribe the profile cache to the registry's change stream (a background thread); returns
        the stop. Without it nothing is cached. No stream when caching is off (TTL 0). ``channel``: the
        plain channel to the registry (a stream open for hours is no trace; the tracing interceptor
        would also hide the call's cancel), default this client's."""
        if self.cache.ttl <= 0:
            return lambda: None
        stub = registry_pb2_grpc.CarbonRegistryStub(channel) if channel is not None else self.stub
        return ProfileWatcher(stub, self.metadata, self.cache).start(wait_seconds=self.deadline).stop

    def enterprise(self, uscc: str) -> registry_pb2.Enterprise:
        request = registry_pb2.GetEnterpriseRequest(name=f"enterprises/{uscc}")
        return self._call(
            "GetEnterprise",
            lambda: self.stub.GetEnterprise(request, timeout=self.deadline, metadata=self.metadata),
        )

    def profile(self, uscc: str, period: str) -> registry_pb2.CarbonProfile:
        (profile,) = self.profiles([(uscc, period)])
        return profile

    def profiles(self, keys: Sequence[tuple[str, str]]) -> list[registry_pb2.CarbonProfile]:
        return [profile for profile, _ in self.profiles_with_age(keys)]

    def profiles_with_age(
        self, keys: Sequence[tuple[str, str]]
    ) -> list[tuple[registry_pb2.CarbonProfile, float]]:
        """(profile, age in seconds) in ``keys`` order: cached ones reused (age > 0), the rest fetched
        in batches (age 0). NotFound when one does not exist."""
        found = self.existing_profiles_with_age(keys, allow_missing=False)
        return [f for f in found if f is not None]

    def existing_profiles_with_age(
        self, keys: Sequence[tuple[str, str]], *, allow_missing: bool = True
    ) -> list[tuple[registry_pb2.CarbonProfile, float] | None]:
        """``profiles_with_age`` with None for a profile the registry does not have (a batch of
        quotes fails only the requests on it)."""
        names = [f"enterprises/{u}/profiles/{p}" for u, p in keys]
        ticket = self.cache.ticket()  # before anything is read: a change during the fetch voids it
        found = {n: c for n in names if (c := self.cache.get(n)) is not None}
        missing = sorted({n for n in names if n not in found})
        PROFILE_CACHE.labels("hit").inc(len(found))
        PROFILE_CACHE.labels("miss").inc(len(missing))
        for start in range(0, len(missing), BATCH_LIMIT):
            request = registry_pb2.BatchGetCarbonProfilesRequest(
                names=missing[start : start + BATCH_LIMIT], allow_missing=allow_missing
            )
            response = self._call(
                "BatchGetCarbonProfiles",
                lambda request=request: self.stub.BatchGetCarbonProfiles(
                    request, timeout=self.deadline * 5, metadata=self.metadata
                ),
            )
            self.cache.put_all(response.profiles, response.profile_changes_through, ticket)
            for profile in response.profiles:
                found[profile.name] = (profile, 0.0)
        return [found.get(n) for n in names]

    def available_profiles(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], registry_pb2.CarbonProfile]:
        """The profiles that exist among ``keys`` (reports: a borrower without data is not an error)."""
        names = sorted({f"enterprises/{u}/profiles/{p}" for u, p in keys})
        found: dict[tuple[str, str], registry_pb2.CarbonProfile] = {}
        for start in range(0, len(names), BATCH_LIMIT):
            request = registry_pb2.BatchGetCarbonProfilesRequest(
                names=names[start : start + BATCH_LIMIT], allow_missing=True
            )
            response = self._call(
                "BatchGetCarbonProfiles",
                lambda request=request: self.stub.BatchGetCarbonProfiles(
                    request, timeout=self.deadline * 5, metadata=self.metadata
                ),
            )
            found.update({(p.uscc, p.period): p for p in response.profiles})
        return found

    def enterprises(self, usccs: Sequence[str]) -> dict[str, registry_pb2.Enterprise]:
        """Enterprises by USCC (cached: names and codes change rarely); unknown ones are left out."""
        out = {}
        for uscc in sorted(set(usccs)):
            if uscc not in self._enterprises:
                try:
                    self._enterprises[uscc] = self.enterprise(uscc)
                except NotFound:
                    continue
            out[uscc] = self._enterprises[uscc]
        return out

    def category_names(self) -> dict[str, tuple[str, str]]:
        """Data-category code -> (zh, en) name from the registry's current catalogue (ListDataCategories),
        read once and kept (names do not change within a catalogue). An unreachable registry gives an
        empty mapping, not cached, so that an explanation still renders (with codes)."""
        if self._category_names is None:
            try:
                response = self._call(
                    "ListDataCategories",
                    lambda: self.stub.ListDataCategories(
                        registry_pb2.ListDataCategoriesRequest(),
                        timeout=self.deadline,
                        metadata=self.metadata,
                    ),
                )
            except TanxiaoError:
                return {}
            self._category_names = {c.code: (c.name_zh, c.name_en) for c in response.categories}
        return self._category_names

    def commitment(self, name: str) -> tuple[registry_pb2.Commitment, registry_pb2.CommitmentProgress]:
        """The commitment and its progress measured today."""
        parent = name.rsplit("/commitments/", 1)[0]
        progress = self._call(
            "GetCommitmentProgress",
            lambda: self.stub.GetCommitmentProgress(
                registry_pb2.GetCommitmentProgressRequest(name=name),
                timeout=self.deadline,
                metadata=self.metadata,
            ),
        )
        token = ""
        while True:
            page = self._call(
                "ListCommitments",
                lambda token=token: self.stub.ListCommitments(
                    registry_pb2.ListCommitmentsRequest(parent=parent, page_size=1000, page_token=token),
                    timeout=self.deadline,
                    metadata=self.metadata,
                ),
            )
            for commitment in page.commitments:
                if commitment.name == name:
                    return commitment, progress
            if not page.next_page_token:
                raise NotFound(f"commitment {name} not found", reason="COMMITMENT_NOT_FOUND")
            token = page.next_page_token

    def _call(self, method: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except grpc.RpcError as exc:
            raise _translated(method, exc) from exc


def _translated(method: str, exc: grpc.RpcError) -> TanxiaoError:
    code, details = exc.code(), exc.details() or ""  # type: ignore[attr-defined]
    if code == grpc.StatusCode.UNAVAILABLE:
        return Unavailable(
            f"the carbon registry is unavailable ({method}): {details}; no quote is made without its data",
            reason="REGISTRY_UNAVAILABLE",
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(
            f"the carbon registry did not answer {method} in time; no quote is made without its data",
            reason="REGISTRY_DEADLINE_EXCEEDED",
        )
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(details or f"not found in the registry ({method})", reason="REGISTRY_NOT_FOUND")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return FailedPrecondition(f"the registry refused {method}: {details}", reason="REGISTRY_REFUSED")
    return Unavailable(f"the carbon registry failed {method}: {code.name} {details}", reason="REGISTRY_ERROR")
