"""run_transaction against a real server: injected and genuine serialization failures."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from reconfigurator.db.retry import RetryPolicy, run_transaction, sqlstate_of
from reconfigurator.errors import TransactionRetriesExhausted

RAISE_40001 = "DO $$ BEGIN RAISE EXCEPTION 'injected conflict' USING ERRCODE = '40001'; END $$"
RAISE_40P01 = "DO $$ BEGIN RAISE EXCEPTION 'injected deadlock' USING ERRCODE = '40P01'; END $$"

FAST = RetryPolicy(max_attempts=5, base_delay_s=0.001, max_delay_s=0.002)


@pytest.fixture
def counter_table(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE ledger (id serial PRIMARY KEY, amount int NOT NULL)"))
    return engine


def test_injected_serialization_failure_is_retried(counter_table: Engine) -> None:
    attempts = Counter[str]()

    def body(conn: Connection) -> int:
        attempts["n"] += 1
        conn.execute(text("INSERT INTO ledger (amount) VALUES (1)"))
        if attempts["n"] <= 2:
            conn.execute(text(RAISE_40001 if attempts["n"] == 1 else RAISE_40P01))
        return attempts["n"]

    retried: list[str | None] = []
    result = run_transaction(
        counter_table,
        body,
        policy=FAST,
        rng=random.Random(1),
        on_retry=lambda _attempt, exc: retried.append(sqlstate_of(exc)),
    )
    assert result == 3
    assert retried == ["40001", "40P01"]
    with counter_table.connect() as conn:
        # The failed attempts were rolled back: exactly one row committed.
        assert conn.execute(text("SELECT count(*) FROM ledger")).scalar() == 1


def test_runs_serializable(counter_table: Engine) -> None:
    level = run_transaction(
        counter_table, lambda conn: conn.execute(text("SHOW transaction_isolation")).scalar()
    )
    assert level == "serializable"


def test_gives_up_after_bound(counter_table: Engine) -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def body(conn: Connection) -> None:
        calls.append(1)
        conn.execute(text(RAISE_40001))

    with pytest.raises(TransactionRetriesExhausted) as info:
        run_transaction(counter_table, body, policy=FAST, sleep=sleeps.append)
    assert len(calls) == FAST.max_attempts
    assert len(sleeps) == FAST.max_attempts - 1
    assert all(0 <= s <= FAST.max_delay_s for s in sleeps)
    assert info.value.attempts == FAST.max_attempts
    assert isinstance(info.value.__cause__, DBAPIError)
    assert sqlstate_of(info.value.__cause__) == "40001"
    assert "40001" in str(info.value)


def test_other_errors_raise_at_once(counter_table: Engine) -> None:
    calls: list[int] = []

    def body(conn: Connection) -> None:
        calls.append(1)
        conn.execute(text("INSERT INTO ledger (id, amount) VALUES (1, 1), (1, 2)"))

    with pytest.raises(IntegrityError):
        run_transaction(counter_table, body, policy=FAST)
    assert calls == [1]


def test_python_errors_roll_back_and_raise_at_once(counter_table: Engine) -> None:
    def body(conn: Connection) -> None:
        conn.execute(text("INSERT INTO ledger (amount) VALUES (5)"))
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_transaction(counter_table, body)
    with counter_table.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger")).scalar() == 0


def test_two_connection_write_skew_is_retried(counter_table: Engine) -> None:
    """Two transactions each read the whole table and then insert: a genuine SSI conflict.

    Both read before either writes (a barrier holds them), so PostgreSQL must abort one with
    40001; the helper retries it and both end up committed, serially.
    """
    barrier = threading.Barrier(2, timeout=10)
    retries: list[str | None] = []
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        first = True

        def body(conn: Connection) -> int:
            nonlocal first
            total = conn.execute(text("SELECT coalesce(sum(amount), 0) FROM ledger")).scalar()
            if first:
                first = False
                barrier.wait()
            conn.execute(text("INSERT INTO ledger (amount) VALUES (:a)"), {"a": int(total) + 1})
            return int(total)

        try:
            results[name] = run_transaction(
                counter_table,
                body,
                policy=RetryPolicy(max_attempts=10, base_delay_s=0.01, max_delay_s=0.05),
                on_retry=lambda _a, exc: retries.append(sqlstate_of(exc)),
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert retries, "expected at least one serialization failure to be retried"
    assert set(retries) <= {"40001"}
    # Serial outcome: one saw 0 rows, the other saw the first one's row.
    assert sorted(results.values()) == [0, 1]
    with counter_table.connect() as conn:
        amounts = sorted(conn.execute(text("SELECT amount FROM ledger")).scalars())
    assert amounts == [1, 2]
