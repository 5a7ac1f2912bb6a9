from __future__ import annotations

import contextlib
import random
from unittest import mock

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from reconfigurator.db.retry import (
    RetryPolicy,
    is_ambiguous,
    is_retryable,
    run_transaction,
    sqlstate_of,
)
from reconfigurator.errors import CommitOutcomeUnknown


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


@pytest.mark.parametrize(
    ("message", "sqlstate"),
    [
        ("statement completion unknown", "40003"),
        ("result is ambiguous (error=rpc error: code = Unavailable)", "40003"),
        ("result is ambiguous (error=failed to send RPC)", None),
        # CockroachDB may word an ambiguous result as a retry error: still never retried.
        ("restart transaction: TransactionRetryWithProtoRefreshError: result is ambiguous", None),
        ("Result Is Ambiguous", "40001"),
    ],
)
def test_an_ambiguous_commit_is_never_retryable(message: str, sqlstate: str | None) -> None:
    error = _wrapped(message, sqlstate)
    assert is_ambiguous(error)
    assert not is_retryable(error)


@pytest.mark.parametrize(
    ("message", "sqlstate"),
    [
        ("could not serialize access", "40001"),
        ("deadlock detected", "40P01"),
        ("restart transaction: TransactionRetryWithProtoRefreshError", None),
        ("duplicate key value", "23505"),
        ("server closed the connection unexpectedly", "08006"),
    ],
)
def test_other_errors_are_not_ambiguous(message: str, sqlstate: str | None) -> None:
    assert not is_ambiguous(_wrapped(message, sqlstate))


def test_run_transaction_raises_an_ambiguous_commit_at_once_as_outcome_unknown() -> None:
    calls: list[int] = []

    class _Connection:
        def execution_options(self, **_kwargs: object) -> None:
            return None

        def begin(self) -> contextlib.AbstractContextManager[None]:
            return contextlib.nullcontext()

        def __enter__(self) -> _Connection:
            return self

        def __exit__(self, *_exc: object) -> None:
            return None

    class _Engine:
        def connect(self) -> _Connection:
            return _Connection()

    def body(_conn: object) -> None:
        calls.append(1)
        raise _wrapped("result is ambiguous (error=rpc error)", "40003")

    slept: list[float] = []
    with pytest.raises(CommitOutcomeUnknown) as info:
        run_transaction(_Engine(), body, sleep=slept.append)  # type: ignore[arg-type]
    assert calls == [1]
    assert slept == []
    assert info.value.sqlstate == "40003"
    assert "outcome unknown" in str(info.value)
    assert "next run will confirm" in str(info.value)
    assert isinstance(info.value.__cause__, DBAPIError)


def test_retries_stop_at_the_first_ambiguous_error() -> None:
    """A conflict is retried; the ambiguous error that follows is not."""
    errors = [
        _wrapped("could not serialize access", "40001"),
        _wrapped("result is ambiguous", "40003"),
    ]
    seen: list[int] = []

    def body(_conn: object) -> None:
        seen.append(1)
        raise errors[len(seen) - 1]

    class _Engine:
        def connect(self) -> contextlib.AbstractContextManager[object]:
            conn = mock.MagicMock()
            conn.begin.return_value = contextlib.nullcontext()
            return contextlib.nullcontext(conn)

    with pytest.raises(CommitOutcomeUnknown):
        run_transaction(_Engine(), body, sleep=lambda _s: None)  # type: ignore[arg-type]
    assert len(seen) == 2
