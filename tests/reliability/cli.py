"""``recon`` in this process, with its output captured and the process left as it was.

Every invocation gets its own stdin (bytes), stdout and stderr, and the ``reconfigurator``
logger's configuration (which the CLI sets) is restored afterwards, so that invocations do
not leak into other tests. Anything that escapes :func:`reconfigurator.cli.main.run` is
returned as ``raised`` instead of propagating, so fuzz tests can report it with the input.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

from reconfigurator.cli.main import run


@dataclass(frozen=True)
class Invocation:
    args: tuple[str, ...]
    code: int | None
    out: str
    err: str
    #: The traceback of an exception that escaped ``run``, if one did.
    raised: str | None = None

    def describe(self) -> str:
        return (
            f"recon {' '.join(repr(a) for a in self.args)} -> {self.code}\n"
            f"stderr: {self.err[-2000:]}\n{self.raised or ''}"
        )


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    logger = logging.getLogger("reconfigurator")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        yield
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def _stream(errors: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8", errors="replace")


def invoke(*args: str, stdin: bytes = b"") -> Invocation:
    """Run ``recon *args``; stdout and stderr encode as a UTF-8 process's would (stdout
    strictly, stderr with backslash escapes), so text a real process could not print fails
    here too."""
    out, err = _stream("strict"), _stream("backslashreplace")
    fake_stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8", errors="surrogateescape")
    saved_stdin = sys.stdin
    raised: str | None = None
    code: int | None = None
    sys.stdin = fake_stdin
    try:
        with _logging_restored(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = run(list(args))
            except BaseException:  # the CLI must not let anything escape
                raised = traceback.format_exc()
    finally:
        sys.stdin = saved_stdin
    return Invocation(tuple(args), code, _text(out), _text(err), raised)
