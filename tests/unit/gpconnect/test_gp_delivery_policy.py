"""Backoff with full jitter and the per-practice circuit breaker (pure)."""

from __future__ import annotations

import random

import pytest

from services.gpconnect.domain.delivery_policy import BreakerState, CircuitBreaker, RetryPolicy


@pytest.mark.parametrize(("attempts", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (10, 30.0)])
def test_the_backoff_ceiling_doubles_per_attempt_up_to_the_cap(attempts, ceiling):
    policy = RetryPolicy(max_attempts=10, base_seconds=0.5, cap_seconds=30.0)
    delays = [policy.delay(attempts, random.Random(seed)) for seed in range(200)]
    assert max(delays) <= ceiling
    assert max(delays) > ceiling * 0.8  # full jitter spreads over the whole range
    assert min(delays) < ceiling * 0.2


def test_jitter_is_reproducible_from_the_random_source():
    policy = RetryPolicy()
    assert policy.delay(3, random.Random(7)) == policy.delay(3, random.Random(7))


@pytest.mark.parametrize(("attempts", "exhausted"), [(1, False), (7, False), (8, True), (9, True)])
def test_the_retry_budget_is_the_number_of_attempts(attempts, exhausted):
    assert RetryPolicy(max_attempts=8).exhausted(attempts) is exhausted


def test_a_policy_with_no_attempts_is_refused():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_the_breaker_opens_after_consecutive_failures_and_refuses_calls():
    breaker = CircuitBreaker(failure_threshold=3, open_seconds=10)
    for _ in range(3):
        assert breaker.allow(0.0)
        breaker.record_failure(0.0)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(5.0)
    assert breaker.retry_at(5.0) == 10.0


def test_a_success_resets_the_failure_count():
    breaker = CircuitBreaker(failure_threshold=3)
    breaker.record_failure(0.0)
    breaker.record_failure(0.0)
    breaker.record_success()
    breaker.record_failure(0.0)
    assert breaker.state is BreakerState.CLOSED


def test_after_the_open_period_one_trial_call_is_let_through():
    breaker = CircuitBreaker(failure_threshold=1, open_seconds=10)
    breaker.record_failure(0.0)
    assert breaker.allow(10.0)
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow(10.1)  # only one trial at a time


def test_a_failed_trial_opens_the_circuit_again_and_a_good_one_closes_it():
    breaker = CircuitBreaker(failure_threshold=1, open_seconds=10)
    breaker.record_failure(0.0)
    assert breaker.allow(10.0)
    breaker.record_failure(10.0)
    assert breaker.state is BreakerState.OPEN and not breaker.allow(15.0)
    assert breaker.allow(20.0)
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow(20.0)


def test_a_success_that_started_before_the_circuit_opened_does_not_close_it():
    breaker = CircuitBreaker(failure_threshold=1, open_seconds=10)
    breaker.record_failure(0.0)
    breaker.record_success()
    assert breaker.state is BreakerState.OPEN
