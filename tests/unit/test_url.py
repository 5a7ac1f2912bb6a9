from __future__ import annotations

import pytest

from reconfigurator.db.url import is_cockroachdb, mask_text, masked, normalize_url
from reconfigurator.errors import ConfigurationError


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@h/d", "postgresql+psycopg"),
        ("postgres://u@h/d", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg"),
        ("cockroachdb://root@h:26257/d", "cockroachdb+psycopg"),
        ("cockroachdb+psycopg://root@h:26257/d", "cockroachdb+psycopg"),
    ],
)
def test_normalize(given: str, driver: str) -> None:
    url = normalize_url(given)
    assert url.drivername == driver
    assert url.database == "d"


@pytest.mark.parametrize("given", ["mysql://u@h/d", "postgresql+psycopg2://u@h/d", "sqlite://"])
def test_other_dialects_refused(given: str) -> None:
    with pytest.raises(ConfigurationError, match="unsupported database URL scheme"):
        normalize_url(given)


def test_garbage_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        normalize_url("::not a url:: pass=secret")
    assert "secret" not in str(info.value)


def test_masking() -> None:
    url = normalize_url("postgresql://alice:s3cret@h:5432/d")
    assert masked(url) == "postgresql+psycopg://alice:***@h:5432/d"
    assert "s3cret" not in repr(url)
    assert mask_text("postgresql://alice:s3cret@h/d") == "postgresql://alice:***@h/d"
    assert mask_text("nonsense") == "<unparseable URL>"


def test_is_cockroachdb() -> None:
    assert is_cockroachdb(normalize_url("cockroachdb://root@h/d"))
    assert not is_cockroachdb(normalize_url("postgresql://root@h/d"))
