"""Hypothesis strategies for bad blueprint documents: valid documents from the rack builder,
mutated — wrong types, missing and extra fields, bad UUIDs, IPs and MACs, huge numbers,
unicode, SQL-looking text in the free-text fields — and sometimes damaged as bytes."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any, Final

from hypothesis import strategies as st

from reconfigurator.fixed_data import mac_to_int
from tests.blueprint_builder import RackBuilder

Doc = dict[str, Any]
Path = tuple[str | int, ...]

SQL_TEXTS: Final = (
    "'); DROP TABLE blueprint; --",
    "Robert'); DROP TABLE external_ip;--",
    "x' OR '1'='1",
    '"; DELETE FROM bp_target; --',
    "1; TRUNCATE network_interface CASCADE",
    "'); DROP VIEW service_network_interface; --",
    "$$; DROP SCHEMA public CASCADE; $$",
    "%s %(id)s :name ? $1",
    "\\x00\\'\\\\",
    "/* */ UNION SELECT * FROM pg_shadow --",
    "E'\\\\' || pg_sleep(10) || '",
)
UNICODE_TEXTS: Final = (
    "Ωmega ∑ nexus",
    "日本語のコメント",
    "emoji 🚀🔥👍🏽",
    "\u202etxet desrever",
    "zero\u200bwidth\ufeff",
    "line\u2028separator\u2029",
    "combining e\u0301\u0301\u0301",
    "tab\tnewline\nreturn\r",
    "\u001b[31mred\u001b[0m",
    "[bold]markup[/bold] :rocket:",
    "x" * 4096,
    "y" * 4097,
    "",
)
NUL_TEXTS: Final = ("nul\u0000byte", "\u0000")
BAD_UUIDS: Final = (
    "",
    "0",
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "{6f1e5d1c-3a57-4c39-8e8b-1c5c0e4d9a11}",
    "urn:uuid:6f1e5d1c-3a57-4c39-8e8b-1c5c0e4d9a11",
    "6F1E5D1C-3A57-4C39-8E8B-1C5C0E4D9A11",
    "6f1e5d1c3a574c398e8b1c5c0e4d9a11",
    "6f1e5d1c-3a57-4c39-8e8b-1c5c0e4d9a1",
    "6f1e5d1c-3a57-4c39-8e8b-1c5c0e4d9a111",
    "6g1e5d1c-3a57-4c39-8e8b-1c5c0e4d9a11",
    "６f1e5d1c-3a57-4c39-8e8b-1c5c0e4d9a11",
)
BAD_IPS: Final = (
    "256.0.0.1",
    "192.0.2",
    "192.0.2.1/24",
    "192.0.2.1 ",
    " 192.0.2.1",
    "01.02.03.04",
    "::1",
    "fe80::1%eth0",
    "::ffff:192.0.2.1",
    "2001:db8::1",
    "0.0.0.0",
    "255.255.255.255",
    "１９２.０.２.１",
    "localhost",
)
BAD_MACS: Final = (
    "",
    "a8:40:25:ff:80",
    "a8:40:25:ff:80:01:02",
    "A8:40:25:FF:80:01",
    "a8-40-25-ff-80-01",
    "a840.25ff.8001",
    "zz:zz:zz:zz:zz:zz",
    "00:00:00:00:00:00",
    "ff:ff:ff:ff:ff:ff",
    "a8:40:25:ff:80:0１",
    "a8:40:25:fe:ff:ff",
)
BAD_TIMES: Final = (
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00",
    "2026-01-01 00:00:00Z",
    "2016-12-31T23:59:60Z",
    "2026-01-01T00:00:00.123456789Z",
    "2026-01-01T00:00:00+24:00",
    "1970-01-01T00:00:00Z",
    "now",
    "",
)
NUMBERS: Final = (
    -1,
    0,
    1,
    7,
    8,
    16383,
    16384,
    65535,
    65536,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63),
    10**30,
    1.5,
    -0.0,
    1e308,
    float("inf"),
    float("nan"),
    True,
    False,
)
FIELD_NAMES: Final = (
    "extra",
    "id",
    "kind",
    "ip",
    "disposition",
    "zones",
    "__proto__",
    "constructor",
    "",
    "ID",
)


def base_documents() -> list[Doc]:
    """Valid, lint-clean documents of a few shapes (every zone kind with networking,
    zones without networking, expunged disks and zones, addresses reused)."""
    small = RackBuilder(seed=3)
    sled = small.add_sled(disks=2)
    small.add_zone(sled, "nexus")
    docs = [small.document(comment="small")]

    rack = RackBuilder(seed=5)
    s1, s2, s3 = rack.add_sled(4), rack.add_sled(3), rack.add_sled(2)
    doomed = rack.add_zone(s1, "nexus")
    rack.add_zone(s2, "nexus")
    rack.add_zone(s2, "external_dns", pool=s2.pools[1])
    rack.add_zone(s3, "boundary_ntp")
    rack.add_zone(s1, "boundary_ntp", pool=s1.pools[1])
    rack.add_zone(s1, "crucible", pool=s1.pools[2])
    rack.add_zone(s3, "internal_dns", pool=s3.pools[1])
    rack.add_zone(s2, "cockroach_db", pool=s2.pools[2])
    docs.append(rack.document(comment="rack"))
    rack.build()
    reused = rack.zone_doc(doomed)["zone_type"]
    rack.expunge_disk(s1, s1.pools[0])
    rack.add_zone(
        s2,
        "nexus",
        pool=s2.pools[2],
        ip=reused["external_ip"]["ip"],
        nic_ip=reused["nic"]["ip"],
        mac=mac_to_int(reused["nic"]["mac"]),
    )
    docs.append(rack.document(comment="after an expunged disk"))
    return docs


BASES: Final = base_documents()


def _paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _get(doc: Any, path: Path) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def json_values(depth: int = 2) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=40),
        st.sampled_from(NUMBERS),
        st.sampled_from(SQL_TEXTS + UNICODE_TEXTS),
    )
    if depth == 0:
        return scalars
    inner = json_values(depth - 1)
    return st.one_of(
        scalars,
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=10), inner, max_size=3),
    )


def nasty_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(BAD_UUIDS),
        st.sampled_from(BAD_IPS),
        st.sampled_from(BAD_MACS),
        st.sampled_from(BAD_TIMES),
        st.sampled_from(NUMBERS),
        st.sampled_from(SQL_TEXTS + UNICODE_TEXTS),
        st.uuids().map(str),
    )


#: The free-text fields of a document: the blueprint's creator and comment, NIC names.
def _text_paths(doc: Doc) -> list[Path]:
    paths: list[Path] = [("creator",), ("comment",)]
    for path in _paths(doc):
        if path and path[-1] == "name" and len(path) >= 2 and path[-2] == "nic":
            paths.append(path)
    return paths


def free_texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SQL_TEXTS),
        st.sampled_from(UNICODE_TEXTS),
        st.sampled_from(NUL_TEXTS),
        st.text(max_size=80),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    )


def _replace(draw: st.DrawFn, doc: Any, path: Path, paths: list[Path]) -> Any:
    return _set(doc, path, draw(json_values()))


def _delete(draw: st.DrawFn, doc: Any, path: Path, paths: list[Path]) -> Any:
    if path:
        del _get(doc, path[:-1])[path[-1]]
    return doc


def _add_field(draw: st.DrawFn, doc: Any, path: Path, paths: list[Path]) -> Any:
    target = _get(doc, path)
    if isinstance(target, dict):
        target[draw(st.sampled_from(FIELD_NAMES))] = draw(json_values(1))
    return doc


def _nasty(draw: st.DrawFn, doc: Any, path: Path, paths: list[Path]) -> Any:
    return _set(doc, path, draw(nasty_scalars()))


def _free_text(draw: st.DrawFn, doc: Any, path: Path, paths: list[Path]) -> Any:
    texts = [p for p in _text_paths(doc) if _exists(doc, p)] if isinstance(doc, dict) else []
    if texts:
        doc = _set(doc, draw(st.sampled_from(texts)), draw(free_texts()))
    return doc


def _duplicate(draw: st.DrawFn, doc: Any, path: Path, paths: list[Path]) -> Any:
    target = _get(doc, path)
    if isinstance(target, list) and target:
        target.append(copy.deepcopy(draw(st.sampled_from(target))))
    return doc


def _copy_value(draw: st.DrawFn, doc: Any, path: Path, paths: list[Path]) -> Any:
    """Copy a value to another place with the same key: the same IP, MAC or id twice."""
    same_key = [p for p in paths if path and p and p[-1] == path[-1] and p != path]
    if same_key:
        doc = _set(doc, draw(st.sampled_from(same_key)), copy.deepcopy(_get(doc, path)))
    return doc


def _zone_kind(draw: st.DrawFn, doc: Any, path: Path, paths: list[Path]) -> Any:
    kinds = [p for p in paths if p[-2:] == ("zone_type", "kind")]
    if kinds:
        kind = draw(st.sampled_from(["nexus", "external_dns", "boundary_ntp", "crucible"]))
        doc = _set(doc, draw(st.sampled_from(kinds)), kind)
    return doc


#: Mutations, some weighted by repetition (bad scalars and free text are the most useful).
MUTATIONS: Final = (
    _replace,
    _delete,
    _add_field,
    _nasty,
    _nasty,
    _free_text,
    _free_text,
    _duplicate,
    _copy_value,
    _zone_kind,
)


def _damage(draw: st.DrawFn, raw: bytes) -> bytes:
    """Damage the bytes: cut them short, insert or flip bytes, wrap them, add a BOM."""
    damage = draw(st.sampled_from(["truncate", "insert", "flip", "wrap", "bom"]))
    if damage == "truncate":
        return raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    if damage == "insert":
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    if damage == "flip":
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        return raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :]
    if damage == "wrap":
        return b"[" + raw + b"]"
    return b"\xef\xbb\xbf" + raw


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[Doc | None, bytes]:
    """A mutated document and its bytes (``None`` when the bytes were damaged as bytes)."""
    doc: Any = copy.deepcopy(draw(st.sampled_from(BASES)))
    if draw(st.booleans()):
        doc["id"] = str(draw(st.uuids()))
    for _ in range(draw(st.integers(0, 4))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        doc = draw(st.sampled_from(MUTATIONS))(draw, doc, path, paths)
    raw = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) < 8:
        return doc, raw
    return None, _damage(draw, raw)


def _exists(doc: Any, path: Path) -> bool:
    try:
        _get(doc, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True
