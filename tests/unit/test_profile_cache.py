"""The scoring service's profile cache against the change stream's numbering, without a registry:
nothing cached unless subscribed, a change evicts only what is older than it, a fetch that may have
missed a change already applied is not cached, and losing the stream empties everything."""

from __future__ import annotations

from scoring_service.profile_cache import ProfileCache
from tanxiao.registry.v1 import registry_pb2 as rpb

A, B = "91330502MA2B3C4D5E", "91330502MA2B3C4D6F"


def _profile(uscc: str, period: str = "2024") -> rpb.CarbonProfile:
    return rpb.CarbonProfile(name=f"enterprises/{uscc}/profiles/{period}", uscc=uscc, period=period)


def _changes(
    through: int, *changes: rpb.ProfileChange, reset: bool = False
) -> rpb.WatchProfileChangesResponse:
    return rpb.WatchProfileChangesResponse(changes=changes, through_sequence=through, reset=reset)


def _cached(cache: ProfileCache, uscc: str, period: str = "2024") -> bool:
    return cache.get(f"enterprises/{uscc}/profiles/{period}") is not None


def _live(through: int = 10) -> ProfileCache:
    cache = ProfileCache(3600.0, 100, clock=lambda: 0.0)
    cache.subscribed(through)
    return cache


def test_nothing_is_cached_without_a_subscription() -> None:
    cache = ProfileCache(3600.0, 100)
    assert cache.ticket() is None
    cache.put_all([_profile(A)], 10, cache.ticket())
    assert not _cached(cache, A)


def test_a_change_evicts_the_named_enterprises_profiles_older_than_it() -> None:
    cache = _live()
    cache.put_all([_profile(A), _profile(A, "R12-2025-06"), _profile(B)], 10, cache.ticket())
    cache.apply(_changes(11, rpb.ProfileChange(sequence=11, enterprises=[f"enterprises/{A}"])))
    assert not _cached(cache, A) and not _cached(cache, A, "R12-2025-06")
    assert _cached(cache, B)


def test_a_profile_fetched_after_a_change_survives_its_late_delivery() -> None:
    cache = _live()
    cache.put_all([_profile(A)], 12, cache.ticket())  # the registry had change 12 when it answered
    cache.apply(_changes(12, rpb.ProfileChange(sequence=12, enterprises=[f"enterprises/{A}"])))
    assert _cached(cache, A)


def test_a_fetch_that_may_have_missed_an_applied_change_is_not_cached() -> None:
    cache = _live()
    ticket = cache.ticket()
    cache.apply(_changes(13, rpb.ProfileChange(sequence=13, enterprises=[f"enterprises/{A}"])))
    cache.put_all([_profile(A)], 12, ticket)  # reflects up to 12, but 13 was applied meanwhile
    assert not _cached(cache, A)


def test_a_recompute_or_a_reset_evicts_everything() -> None:
    cache = _live()
    cache.put_all([_profile(A), _profile(B)], 10, cache.ticket())
    cache.apply(_changes(11, rpb.ProfileChange(sequence=11, all_enterprises=True, recomputed_year=2024)))
    assert len(cache) == 0
    cache.put_all([_profile(A)], 11, cache.ticket())
    cache.apply(_changes(11, reset=True))
    assert len(cache) == 0


def test_losing_the_stream_empties_the_cache_and_voids_fetches_in_flight() -> None:
    cache = _live()
    cache.put_all([_profile(A)], 10, cache.ticket())
    ticket = cache.ticket()
    cache.lost()
    assert len(cache) == 0 and cache.ticket() is None
    cache.subscribed(10)
    cache.put_all([_profile(B)], 10, ticket)  # fetched under the lost subscription
    assert not _cached(cache, B)
    cache.put_all([_profile(B)], 10, cache.ticket())
    assert _cached(cache, B)


def test_the_age_stays_a_backstop() -> None:
    now = [0.0]
    cache = ProfileCache(60.0, 100, clock=lambda: now[0])
    cache.subscribed(1)
    cache.put_all([_profile(A)], 1, cache.ticket())
    now[0] = 59.0
    assert _cached(cache, A)
    now[0] = 61.0
    assert not _cached(cache, A)
