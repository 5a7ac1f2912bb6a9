"""``run_transaction``: every write goes through one SERIALIZABLE transaction with retry.

Only conflicts that the database asks the client to retry are retried: serialization
failures (SQLSTATE 40001, which CockroachDB also uses for "restart transaction"), deadlocks
(40P01), and errors whose message asks to restart the transaction. An ambiguous commit
(SQLSTATE 40003, or CockroachDB's "result is ambiguous") is never retried, whatever else its
message says: the transaction may have committed, so it is raised as
:class:`~reconfigurator.errors.CommitOutcomeUnknown` for the caller to confirm. Anything else
is raised at once. Backoff is exponential with full jitter and a cap; the number of
attempts is bounded.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from reconfigurator.db.engine import sqlstate_of
from reconfigurator.errors import CommitOutcomeUnknown, TransactionRetriesExhausted

T = TypeVar("T")

RETRYABLE_SQLSTATES: Final = frozenset({"40001", "40P01"})
#: ``statement_completion_unknown``: CockroachDB's ambiguous commit.
AMBIGUOUS_SQLSTATE: Final = "40003"
AMBIGUOUS_MESSAGE: Final = "result is ambiguous"

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "RetryPolicy",
    "is_ambiguous",
    "is_retryable",
    "run_transaction",
    "sqlstate_of",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry."""

    max_attempts: int = 10
    base_delay_s: float = 0.005
    max_delay_s: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("need 0 <= base_delay_s <= max_delay_s")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter backoff before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return rng.uniform(0, ceiling)


DEFAULT_RETRY_POLICY: Final = RetryPolicy()


def is_ambiguous(exc: BaseException) -> bool:
    """Whether the database could not tell if the transaction committed."""
    if not isinstance(exc, DBAPIError):
        return False
    return sqlstate_of(exc) == AMBIGUOUS_SQLSTATE or AMBIGUOUS_MESSAGE in str(exc.orig).lower()


def is_retryable(exc: BaseException) -> bool:
    """Whether the database asked for this transaction to be retried (never when the commit's
    outcome is unknown, even if the message also says "restart transaction")."""
    if not isinstance(exc, DBAPIError) or is_ambiguous(exc):
        return False
    if sqlstate_of(exc) in RETRYABLE_SQLSTATES:
        return True
    return "restart transaction" in str(exc.orig).lower()


def run_transaction(
    engine: Engine,
    body: Callable[[Connection], T],
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, DBAPIError], None] | None = None,
) -> T:
    """Run ``body(conn)`` in a SERIALIZABLE transaction and commit; retry on conflicts.

    ``body`` may run more than once, so it must not have effects outside the transaction
    other than ones that are safe to repeat. Its return value (from the attempt that
    committed) is returned. ``on_retry(attempt, error)`` is called before each retry.

    Raises :class:`TransactionRetriesExhausted` (chained to the last error) when every
    attempt hit a retryable conflict, :class:`CommitOutcomeUnknown` (chained to the driver's
    error, never retried) when the commit's outcome is ambiguous; any other error propagates
    unchanged.
    """
    jitter = rng or random.Random()
    for attempt in range(1, policy.max_attempts + 1):
        try:
            with engine.connect() as conn:
                conn.execution_options(isolation_level="SERIALIZABLE")
                with conn.begin():
                    result = body(conn)
            return result
        except DBAPIError as exc:
            if is_ambiguous(exc):
                raise CommitOutcomeUnknown(sqlstate_of(exc), _brief(exc)) from exc
            if not is_retryable(exc):
                raise
            if attempt == policy.max_attempts:
                raise TransactionRetriesExhausted(
                    attempt, f"{sqlstate_of(exc) or '?'}: {_brief(exc)}"
                ) from exc
            if on_retry is not None:
                on_retry(attempt, exc)
            delay = policy.delay(attempt, jitter)
            _log.info(
                "retrying transaction after a conflict",
                extra={"attempt": attempt, "sqlstate": sqlstate_of(exc), "delay_s": delay},
            )
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _brief(exc: DBAPIError) -> str:
    text = str(exc.orig).strip().splitlines()
    return text[0] if text else type(exc.orig).__name__
