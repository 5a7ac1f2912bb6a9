"""Storing a blueprint never sends the server one large message.

CockroachDB refuses any client message over 16 MiB by default, and a blueprint stored as one
JSON document would need one as large as the document. Stored as rows, a blueprint goes out
as one COPY per table, streamed in small messages; this holds that to a bound well under the
size of the blueprint's JSON.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from reconfigurator.db.blueprint_store import get_blueprint, insert_blueprint
from reconfigurator.db.retry import run_transaction
from reconfigurator.sim.scale import scaled_state
from reconfigurator.testing import messages_sent

#: The largest message storing a blueprint may send (psycopg streams COPY data in 32 KiB).
BOUND = 64 * 1024


def test_a_blueprint_larger_than_the_bound_is_stored_in_messages_under_it(
    engine: Engine,
) -> None:
    blueprint = scaled_state(3000, seed=11).blueprint
    document_bytes = len(blueprint.to_json().encode())
    # One document would have to travel whole: this one is many times the bound.
    assert document_bytes > 16 * BOUND

    with messages_sent(engine) as messages:
        run_transaction(engine, lambda conn: insert_blueprint(conn, blueprint))

    assert messages, "nothing was recorded"
    copy_data = [m for m in messages if m.type == "CopyData"]
    # The rows did go through the recorded connection, and as COPY data.
    assert sum(m.length for m in copy_data) > document_bytes / 4
    largest = max(messages, key=lambda m: m.length)
    assert largest.length <= BOUND, largest
    # And they come back as the same blueprint.
    stored = run_transaction(engine, lambda conn: get_blueprint(conn, blueprint.id))
    assert stored.to_json() == blueprint.to_json()
