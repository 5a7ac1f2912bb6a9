"""Random arguments to ``recon`` commands: exit 0, 1 or 2, and never a traceback.

The commands run in this process (``reconfigurator.cli.main.run``) against a database holding
a small rack with a few blueprints and executions, so that arguments reach deep code: real
ids and prefixes of them (also ambiguous and upper-case ones), random text, bytes a shell can
pass that are not UTF-8 (surrogate escapes), numbers, IP addresses, options in the wrong
place, SQL-looking text, and random standard input for ``-``. Output is encoded as a real
process encodes it, so text that could not be printed fails here as it would there.

Commands that start servers or loops (``db``, ``run``, ``sim``, ``demo``) are left out, and so
are NUL characters, which no shell can pass in an argument.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from reconfigurator.db.engine import DATABASE_URL_ENV
from reconfigurator.testing import DatabaseServer, fresh_database
from tests.reliability.cli import invoke
from tests.reliability.fuzz import BAD_IPS, BAD_UUIDS, SQL_TEXTS, UNICODE_TEXTS
from tests.reliability.scenarios import seeded_rack
from tests.reliability.stats import ReliabilityStats

pytestmark = pytest.mark.reliability

EXAMPLES = {"short": 200, "soak": 2_000}

#: Placeholders for arguments: a blueprint, a sled, a disk (or pool), or anything.
BP, SLED, DISK, ARG = "<blueprint>", "<sled>", "<disk>", "<arg>"
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("blueprint", "show", BP),
    ("blueprint", "show", BP, "--json"),
    ("blueprint", "export", BP),
    ("blueprint", "diff", BP, BP),
    ("blueprint", "diff", BP, BP, "--json"),
    ("blueprint", "lint", BP),
    ("blueprint", "import", ARG),
    ("blueprint", "delete", BP),
    ("blueprint", "list"),
    ("target", "show"),
    ("target", "set", BP),
    ("target", "set", BP, "--disable"),
    ("target", "set", BP, "--enable"),
    ("sled", "expunge", SLED),
    ("sled", "add", "--disks", ARG),
    ("sled", "add", "--id", SLED),
    ("sled", "list", "--json"),
    ("disk", "add", SLED),
    ("disk", "expunge", DISK),
    ("disk", "list"),
    ("pool", "add-range", ARG, ARG),
    ("pool", "show"),
    ("execute", "--blueprint", BP),
    ("execute", "--missing-rows", ARG),
    ("execute", "--json"),
    ("audit", "--blueprint", BP),
    ("audit", "--missing-rows", ARG, "--json"),
    ("status",),
    ("plan",),
    ("plan", "--set-target"),
)
OPTIONS = ("--json", "--help", "-v", "-vv", "--", "-", "--blueprint", "--enable", "--bogus", "")
NUMBERS = ("0", "-1", "1", "64", "65", "9" * 30, "1e3", "0x10", "３", "NaN")
NOT_UTF8 = ("\udcff", "abc\udc80def", "\udcc3\udca9", "192.0.2.\udcb1")


Ids = dict[str, list[str]]


@pytest.fixture(scope="module")
def rack_database(pg_server: DatabaseServer) -> Iterator[tuple[Engine, Ids]]:
    """A rack with an executed target and a few more blueprints; the ids to draw from."""
    with fresh_database(pg_server) as engine:
        rack = seeded_rack(engine, seed=61)
        for disk in rack.expungeable_disks()[:2]:
            rack.expunge_disk(disk.id)
            rack.plan()
        queries = {
            BP: "SELECT id FROM blueprint ORDER BY id",
            SLED: "SELECT id FROM sled ORDER BY id",
            DISK: "SELECT id FROM physical_disk UNION ALL SELECT pool_id FROM physical_disk",
        }
        with engine.connect() as conn:
            ids = {
                kind: sorted(str(v) for v in conn.execute(text(query)).scalars())
                for kind, query in queries.items()
            }
        yield engine, ids


def arguments(ids: Ids, kind: str) -> st.SearchStrategy[str]:
    """Mostly ids of the kind the argument takes (whole, cut short, upper-cased), else
    anything at all."""
    pool = ids.get(kind) or [i for values in ids.values() for i in values]
    real = st.sampled_from(pool)
    fitting = st.one_of(
        real,
        st.tuples(real, st.integers(1, 36)).map(lambda t: t[0][: t[1]]),
        real.map(str.upper),
    )
    anything = st.one_of(
        st.sampled_from([i for values in ids.values() for i in values]),
        st.sampled_from(BAD_UUIDS),
        st.sampled_from(BAD_IPS),
        st.sampled_from(NUMBERS),
        st.sampled_from(OPTIONS),
        st.sampled_from(NOT_UTF8),
        st.sampled_from(SQL_TEXTS + UNICODE_TEXTS),
        st.text(alphabet=st.characters(exclude_characters="\x00"), max_size=30),
        st.sampled_from(["treat-as-deleted", "fail", "/", ".", "/nonexistent/file.json"]),
    )
    if kind == ARG:
        return anything
    return st.one_of(fitting, fitting, anything)


@st.composite
def command_lines(draw: st.DrawFn, ids: Ids) -> tuple[list[str], bytes]:
    template = draw(st.sampled_from(COMMANDS))
    args = [draw(arguments(ids, part)) if part.startswith("<") else part for part in template]
    if draw(st.integers(0, 4)) == 0:
        args += draw(st.lists(arguments(ids, ARG), min_size=1, max_size=2))
    if draw(st.integers(0, 9)) == 0:
        args.insert(draw(st.integers(0, len(args))), draw(st.sampled_from(OPTIONS)))
    stdin = draw(st.sampled_from([b"", b"{}", b"not json", b"\xff\xfe", b"[" * 1000]))
    return args, stdin


def test_random_arguments_exit_0_1_or_2_and_never_crash(
    rack_database: tuple[Engine, Ids],
    monkeypatch: pytest.MonkeyPatch,
    soak: bool,
    reliability_stats: ReliabilityStats,
) -> None:
    engine, ids = rack_database
    monkeypatch.setenv(DATABASE_URL_ENV, engine.url.render_as_string(hide_password=False))
    examples = EXAMPLES["soak" if soak else "short"]
    codes: Counter[str] = Counter()

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(command_lines(ids))
    def check(case: tuple[list[str], bytes]) -> None:
        args, stdin = case
        result = invoke(*args, stdin=stdin)
        assert result.raised is None, result.describe()
        assert result.code in {0, 1, 2}, result.describe()
        assert "Traceback" not in result.err and "Traceback" not in result.out, result.describe()
        codes[f"exit_{result.code}"] += 1

    check()
    assert sum(codes.values()) >= examples
    # The arguments reach commands that succeed, fail and refuse.
    assert codes["exit_0"] and codes["exit_1"] and codes["exit_2"], codes
    reliability_stats.record("fuzz.cli_arguments", invocations=sum(codes.values()), **codes)
