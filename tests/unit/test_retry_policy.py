from __future__ import annotations

import random

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from reconfigurator.db.retry import RetryPolicy, is_retryable, sqlstate_of


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _wrapped(message: str, sqlstate: str | None) -> DBAPIError:
    return OperationalError("SELECT 1", {}, _DriverError(message, sqlstate))


@pytest.mark.parametrize(
    ("message", "sqlstate", "expected"),
    [
        ("could not serialize access", "40001", True),
        ("deadlock detected", "40P01", True),
        ("restart transaction: TransactionRetryWithProtoRefreshError", None, True),
        ("duplicate key value", "23505", False),
        ("server closed the connection unexpectedly", "08006", False),
        ("statement completion unknown", "40003", False),
    ],
)
def test_is_retryable(message: str, sqlstate: str | None, expected: bool) -> None:
    error = _wrapped(message, sqlstate)
    assert is_retryable(error) is expected
    assert sqlstate_of(error) == sqlstate


def test_plain_exceptions_are_not_retryable() -> None:
    assert not is_retryable(ValueError("40001"))


def test_delay_is_jittered_capped_and_growing() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_s=0.01, max_delay_s=0.1)
    rng = random.Random(7)
    for attempt in range(1, 10):
        ceiling = min(0.1, 0.01 * 2 ** (attempt - 1))
        samples = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling / 2  # really spread over the range
    assert RetryPolicy().delay(1, random.Random(3)) == RetryPolicy().delay(1, random.Random(3))


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"base_delay_s": -1}, {"base_delay_s": 2, "max_delay_s": 1}]
)
def test_policy_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
